-- 0038_complaint_list_speed.sql — GET /complaints (the list and the export)
-- in a few milliseconds over 100 000 complaints, for any filter combination.
--
-- The list read `complaints` through row-level security with its filters in
-- the statement. Under RLS only leakproof conditions become index conditions
-- (docs/design-notes.md), and the policy `in_scope(owner_org_path) OR
-- in_scope(county_org_path)` is two ltree `<@` the planner cannot estimate
-- (it cannot see that they are true for every row when the caller is
-- province-wide). So `q=` (ILIKE), `type=` (array `@>`), `county=` (ltree
-- `<@`), `overdue=` (a computed value) were filters on whatever the plan
-- read: a rare search term or an empty filter read every visible row
-- (office, q=尾矿库: 255 ms; a q matching nothing 245–280 ms; a county unit's
-- list ~35 ms; see tests/bench/complaints_list.sh).
--
-- Now the page is chosen by rectify.complaint_list_ids (below), a SECURITY
-- DEFINER function that applies the caller's visibility itself (the same
-- condition as complaints_read) and every filter, and returns the ids of one
-- page in id order; the service reads those rows through RLS by primary key
-- (`id = ANY (…)`, a leakproof index condition), as the similar complaints
-- do (0034). As the owner, every filter is an ordinary condition the planner
-- may use an index for, and the function plans its statement with the
-- request's values (EXECUTE … USING: an omitted filter folds away, the
-- caller's scope root is a constant):
--   * visibility: nothing for a province-wide caller (scope root ''), else
--     `county_org_id = ANY (sub) OR responsible_org_id = ANY (sub)` with sub
--     = the ids of the caller's org and its descendants — the same rows as
--     the policy's two ltree `<@` (the owner is the responsible org, else
--     the county), but on btree indexes with per-value statistics, so the
--     planner knows a county sees ~5 % of the rows (with the `<@` estimates
--     a unit's list with one more filter walked the whole primary key);
--   * county=: `county_org_id = ANY (the org and its descendants)` (a
--     prefecture gives its counties), intersected with the caller's subtree
--     first (a county outside it leaves only complaints assigned into it);
--   * type=: `pollution_types @> ARRAY[type]`, GIN (a rare type is read
--     through the index, a common one by walking the primary key);
--   * overdue=: written out over the columns, so `true` uses the partial
--     index of open complaints by deadline;
--   * has_repeats=true: a partial index of the complaints in a repeat group;
--   * q=: see below.
-- The plan is made per call (≈1 ms), the price of every filter being usable.
--
-- q= searches, case-insensitively (ILIKE), the content, the entity name,
-- the hand-over number and the address, as before. The trigram index is on
-- one expression, rectify.complaint_search_text() = lower() of the four
-- joined by U+001F, searched with `LIKE lower(pattern)` (what ILIKE does;
-- a term cannot match across two fields unless it contains U+001F, and
-- then the per-field ILIKE is checked on the matches as well). A
-- common term (尾矿库: 4 % of the complaints) is found faster by walking the
-- list order and testing each row; a rare one only through the index. For a
-- province-wide caller the function first probes the index (a bitmap that
-- stops at 200 matches, ~1 ms): fewer than 200 matches in the whole table
-- go straight to the index; otherwise it walks, bounded (at most 2 000
-- candidates passing the other filters, stopping at a page of matches; the
-- test per row is a plain LIKE on the four fields when the term has no
-- letters with case), and asks the index only when the walk found less than
-- a page (as the task list, docs/ledger.md "q= is limit-aware"). Other
-- callers ask the index alone (their visible rows are a few thousand).
--
-- The trigram index is an expression index (no stored copy of the texts, no
-- new audit column); it costs the import one more GIN entry per row.

CREATE FUNCTION rectify.complaint_search_text(p_content text, p_entity text, p_handover text, p_address text)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(p_content || E'\x1f' || coalesce(p_entity, '') || E'\x1f' || p_handover
                       || E'\x1f' || coalesce(p_address, '')) $$;
COMMENT ON FUNCTION rectify.complaint_search_text(text, text, text, text) IS
    'What q= searches in a complaint: lower(content, entity name, hand-over number, address joined by U+001F); trigram-indexed.';

CREATE INDEX complaints_search_trgm ON complaints
    USING gin (rectify.complaint_search_text(content, entity_name, handover_no, address) gin_trgm_ops);

-- has_repeats=true in id order (complaints_repeat_idx is by group).
CREATE INDEX complaints_repeat_id_idx ON complaints (id) WHERE repeat_group_id IS NOT NULL;

-- The ids of one page of the list (p_limit rows after p_after, by id) among
-- the complaints the caller may see. The filters as documented on GET
-- /complaints; NULL = not filtered. p_q is an ILIKE pattern ('%…%', with \
-- escapes) as the service builds it. Returns no ids for an anonymous caller.
CREATE FUNCTION rectify.complaint_list_ids(
        p_campaign bigint, p_batch bigint, p_status text, p_grade text, p_type text,
        p_county bigint, p_responsible bigint, p_overdue boolean, p_verdict text,
        p_has_repeats boolean, p_from date, p_to date, p_q text, p_after bigint, p_limit integer)
    RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    ROWS 50
    SET search_path = pg_catalog, public, pg_temp
    -- A page is read through an index, never by a sequential scan: the
    -- primary key always gives the list order, the probe must be a bitmap
    -- (with a guessed match count the planner may prefer a scan that "stops
    -- after 200 matches", each row costing a lower() of its texts).
    SET enable_seqscan = off
    AS $fn$
DECLARE
    root ltree := rectify.scope_root();
    county ltree;
    sub bigint[];         -- the caller's org and its descendants (NULL: province-wide)
    csub bigint[];        -- county=: the org and its descendants
    vis_county bigint[];  -- visibility: county_org_id = ANY (vis_county)
    vis_resp bigint[];    --             OR responsible_org_id = ANY (vis_resp)
    ids bigint[] := '{}';
    cands integer := 0;
    rec record;
    walk boolean;
    -- $1..$12 as the parameters ($6 through $17), $13 the pattern, $14
    -- after, $15 limit, $16 and $18 visibility (NULL: everything), $17 the
    -- county's subtree
    filters CONSTANT text :=
        ' FROM complaints c'
        ' WHERE ($1::bigint IS NULL OR c.campaign_id = $1)'
        '   AND ($2::bigint IS NULL OR c.batch_id = $2)'
        '   AND ($3::text IS NULL OR c.status = $3)'
        '   AND ($4::text IS NULL OR c.grade = $4)'
        '   AND ($5::text IS NULL OR c.pollution_types @> ARRAY[$5])'
        '   AND ($17::bigint[] IS NULL OR c.county_org_id = ANY ($17))'
        '   AND ($7::bigint IS NULL OR c.responsible_org_id = $7)'
        '   AND ($8::boolean IS NOT TRUE OR (c.status IN (''assigned'', ''investigating'', ''stage_resolved'')'
        '                                    AND c.deadline < current_date))'
        '   AND ($8::boolean IS NOT FALSE OR NOT (c.status IN (''assigned'', ''investigating'', ''stage_resolved'')'
        '                                         AND c.deadline < current_date))'
        '   AND ($9::text IS NULL OR c.verdict = $9)'
        '   AND ($10::boolean IS NOT TRUE OR c.repeat_group_id IS NOT NULL)'
        '   AND ($10::boolean IS NOT FALSE OR c.repeat_group_id IS NULL)'
        '   AND ($11::date IS NULL OR c.received_at >= $11::date)'
        '   AND ($12::date IS NULL OR c.received_at < $12::date + 1)'
        '   AND ($14::bigint IS NULL OR c.id > $14)'
        '   AND ($16::bigint[] IS NULL OR c.county_org_id = ANY ($16) OR c.responsible_org_id = ANY ($18))';
    -- q= through the index. The fields are joined by U+001F: a term without
    -- it (as good as every term) cannot match across two fields, and the
    -- LIKE alone is exactly the ILIKE of each field; one with it is checked
    -- field by field as well.
    hit CONSTANT text := CASE WHEN strpos(p_q, E'\x1f') = 0 THEN
        'rectify.complaint_search_text(c.content, c.entity_name, c.handover_no, c.address) LIKE lower($13)'
        ELSE
        '(rectify.complaint_search_text(c.content, c.entity_name, c.handover_no, c.address) LIKE lower($13)'
        ' AND (c.content ILIKE $13 OR c.entity_name ILIKE $13 OR c.handover_no ILIKE $13'
        '      OR c.address ILIKE $13))' END;
BEGIN
    IF root IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
        RETURN;
    END IF;
    IF root <> '' THEN
        sub := ARRAY(SELECT o.id FROM orgs o WHERE o.path <@ root);
    END IF;
    IF p_county IS NOT NULL THEN
        SELECT o.path INTO county FROM orgs o WHERE o.id = p_county;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        csub := ARRAY(SELECT o.id FROM orgs o WHERE o.path <@ county);
    END IF;
    -- complaints_read is `owner_org_path <@ root OR county_org_path <@ root`:
    -- the owner is the responsible org, else the county, so a complaint is
    -- visible when its county or its responsible org is in `sub` (ids, so
    -- btree indexes and per-value statistics instead of ltree estimates).
    -- A county= filter inside the caller's subtree implies it.
    IF sub IS NOT NULL AND NOT (csub IS NOT NULL AND csub <@ sub) THEN
        vis_county := CASE WHEN csub IS NULL THEN sub
                           ELSE ARRAY(SELECT unnest(csub) INTERSECT SELECT unnest(sub)) END;
        vis_resp := sub;
    END IF;
    IF p_q IS NULL THEN
        RETURN QUERY EXECUTE 'SELECT c.id' || filters || ' ORDER BY c.id LIMIT $15'
            USING p_campaign, p_batch, p_status, p_grade, p_type, p_county, p_responsible,
                  p_overdue, p_verdict, p_has_repeats, p_from, p_to, p_q, p_after, p_limit,
                  vis_county, csub, vis_resp;
        RETURN;
    END IF;
    -- A term with few matches in the whole table (fewer than 200, whatever
    -- the other filters and the caller) goes straight to the index: the
    -- probe is a trigram bitmap that stops after 200 rows. Terms shorter
    -- than three characters have no trigrams (the index cannot narrow them):
    -- no probe.
    walk := sub IS NULL;
    IF walk AND char_length(replace(p_q, '\', '')) - 2 >= 3 THEN
        EXECUTE 'SELECT count(*) FROM (SELECT FROM complaints c WHERE'
                ' rectify.complaint_search_text(c.content, c.entity_name, c.handover_no, c.address)'
                ' LIKE lower($1) LIMIT 200) x'
            INTO cands USING p_q;
        walk := cands >= 200;
        cands := 0;
    END IF;
    IF walk THEN
        -- the bounded walk in list order (a cursor: stops at a page of
        -- matches). Its test is per row, so it should be cheap: when the
        -- term has no letters with case (Chinese, digits, punctuation: every
        -- character ASCII but no letter, general punctuation, U+3000–U+9FFF,
        -- or full-width digits and punctuation — no character there is the
        -- lower case of another), ILIKE matches exactly what LIKE matches,
        -- and LIKE on the stored fields needs no lower() of each row (about
        -- half the cost). The cap is a sub-select so that the planner, not
        -- knowing it, plans for a fraction of the rows — an ordered walk that
        -- stops early — rather than a bitmap scan and sort of 2 000 rows.
        FOR rec IN EXECUTE 'SELECT c.id, '
                           || CASE WHEN p_q !~ '[A-Za-z]' AND p_q !~ '[^\x01-\x7f\u2000-\u206f\u3000-\u9fff\uff01-\uff20\uff3b-\uff40\uff5b-\uff65]'
                                   THEN '(c.content LIKE $13 OR c.entity_name LIKE $13'
                                        ' OR c.handover_no LIKE $13 OR c.address LIKE $13)'
                                   ELSE hit END
                           || ' AS hit' || filters || ' ORDER BY c.id LIMIT (SELECT 2000)'
            USING p_campaign, p_batch, p_status, p_grade, p_type, p_county, p_responsible,
                  p_overdue, p_verdict, p_has_repeats, p_from, p_to, p_q, p_after, p_limit,
                  vis_county, csub, vis_resp
        LOOP
            cands := cands + 1;
            IF rec.hit THEN
                ids := ids || rec.id;
                EXIT WHEN cardinality(ids) >= p_limit;
            END IF;
        END LOOP;
        IF cardinality(ids) >= p_limit OR cands < 2000 THEN
            RETURN QUERY SELECT unnest(ids);
            RETURN;
        END IF;
    END IF;
    IF sub IS NULL AND char_length(replace(p_q, '\', '')) - 2 >= 3 THEN
        -- province-wide: the term is rare (the probe) or sparse in list
        -- order (the walk), so every match through the index, then the page;
        -- OFFSET 0 keeps the planner from walking the list order again
        -- because it guessed the matches many. (A shorter term has no
        -- trigrams: the index cannot narrow it, the list order is as good.)
        RETURN QUERY EXECUTE 'SELECT x.id FROM (SELECT c.id' || filters || ' AND ' || hit
                             || ' OFFSET 0) x ORDER BY x.id LIMIT $15'
            USING p_campaign, p_batch, p_status, p_grade, p_type, p_county, p_responsible,
                  p_overdue, p_verdict, p_has_repeats, p_from, p_to, p_q, p_after, p_limit,
                  vis_county, csub, vis_resp;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT c.id' || filters || ' AND ' || hit || ' ORDER BY c.id LIMIT $15'
        USING p_campaign, p_batch, p_status, p_grade, p_type, p_county, p_responsible,
              p_overdue, p_verdict, p_has_repeats, p_from, p_to, p_q, p_after, p_limit,
              vis_county, csub, vis_resp;
END
$fn$;
REVOKE EXECUTE ON FUNCTION rectify.complaint_list_ids(bigint, bigint, text, text, text, bigint, bigint,
    boolean, text, boolean, date, date, text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complaint_list_ids(bigint, bigint, text, text, text, bigint, bigint,
    boolean, text, boolean, date, date, text, bigint, integer) TO rectify_api;
COMMENT ON FUNCTION rectify.complaint_list_ids(bigint, bigint, text, text, text, bigint, bigint,
    boolean, text, boolean, date, date, text, bigint, integer) IS
    'Ids of one page of GET /complaints (id order, after p_after) among the complaints the caller may see (see 0038). Runs as the owner; the caller reads the rows through RLS.';
