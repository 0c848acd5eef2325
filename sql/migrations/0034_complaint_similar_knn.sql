-- 0034_complaint_similar_knn.sql — GET /complaints/{id}/similar in a few
-- milliseconds over 100 000 complaints.
--
-- 0033 found every candidate with the trigram `%` operator: in a county where
-- complaints read alike (the same subjects, the county's name, the same
-- closing phrases) that is thousands of rows, each scored with similarity()
-- twice, and the caller's statement joined them to every complaint it may
-- see (a hash join over the whole visible table). ~0.35 s over 100 000.
--
-- Now each branch keeps only its nearest candidates, by trigram distance
-- (`<->` = 1 − similarity), walked in distance order by a GiST index:
--   text     the 100 nearest contents in the same county   } similarity
--   entity   the 100 nearest entity names in the same county } >= 0.15
--   nearby   the 100 nearest contents within ~±5 km (lat/lon box) among
--            those with a similar content or entity name
-- at most 300 ids. The service ranks them (0.6 text + 0.3 entity + 0.1
-- place) and returns at most 50, so a complaint in the answer is one of the
-- best 100 of its county by text or by entity name, or a near one: the
-- ranking is exact for everything the user is likely to look at; a row that
-- is neither among the 100 closest texts nor the 100 closest names of its
-- county is not suggested even if its combined score would place it.
--
-- A distance walk over a trigram index of the whole table is no good: GiST
-- trigram signatures of long Chinese texts are nearly full, the inner pages
-- bound nothing, and the first row costs a walk of most of the index
-- (~70 ms, measured). With the county as the index's first column
-- (btree_gist), the walk stays inside the county's subtree (~3–5 ms). These
-- two indexes replace 0030's single-column trigram indexes, whose only user
-- was 0033's function (under row-level security `%` and ILIKE are not
-- leakproof, so the api role's statements never use them as index
-- conditions), so a write still maintains two trigram indexes.
--
-- The threshold (similarity 0.15) is written into the function: no `%`,
-- so the session's pg_trgm.similarity_threshold no longer matters (the
-- service stopped setting it). The function still returns only ids, read
-- through RLS by the caller's statement, which now finds them by primary
-- key (`id = ANY (ARRAY(SELECT …))`: a leakproof index condition) instead
-- of joining them to every visible complaint. Same name and signature as
-- 0033, so a service still running 0033's statement keeps working.
--
-- Measured (tests/bench/complaints_similar.sh, 100 000 complaints, 21
-- counties, 2 cores): the statement 447 ms → 24 ms (p50 over 20 random
-- complaints, office); GET p50 370 ms → 27 ms with one client. For the
-- default limit (10) the answer equals 0033's exhaustive ranking for 100 of
-- 100 random complaints; for limit=50 the overlap was 96.8 % (min 86 %).
--
-- btree_gist is a trusted extension: a non-superuser database owner may
-- create it (like ltree and pg_trgm in 0001).

CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE INDEX complaints_county_content_trgm ON complaints
    USING gist (county_org_id, content gist_trgm_ops);
CREATE INDEX complaints_county_entity_trgm ON complaints
    USING gist (county_org_id, entity_name gist_trgm_ops);
DROP INDEX complaints_content_trgm;
DROP INDEX complaints_entity_trgm;
-- The box: longitude in the index too, so only the box's rows are fetched
-- (with latitude alone, a band of latitude across the whole province).
CREATE INDEX complaints_lat_lon_idx ON complaints (latitude, longitude) WHERE latitude IS NOT NULL;
DROP INDEX complaints_latitude_idx;

CREATE OR REPLACE FUNCTION rectify.complaint_similar_candidates(p_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    ROWS 300
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    -- the 100 nearest first, then the threshold (0.15, distance 0.85): with
    -- `%` in the walk the planner prefers a bitmap scan of every match
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id, c.content <-> x.content AS d FROM complaints c
         WHERE c.county_org_id = x.county_org_id AND c.id <> x.id
         ORDER BY c.content <-> x.content LIMIT 100) t
     WHERE x.id = p_id AND t.d <= 0.85
    UNION
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id, c.entity_name <-> x.entity_name AS d FROM complaints c
         WHERE c.county_org_id = x.county_org_id AND c.id <> x.id
         ORDER BY c.entity_name <-> x.entity_name LIMIT 100) t
     WHERE x.id = p_id AND x.entity_name IS NOT NULL AND t.d <= 0.85
    UNION
    -- similarity() rather than `%` here: the box (latitude index) is the
    -- selective part, the trigram test a filter on its rows
    SELECT t.id FROM complaints x CROSS JOIN LATERAL (
        SELECT c.id FROM complaints c
         WHERE c.latitude BETWEEN x.latitude - 0.05 AND x.latitude + 0.05
           AND c.longitude BETWEEN x.longitude - 0.07 AND x.longitude + 0.07
           AND c.id <> x.id
           AND (similarity(c.content, x.content) >= 0.15
                OR similarity(c.entity_name, x.entity_name) >= 0.15)
         ORDER BY similarity(c.content, x.content) DESC LIMIT 100) t
     WHERE x.id = p_id AND x.latitude IS NOT NULL
    $$;
COMMENT ON FUNCTION rectify.complaint_similar_candidates(bigint) IS
    'Ids of candidate similar complaints (at most 300; see 0034). Runs as the owner; the caller reads the rows through RLS.';
