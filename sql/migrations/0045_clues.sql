-- 0045_clues.sql — accountability leads (问题线索, plan 三(八) and 四(五)):
-- leads transferred by the inspection team or found during rectification,
-- the persons concerned (personal data, encrypted), the transfer to the
-- discipline commission (纪委监委), its handling and the outcome per person,
-- and what of an outcome the office publishes.
--
-- Decisions
-- * Only `office` and `discipline` see clues at all (not admin, not the
--   leading group, never a unit): the RLS policies admit those two roles
--   and the service answers 404 on every clue route to anyone else, so a
--   clue's existence does not leak. Clues are province-wide: no org scope.
-- * Vocabularies (sources, kinds, levels, outcomes, states) are tables with
--   their Chinese labels; the columns reference them.
-- * Links: clue_links holds one target per row. problem_id, task_id and
--   complaint_id are foreign keys; finding_id (inspections' findings) and
--   spot_check_id (acceptance spot checks) are plain ids WITHOUT a foreign
--   key because those tables do not exist yet: a later migration adds the
--   constraints when they land (NOT VALID + VALIDATE if rows exist).
-- * Persons concerned (name, post, org) are personal data handled exactly
--   like complainants' (0030): encrypted by the service (XChaCha20-Poly1305,
--   RECTIFY_PII_KEY, associated data "rectify-pii:v1:clue-person:<ref>:<field>"
--   where ref is a random 128-bit id of the person row), masked copies in
--   clear, no SELECT for rectify_api on the encrypted columns: they come only
--   from rectify.clue_person_secrets(), which admits office and discipline
--   and records the read in pii_reads (audited, so in the hash chain). The
--   audit trigger redacts the encrypted columns.
-- * The level (厅级/处级/科级/other) and the outcome are not sealed: the
--   statistics count them, and they say nothing about who the person is.
-- * Workflow: clue_transitions (state × action → state, role). The write
--   functions below take the move from that table; a move that is not in it
--   is 409, a role that may not take it 403, a stale If-Match 412.
-- * Publication: the office decides what of a concluded clue is public: a
--   public summary it writes, and per person whether the identity (name,
--   post, org) is published (public_name/public_post/public_org, copied in
--   clear at that moment: it is then public information by decision). The
--   public form of a clue is computed by ONE function, rectify.clue_public_json(),
--   used by the internal detail (publication.public, a preview) and the
--   public API alike, so both show exactly the same fields.

-- ---------------------------------------------------------------------------
-- Vocabularies
-- ---------------------------------------------------------------------------
CREATE TABLE clue_sources (code text PRIMARY KEY, label_zh text NOT NULL, sort smallint NOT NULL);
INSERT INTO clue_sources VALUES
    ('inspection_transfer', '督察组移交', 1),
    ('rectification',       '整改中发现', 2),
    ('inspection_finding',  '督导检查发现', 3),
    ('spot_check_faked',    '抽查核验发现弄虚作假', 4),
    ('complaint',           '群众举报', 5);

CREATE TABLE clue_kinds (code text PRIMARY KEY, label_zh text NOT NULL, sort smallint NOT NULL);
INSERT INTO clue_kinds VALUES
    ('ineffective', '整改不力', 1),
    ('shirking',    '敷衍推诿', 2),
    ('overdue',     '整改超时', 3),
    ('superficial', '表面整改', 4),
    ('fake',        '虚假整改', 5),
    ('perfunctory', '敷衍整改', 6);

CREATE TABLE clue_levels (code text PRIMARY KEY, label_zh text NOT NULL, sort smallint NOT NULL);
INSERT INTO clue_levels VALUES
    ('department', '厅级', 1),
    ('division',   '处级', 2),
    ('section',    '科级', 3),
    ('other',      '其他', 4);

CREATE TABLE clue_outcomes (code text PRIMARY KEY, label_zh text NOT NULL, sort smallint NOT NULL);
INSERT INTO clue_outcomes VALUES
    ('party_discipline',   '党纪处分', 1),
    ('government_sanction', '政务处分', 2),
    ('admonishment',       '诫勉谈话', 3),
    ('organisational',     '组织处理', 4),
    ('judicial_transfer',  '移送司法机关', 5),
    ('no_action',          '不予追究', 6);

CREATE TABLE clue_statuses (code text PRIMARY KEY, label_zh text NOT NULL, sort smallint NOT NULL);
INSERT INTO clue_statuses VALUES
    ('registered',          '已登记', 1),
    ('transferred',         '已移送纪委监委', 2),
    ('received',            '纪委监委已受理', 3),
    ('under_investigation', '调查中', 4),
    ('concluded',           '已办结', 5);

-- The workflow: who may move a clue from which state by which action.
CREATE TABLE clue_transitions (
    from_status text NOT NULL REFERENCES clue_statuses (code),
    action      text NOT NULL,
    to_status   text NOT NULL REFERENCES clue_statuses (code),
    role        text NOT NULL CHECK (role IN ('office', 'discipline')),
    PRIMARY KEY (from_status, action)
);
INSERT INTO clue_transitions VALUES
    ('registered',          'transfer',    'transferred',         'office'),
    ('transferred',         'receive',     'received',            'discipline'),
    ('received',            'investigate', 'under_investigation', 'discipline'),
    ('under_investigation', 'conclude',    'concluded',           'discipline');

GRANT SELECT ON clue_sources, clue_kinds, clue_levels, clue_outcomes, clue_statuses,
                clue_transitions TO rectify_api;

-- ---------------------------------------------------------------------------
-- Clues
-- ---------------------------------------------------------------------------
CREATE TABLE clues (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id        bigint      NOT NULL REFERENCES campaigns (id),
    source             text        NOT NULL REFERENCES clue_sources (code),
    kind               text        REFERENCES clue_kinds (code),
    summary            text        NOT NULL CHECK (length(btrim(summary)) BETWEEN 1 AND 5000),
    -- the inspection team's transfer (督察组移交): its letter and date
    team_doc_no        text        CHECK (length(btrim(team_doc_no)) BETWEEN 1 AND 100),
    team_transferred_on date,
    status             text        NOT NULL DEFAULT 'registered' REFERENCES clue_statuses (code),
    -- transfer to the discipline commission (移送纪委监委)
    transferred_on     date,
    transfer_doc_no    text        CHECK (length(btrim(transfer_doc_no)) BETWEEN 1 AND 100),
    received_on        date,
    investigation_started_on date,
    concluded_on       date,
    conclusion         text        CHECK (length(btrim(conclusion)) BETWEEN 1 AND 20000),  -- internal
    -- publication (office's decision)
    public_summary     text        CHECK (length(btrim(public_summary)) BETWEEN 1 AND 5000),
    published_at       timestamptz,
    published_by       bigint,
    created_by         bigint      DEFAULT rectify.user_id(),
    version            integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clues_kind_required CHECK (source <> 'rectification' OR kind IS NOT NULL),
    CONSTRAINT clues_transfer_recorded CHECK (status = 'registered'
        OR (transferred_on IS NOT NULL AND transfer_doc_no IS NOT NULL)),
    CONSTRAINT clues_conclusion_recorded CHECK (status <> 'concluded'
        OR (concluded_on IS NOT NULL AND conclusion IS NOT NULL)),
    CONSTRAINT clues_published_concluded CHECK (published_at IS NULL
        OR (status = 'concluded' AND public_summary IS NOT NULL))
);
COMMENT ON TABLE clues IS 'Accountability leads (问题线索) transferred to the discipline commission, and their outcome.';
CREATE INDEX clues_campaign_idx ON clues (campaign_id, id);
CREATE INDEX clues_published_idx ON clues (published_at) WHERE published_at IS NOT NULL;
CREATE TRIGGER clues_touch BEFORE UPDATE ON clues
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('clues');
ALTER TABLE clues ENABLE ROW LEVEL SECURITY;
CREATE POLICY clues_all ON clues FOR ALL TO rectify_api
    USING (rectify.has_any_role('{office,discipline}'::text[]))
    WITH CHECK (rectify.has_any_role('{office,discipline}'::text[]));
GRANT SELECT, INSERT, UPDATE ON clues TO rectify_api;

CREATE TABLE clue_links (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clue_id        bigint NOT NULL REFERENCES clues (id),
    problem_id     bigint REFERENCES problems (id),
    task_id        bigint REFERENCES tasks (id),
    complaint_id   bigint REFERENCES complaints (id),
    finding_id     bigint CHECK (finding_id > 0),      -- no FK yet: findings do not exist
    spot_check_id  bigint CHECK (spot_check_id > 0),   -- no FK yet: spot checks do not exist
    CHECK (num_nonnulls(problem_id, task_id, complaint_id, finding_id, spot_check_id) = 1),
    UNIQUE NULLS NOT DISTINCT (clue_id, problem_id, task_id, complaint_id, finding_id, spot_check_id)
);
SELECT rectify.enable_audit('clue_links');
ALTER TABLE clue_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY clue_links_all ON clue_links FOR ALL TO rectify_api
    USING (rectify.has_any_role('{office,discipline}'::text[]))
    WITH CHECK (rectify.has_any_role('{office,discipline}'::text[]));
GRANT SELECT, INSERT, DELETE ON clue_links TO rectify_api;

-- ---------------------------------------------------------------------------
-- Persons concerned (see the decisions at the top)
-- ---------------------------------------------------------------------------
CREATE TABLE clue_persons (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clue_id         bigint      NOT NULL REFERENCES clues (id),
    ref             text        NOT NULL UNIQUE CHECK (ref ~ '^[0-9a-f]{32}$'),
    name_enc        bytea       NOT NULL CHECK (length(name_enc) BETWEEN 41 AND 1000),
    post_enc        bytea       NOT NULL CHECK (length(post_enc) BETWEEN 41 AND 1000),
    org_enc         bytea       NOT NULL CHECK (length(org_enc) BETWEEN 41 AND 1000),
    name_masked     text        NOT NULL CHECK (length(name_masked) <= 100),
    post_masked     text        NOT NULL CHECK (length(post_masked) <= 200),
    org_masked      text        NOT NULL CHECK (length(org_masked) <= 200),
    key_id          smallint    NOT NULL DEFAULT 1,
    level           text        NOT NULL REFERENCES clue_levels (code),
    outcome         text        REFERENCES clue_outcomes (code),
    outcome_detail  text        CHECK (length(btrim(outcome_detail)) BETWEEN 1 AND 500),  -- e.g. 党内警告
    outcome_on      date,
    -- set by publication only: the identity the office chose to publish
    public_name     text,
    public_post     text,
    public_org      text,
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (outcome IS NOT NULL OR (outcome_detail IS NULL AND outcome_on IS NULL)),
    CHECK (num_nonnulls(public_name, public_post, public_org) IN (0, 3))
);
COMMENT ON TABLE clue_persons IS 'Persons concerned by a clue: identity encrypted by the service, masked copies in clear.';
CREATE INDEX clue_persons_clue_idx ON clue_persons (clue_id, id);
CREATE TRIGGER clue_persons_touch BEFORE UPDATE ON clue_persons
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('clue_persons', redact_columns => '{name_enc,post_enc,org_enc}');
ALTER TABLE clue_persons ENABLE ROW LEVEL SECURITY;
CREATE POLICY clue_persons_all ON clue_persons FOR ALL TO rectify_api
    USING (rectify.has_any_role('{office,discipline}'::text[]))
    WITH CHECK (rectify.has_any_role('{office,discipline}'::text[]));
GRANT SELECT (id, clue_id, ref, name_masked, post_masked, org_masked, key_id, level, outcome,
              outcome_detail, outcome_on, public_name, public_post, public_org, version,
              created_at, updated_at) ON clue_persons TO rectify_api;
GRANT INSERT (clue_id, ref, name_enc, post_enc, org_enc, name_masked, post_masked, org_masked,
              key_id, level) ON clue_persons TO rectify_api;
GRANT UPDATE (name_enc, post_enc, org_enc, name_masked, post_masked, org_masked, key_id, level,
              outcome, outcome_detail, outcome_on, public_name, public_post, public_org)
    ON clue_persons TO rectify_api;

-- Clear reads of persons' data are pii_reads rows too (one per clue read).
ALTER TABLE pii_reads ADD COLUMN clue_id bigint REFERENCES clues (id);
ALTER TABLE pii_reads DROP CONSTRAINT pii_reads_purpose_check;
ALTER TABLE pii_reads ADD CONSTRAINT pii_reads_purpose_check
    CHECK (purpose IN ('view', 'export', 'publish'));
CREATE INDEX pii_reads_clue_idx ON pii_reads (clue_id, id) WHERE clue_id IS NOT NULL;

-- The sealed identities of the persons of one clue, for office and
-- discipline; records one pii_reads row for the call (purpose 'view', or
-- 'publish' when the office copies chosen names into the publication).
CREATE FUNCTION rectify.clue_person_secrets(p_clue_id bigint, p_purpose text)
    RETURNS TABLE (id bigint, ref text, name_enc bytea, post_enc bytea, org_enc bytea,
                   key_id smallint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    n integer;
BEGIN
    IF NOT rectify.has_any_role('{office,discipline}'::text[]) OR rectify.user_id() IS NULL THEN
        PERFORM rectify.fail(404, 'not_found', 'No such clue.');
    END IF;
    RETURN QUERY
        SELECT p.id, p.ref, p.name_enc, p.post_enc, p.org_enc, p.key_id
          FROM clue_persons p WHERE p.clue_id = p_clue_id ORDER BY p.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        INSERT INTO pii_reads (purpose, complaint_id, clue_id, row_count, user_id, org_id, request_id)
        VALUES (CASE WHEN p_purpose = 'publish' THEN 'publish' ELSE 'view' END, NULL, p_clue_id, n,
                rectify.user_id(), rectify.org_id(),
                nullif(current_setting('rectify.request_id', true), ''));
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.clue_person_secrets(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.clue_person_secrets(bigint, text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- JSON
-- ---------------------------------------------------------------------------

-- What the public sees of a clue: NULL unless published. The ONLY place that
-- decides which fields are public (the internal preview and /public/v1 use it).
-- A person's identity appears only when the office chose to publish it.
CREATE FUNCTION rectify.clue_public_json(c clues) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT CASE WHEN c.published_at IS NOT NULL THEN json_build_object(
        'id', c.id, 'campaign_id', c.campaign_id,
        'source', c.source, 'source_label', (SELECT label_zh FROM clue_sources WHERE code = c.source),
        'kind', c.kind, 'kind_label', (SELECT label_zh FROM clue_kinds WHERE code = c.kind),
        'summary', c.public_summary, 'concluded_on', c.concluded_on,
        'published_at', c.published_at,
        'persons', (SELECT coalesce(json_agg(json_build_object(
              'level', p.level, 'level_label', l.label_zh,
              'outcome', p.outcome, 'outcome_label', o.label_zh, 'outcome_detail', p.outcome_detail,
              'name', p.public_name, 'post', p.public_post, 'org', p.public_org)
            ORDER BY l.sort, p.id), '[]')
            FROM clue_persons p JOIN clue_levels l ON l.code = p.level
            LEFT JOIN clue_outcomes o ON o.code = p.outcome
           WHERE p.clue_id = c.id)) END
$$;

-- The persons of a clue, masked. (Named columns only: rectify_api may not
-- read the encrypted ones, so no whole-row reference.)
CREATE FUNCTION rectify.clue_persons_json(p_clue_id bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name_masked,
        'post', p.post_masked, 'org', p.org_masked, 'masked', true,
        'level', p.level, 'level_label', l.label_zh,
        'outcome', p.outcome, 'outcome_label', o.label_zh,
        'outcome_detail', p.outcome_detail, 'outcome_on', p.outcome_on,
        'identity_published', p.public_name IS NOT NULL,
        'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at)
        ORDER BY p.id), '[]')
      FROM clue_persons p JOIN clue_levels l ON l.code = p.level
      LEFT JOIN clue_outcomes o ON o.code = p.outcome
     WHERE p.clue_id = p_clue_id
$$;

-- One clue as the API shows it (persons masked). Through RLS: NULL when the
-- caller may not see it.
CREATE FUNCTION rectify.clue_json(c clues) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object(
        'id', c.id, 'campaign_id', c.campaign_id,
        'source', c.source, 'source_label', (SELECT label_zh FROM clue_sources WHERE code = c.source),
        'kind', c.kind, 'kind_label', (SELECT label_zh FROM clue_kinds WHERE code = c.kind),
        'summary', c.summary, 'team_doc_no', c.team_doc_no, 'team_transferred_on', c.team_transferred_on,
        'links', (SELECT json_build_object(
            'problems', coalesce(json_agg(json_build_object('id', pr.id, 'code', pr.code,
                'title', pr.title) ORDER BY pr.id) FILTER (WHERE pr.id IS NOT NULL), '[]'),
            'tasks', coalesce(json_agg(json_build_object('id', t.id, 'code', t.code,
                'title', t.title) ORDER BY t.id) FILTER (WHERE t.id IS NOT NULL), '[]'),
            'complaints', coalesce(json_agg(json_build_object('id', cm.id, 'handover_no',
                cm.handover_no) ORDER BY cm.id) FILTER (WHERE cm.id IS NOT NULL), '[]'),
            'finding_ids', coalesce(json_agg(k.finding_id ORDER BY k.finding_id)
                FILTER (WHERE k.finding_id IS NOT NULL), '[]'),
            'spot_check_ids', coalesce(json_agg(k.spot_check_id ORDER BY k.spot_check_id)
                FILTER (WHERE k.spot_check_id IS NOT NULL), '[]'))
            FROM clue_links k
            LEFT JOIN problems pr ON pr.id = k.problem_id
            LEFT JOIN tasks t ON t.id = k.task_id
            LEFT JOIN complaints cm ON cm.id = k.complaint_id
           WHERE k.clue_id = c.id),
        'status', c.status, 'status_label', (SELECT label_zh FROM clue_statuses WHERE code = c.status),
        'transfer', json_build_object('transferred_on', c.transferred_on, 'doc_no', c.transfer_doc_no),
        'received_on', c.received_on, 'investigation_started_on', c.investigation_started_on,
        'concluded_on', c.concluded_on, 'conclusion', c.conclusion,
        'persons', rectify.clue_persons_json(c.id),
        'publication', json_build_object('published', c.published_at IS NOT NULL,
            'published_at', c.published_at, 'public_summary', c.public_summary,
            'public', rectify.clue_public_json(c)),
        'version', c.version, 'created_at', c.created_at, 'updated_at', c.updated_at)
$$;

-- ---------------------------------------------------------------------------
-- Writes (SECURITY INVOKER: RLS applies). Each returns (version, json[, location]).
-- ---------------------------------------------------------------------------

-- The clue p_id, locked, or 404; 412 when p_version (If-Match) is stale.
CREATE FUNCTION rectify.clue_for_update(p_id bigint, p_version integer) RETURNS clues
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
BEGIN
    SELECT * INTO cur FROM clues WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such clue.');
    END IF;
    PERFORM rectify.check_version(cur.version, p_version);
    RETURN cur;
END
$$;

-- Replaces the links of a clue by those named in p_body (problem_ids, …).
CREATE FUNCTION rectify.clue_set_links(p_id bigint, p_body jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    bad_list text;
    bad bigint;
BEGIN
    -- a missing reference points at its list item (a foreign-key violation
    -- would name clue_links' column, which is not a member of the body)
    SELECT k, x.n - 1 INTO bad_list, bad
      FROM (VALUES ('problem_ids', 'problems'), ('task_ids', 'tasks'), ('complaint_ids', 'complaints')) AS l(k, t),
           jsonb_array_elements_text(coalesce(p_body->l.k, '[]')) WITH ORDINALITY AS x(v, n)
     WHERE NOT CASE l.t WHEN 'problems' THEN EXISTS (SELECT 1 FROM problems WHERE id = x.v::bigint)
                        WHEN 'tasks' THEN EXISTS (SELECT 1 FROM tasks WHERE id = x.v::bigint)
                        ELSE EXISTS (SELECT 1 FROM complaints WHERE id = x.v::bigint) END
     ORDER BY l.k, x.n LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM rectify.fail(422, 'invalid_reference', 'A referenced record does not exist.',
                             bad_list || '/' || bad, 'does not exist');
    END IF;
    DELETE FROM clue_links WHERE clue_id = p_id;
    INSERT INTO clue_links (clue_id, problem_id)
        SELECT DISTINCT p_id, x::bigint FROM jsonb_array_elements_text(coalesce(p_body->'problem_ids', '[]')) x;
    INSERT INTO clue_links (clue_id, task_id)
        SELECT DISTINCT p_id, x::bigint FROM jsonb_array_elements_text(coalesce(p_body->'task_ids', '[]')) x;
    INSERT INTO clue_links (clue_id, complaint_id)
        SELECT DISTINCT p_id, x::bigint FROM jsonb_array_elements_text(coalesce(p_body->'complaint_ids', '[]')) x;
    INSERT INTO clue_links (clue_id, finding_id)
        SELECT DISTINCT p_id, x::bigint FROM jsonb_array_elements_text(coalesce(p_body->'finding_ids', '[]')) x;
    INSERT INTO clue_links (clue_id, spot_check_id)
        SELECT DISTINCT p_id, x::bigint FROM jsonb_array_elements_text(coalesce(p_body->'spot_check_ids', '[]')) x;
    IF (SELECT source FROM clues WHERE id = p_id) = 'complaint'
       AND NOT EXISTS (SELECT 1 FROM clue_links WHERE clue_id = p_id AND complaint_id IS NOT NULL) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A clue from a complaint names the complaint.',
                             'complaint_ids', 'must name at least one complaint for source complaint');
    END IF;
END
$$;

-- One person from p (sealed by the service: ref, *_enc hex, *_masked, level).
CREATE FUNCTION rectify.clue_add_person(p_id bigint, p jsonb) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    INSERT INTO clue_persons (clue_id, ref, name_enc, post_enc, org_enc, name_masked, post_masked,
                              org_masked, level)
    VALUES (p_id, p->>'ref', decode(p->>'name_enc', 'hex'), decode(p->>'post_enc', 'hex'),
            decode(p->>'org_enc', 'hex'), p->>'name_masked', p->>'post_masked', p->>'org_masked',
            p->>'level')
$$;

-- A lead found during rectification says what was wrong (kind).
CREATE FUNCTION rectify.clue_check_kind(p_source text, p_kind text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF p_source = 'rectification' AND p_kind IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A clue found during rectification names its kind.',
                             'kind', 'is required for source rectification');
    END IF;
END
$$;

-- Only the office registers clues and decides publication.
CREATE FUNCTION rectify.clue_require_office(what text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NOT rectify.has_any_role('{office}'::text[]) THEN
        PERFORM rectify.fail(403, 'forbidden', format('Only the rectification office may %s.', what));
    END IF;
END
$$;

CREATE FUNCTION rectify.clue_create(p_body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    c clues;
    p jsonb;
BEGIN
    PERFORM rectify.clue_require_office('register clues');
    PERFORM rectify.clue_check_kind(p_body->>'source', p_body->>'kind');
    -- (the foreign key's own error names no key: campaigns has row-level security)
    IF NOT EXISTS (SELECT 1 FROM campaigns WHERE id = (p_body->>'campaign_id')::bigint) THEN
        PERFORM rectify.fail(422, 'invalid_reference', 'A referenced record does not exist.',
                             'campaign_id', 'does not exist');
    END IF;
    INSERT INTO clues (campaign_id, source, kind, summary, team_doc_no, team_transferred_on)
    VALUES ((p_body->>'campaign_id')::bigint, p_body->>'source', p_body->>'kind',
            p_body->>'summary', p_body->>'team_doc_no', (p_body->>'team_transferred_on')::date)
    RETURNING * INTO c;
    PERFORM rectify.clue_set_links(c.id, p_body);
    FOR p IN SELECT * FROM jsonb_array_elements(coalesce(p_body->'persons', '[]')) LOOP
        PERFORM rectify.clue_add_person(c.id, p);
    END LOOP;
    RETURN QUERY SELECT c.version, rectify.clue_json(c), '/api/v1/clues/' || c.id;
END
$$;

-- PATCH: summary, kind, team_doc_no, team_transferred_on, links (office;
-- not once concluded).
CREATE FUNCTION rectify.clue_update(p_id bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    PERFORM rectify.clue_require_office('edit clues');
    IF cur.status = 'concluded' THEN
        PERFORM rectify.fail(409, 'concluded', 'A concluded clue is no longer edited.');
    END IF;
    PERFORM rectify.clue_check_kind(cur.source,
        CASE WHEN p_body ? 'kind' THEN p_body->>'kind' ELSE cur.kind END);
    UPDATE clues c SET
        summary = CASE WHEN p_body ? 'summary' THEN p_body->>'summary' ELSE c.summary END,
        kind = CASE WHEN p_body ? 'kind' THEN p_body->>'kind' ELSE c.kind END,
        team_doc_no = CASE WHEN p_body ? 'team_doc_no' THEN p_body->>'team_doc_no' ELSE c.team_doc_no END,
        team_transferred_on = CASE WHEN p_body ? 'team_transferred_on'
            THEN (p_body->>'team_transferred_on')::date ELSE c.team_transferred_on END,
        updated_at = now()
     WHERE c.id = p_id;
    IF p_body ?| '{problem_ids,task_ids,complaint_ids,finding_ids,spot_check_ids}'::text[] THEN
        -- links named in the body replace those kinds; kinds not named stay
        PERFORM rectify.clue_set_links(p_id, p_body
            || jsonb_build_object(
                 'problem_ids', coalesce(p_body->'problem_ids', (SELECT coalesce(jsonb_agg(problem_id), '[]')
                     FROM clue_links WHERE clue_id = p_id AND problem_id IS NOT NULL)),
                 'task_ids', coalesce(p_body->'task_ids', (SELECT coalesce(jsonb_agg(task_id), '[]')
                     FROM clue_links WHERE clue_id = p_id AND task_id IS NOT NULL)),
                 'complaint_ids', coalesce(p_body->'complaint_ids', (SELECT coalesce(jsonb_agg(complaint_id), '[]')
                     FROM clue_links WHERE clue_id = p_id AND complaint_id IS NOT NULL)),
                 'finding_ids', coalesce(p_body->'finding_ids', (SELECT coalesce(jsonb_agg(finding_id), '[]')
                     FROM clue_links WHERE clue_id = p_id AND finding_id IS NOT NULL)),
                 'spot_check_ids', coalesce(p_body->'spot_check_ids', (SELECT coalesce(jsonb_agg(spot_check_id), '[]')
                     FROM clue_links WHERE clue_id = p_id AND spot_check_id IS NOT NULL))));
    END IF;
    RETURN QUERY SELECT c.version, rectify.clue_json(c) FROM clues c WHERE c.id = p_id;
END
$$;

-- A workflow action: transfer {transferred_on, doc_no}, receive {received_on?},
-- investigate {started_on?}, conclude {concluded_on?, conclusion}.
CREATE FUNCTION rectify.clue_transition(p_id bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
    tr clue_transitions;
    act text := p_body->>'action';
    allowed text;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    SELECT * INTO tr FROM clue_transitions t WHERE t.from_status = cur.status AND t.action = act;
    IF NOT FOUND THEN
        SELECT string_agg(t.action, ', ' ORDER BY t.action) INTO allowed
          FROM clue_transitions t WHERE t.from_status = cur.status;
        PERFORM rectify.fail(409, 'invalid_transition', format('A clue in state %s cannot %s; allowed now: %s.',
                             cur.status, act, coalesce(allowed, 'none')));
    END IF;
    IF NOT rectify.has_any_role(ARRAY[tr.role]) THEN
        PERFORM rectify.fail(403, 'forbidden', format('Only %s may %s a clue.',
            CASE tr.role WHEN 'office' THEN 'the rectification office' ELSE 'the discipline commission' END,
            act));
    END IF;
    IF act = 'conclude' AND EXISTS (SELECT 1 FROM clue_persons p WHERE p.clue_id = p_id
                                     AND p.outcome IS NULL) THEN
        PERFORM rectify.fail(409, 'outcome_missing',
                             'Every person concerned needs an outcome before the clue is concluded.');
    END IF;
    UPDATE clues c SET status = tr.to_status,
        transferred_on = CASE WHEN act = 'transfer' THEN (p_body->>'transferred_on')::date ELSE c.transferred_on END,
        transfer_doc_no = CASE WHEN act = 'transfer' THEN p_body->>'doc_no' ELSE c.transfer_doc_no END,
        received_on = CASE WHEN act = 'receive'
            THEN coalesce((p_body->>'received_on')::date, current_date) ELSE c.received_on END,
        investigation_started_on = CASE WHEN act = 'investigate'
            THEN coalesce((p_body->>'started_on')::date, current_date) ELSE c.investigation_started_on END,
        concluded_on = CASE WHEN act = 'conclude'
            THEN coalesce((p_body->>'concluded_on')::date, current_date) ELSE c.concluded_on END,
        conclusion = CASE WHEN act = 'conclude' THEN p_body->>'conclusion' ELSE c.conclusion END
     WHERE c.id = p_id;
    RETURN QUERY SELECT c.version, rectify.clue_json(c) FROM clues c WHERE c.id = p_id;
END
$$;

-- Adds one person (sealed) to a clue that is not concluded.
CREATE FUNCTION rectify.clue_person_create(p_id bigint, p_version integer, p jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    IF cur.status = 'concluded' THEN
        PERFORM rectify.fail(409, 'concluded', 'A concluded clue takes no more persons.');
    END IF;
    PERFORM rectify.clue_add_person(p_id, p);
    UPDATE clues c SET updated_at = now() WHERE c.id = p_id;   -- the clue's version covers its persons
    RETURN QUERY SELECT c.version, rectify.clue_json(c),
        '/api/v1/clues/' || c.id || '/persons/' || (SELECT max(id) FROM clue_persons WHERE clue_id = p_id)
      FROM clues c WHERE c.id = p_id;
END
$$;

-- Changes one person: identity/level (sealed by the service) while the clue
-- is not concluded; the outcome only while under investigation and only by
-- the discipline commission. p_version is the CLUE's version.
CREATE FUNCTION rectify.clue_person_update(p_id bigint, p_person_id bigint, p_version integer, p jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    IF NOT EXISTS (SELECT 1 FROM clue_persons WHERE id = p_person_id AND clue_id = p_id) THEN
        PERFORM rectify.fail(404, 'not_found', 'No such person concerned.');
    END IF;
    IF cur.status = 'concluded' THEN
        PERFORM rectify.fail(409, 'concluded', 'A concluded clue is no longer edited.');
    END IF;
    IF p ?| '{outcome,outcome_detail,outcome_on}'::text[] THEN
        IF NOT rectify.has_any_role('{discipline}'::text[]) THEN
            PERFORM rectify.fail(403, 'forbidden', 'Only the discipline commission records outcomes.');
        END IF;
        IF cur.status <> 'under_investigation' THEN
            PERFORM rectify.fail(409, 'invalid_state', format(
                'Outcomes are recorded while the clue is under investigation (it is %s).', cur.status));
        END IF;
    END IF;
    -- (one statement per sealed field: rectify_api may write the encrypted
    -- columns but not read them, so no "ELSE x.name_enc")
    IF p ? 'name_enc' THEN
        UPDATE clue_persons SET name_enc = decode(p->>'name_enc', 'hex'), name_masked = p->>'name_masked'
         WHERE id = p_person_id;
    END IF;
    IF p ? 'post_enc' THEN
        UPDATE clue_persons SET post_enc = decode(p->>'post_enc', 'hex'), post_masked = p->>'post_masked'
         WHERE id = p_person_id;
    END IF;
    IF p ? 'org_enc' THEN
        UPDATE clue_persons SET org_enc = decode(p->>'org_enc', 'hex'), org_masked = p->>'org_masked'
         WHERE id = p_person_id;
    END IF;
    UPDATE clue_persons x SET
        level = coalesce(p->>'level', x.level),
        outcome = CASE WHEN p ? 'outcome' THEN p->>'outcome' ELSE x.outcome END,
        outcome_detail = CASE WHEN p ? 'outcome_detail' THEN p->>'outcome_detail' ELSE x.outcome_detail END,
        outcome_on = CASE WHEN p ? 'outcome_on' THEN (p->>'outcome_on')::date
            WHEN p ? 'outcome' AND x.outcome_on IS NULL THEN current_date ELSE x.outcome_on END
     WHERE x.id = p_person_id;
    UPDATE clues c SET updated_at = now() WHERE c.id = p_id;
    RETURN QUERY SELECT c.version, rectify.clue_json(c) FROM clues c WHERE c.id = p_id;
END
$$;

-- What clue_publish refuses, checked without writing (the service runs it
-- in the transaction that reads the identities to publish: a refused
-- publication reads nothing). Returns the locked clue.
CREATE FUNCTION rectify.clue_publish_check(p_id bigint, p_version integer, p_body jsonb) RETURNS clues
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
    bad bigint;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    PERFORM rectify.clue_require_office('publish outcomes');
    IF cur.status <> 'concluded' THEN
        PERFORM rectify.fail(409, 'invalid_state', format(
            'Only a concluded clue''s outcome is published (it is %s).', cur.status));
    END IF;
    SELECT x.n - 1 INTO bad
      FROM jsonb_array_elements_text(coalesce(p_body->'named_person_ids', '[]')) WITH ORDINALITY AS x(v, n)
     WHERE NOT EXISTS (SELECT 1 FROM clue_persons p WHERE p.id = x.v::bigint AND p.clue_id = p_id)
     ORDER BY x.n LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A named person is not concerned by this clue.',
                             'named_person_ids/' || bad, 'is not a person of this clue');
    END IF;
    RETURN cur;
END
$$;

-- Publishes a concluded clue (office): public_summary, and the identities
-- of the persons in named_person_ids, given by the service in
-- p_body->'identities' [{id, name, post, org}] (opened from
-- clue_person_secrets(…, 'publish')). Every other person's public identity
-- is cleared. Publishing again replaces the choice.
CREATE FUNCTION rectify.clue_publish(p_id bigint, p_version integer, p_body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    PERFORM rectify.clue_publish_check(p_id, p_version, p_body);
    IF jsonb_array_length(coalesce(p_body->'named_person_ids', '[]'))
       <> jsonb_array_length(coalesce(p_body->'identities', '[]')) THEN
        PERFORM rectify.fail(500, 'internal_error', 'The identities to publish could not be opened.');
    END IF;
    UPDATE clue_persons p SET public_name = s.x->>'name', public_post = s.x->>'post',
                              public_org = s.x->>'org'
      FROM (SELECT q.id, (SELECT e FROM jsonb_array_elements(coalesce(p_body->'identities', '[]')) e
                           WHERE (e->>'id')::bigint = q.id) AS x
              FROM clue_persons q WHERE q.clue_id = p_id) s
     WHERE p.id = s.id
       AND (p.public_name IS DISTINCT FROM s.x->>'name' OR p.public_post IS DISTINCT FROM s.x->>'post'
            OR p.public_org IS DISTINCT FROM s.x->>'org');
    UPDATE clues c SET public_summary = p_body->>'public_summary', published_at = now(),
                       published_by = rectify.user_id()
     WHERE c.id = p_id;
    RETURN QUERY SELECT c.version, rectify.clue_json(c) FROM clues c WHERE c.id = p_id;
END
$$;

-- Withdraws a publication (office): nothing of the clue is public any more.
CREATE FUNCTION rectify.clue_unpublish(p_id bigint, p_version integer)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur clues;
BEGIN
    cur := rectify.clue_for_update(p_id, p_version);
    PERFORM rectify.clue_require_office('withdraw publications');
    IF cur.published_at IS NULL THEN
        PERFORM rectify.fail(409, 'not_published', 'The clue''s outcome is not published.');
    END IF;
    UPDATE clue_persons p SET public_name = NULL, public_post = NULL, public_org = NULL
     WHERE p.clue_id = p_id AND p.public_name IS NOT NULL;
    UPDATE clues c SET published_at = NULL, published_by = NULL WHERE c.id = p_id;
    RETURN QUERY SELECT c.version, rectify.clue_json(c) FROM clues c WHERE c.id = p_id;
END
$$;

-- Counts of people by level and outcome (outcome NULL = not decided yet),
-- and of clues by state and source; p_campaign NULL = every campaign.
CREATE FUNCTION rectify.clue_stats(p_campaign bigint) RETURNS json
    LANGUAGE sql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH c AS (SELECT * FROM clues WHERE p_campaign IS NULL OR campaign_id = p_campaign),
         p AS (SELECT p.level, p.outcome FROM clue_persons p JOIN c ON c.id = p.clue_id)
    SELECT json_build_object(
        'campaign_id', p_campaign,
        'clues', (SELECT count(*) FROM c),
        'people', (SELECT count(*) FROM p),
        'clues_by_status', (SELECT json_agg(json_build_object('status', s.code, 'label', s.label_zh,
            'count', (SELECT count(*) FROM c WHERE c.status = s.code)) ORDER BY s.sort) FROM clue_statuses s),
        'clues_by_source', (SELECT json_agg(json_build_object('source', s.code, 'label', s.label_zh,
            'count', (SELECT count(*) FROM c WHERE c.source = s.code)) ORDER BY s.sort) FROM clue_sources s),
        'people_by_level', (SELECT json_agg(json_build_object('level', l.code, 'label', l.label_zh,
            'count', (SELECT count(*) FROM p WHERE p.level = l.code),
            'by_outcome', (SELECT json_agg(json_build_object('outcome', o.code, 'label', o.label_zh,
                'count', (SELECT count(*) FROM p WHERE p.level = l.code AND p.outcome IS NOT DISTINCT FROM o.code))
                ORDER BY o.sort NULLS LAST)
                FROM (SELECT code, label_zh, sort FROM clue_outcomes
                      UNION ALL SELECT NULL, '待定', NULL) o)) ORDER BY l.sort) FROM clue_levels l),
        'people_by_outcome', (SELECT json_agg(json_build_object('outcome', o.code, 'label', o.label_zh,
            'count', (SELECT count(*) FROM p WHERE p.outcome IS NOT DISTINCT FROM o.code)) ORDER BY o.sort NULLS LAST)
            FROM (SELECT code, label_zh, sort FROM clue_outcomes UNION ALL SELECT NULL, '待定', NULL) o))
$$;

-- The published outcomes, for the public side (no account): SECURITY DEFINER
-- because anonymous callers see no clue through RLS; it returns only what
-- rectify.clue_public_json() makes public.
CREATE FUNCTION rectify.public_accountability(p_campaign bigint) RETURNS json
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object('items', coalesce(json_agg(rectify.clue_public_json(c)
                ORDER BY c.published_at DESC, c.id DESC), '[]'))
      FROM clues c
     WHERE c.published_at IS NOT NULL AND (p_campaign IS NULL OR c.campaign_id = p_campaign)
$$;

REVOKE EXECUTE ON FUNCTION rectify.clue_public_json(clues), rectify.clue_persons_json(bigint),
    rectify.clue_json(clues), rectify.clue_for_update(bigint, integer),
    rectify.clue_set_links(bigint, jsonb), rectify.clue_add_person(bigint, jsonb),
    rectify.clue_require_office(text), rectify.clue_check_kind(text, text), rectify.clue_create(jsonb),
    rectify.clue_update(bigint, integer, jsonb), rectify.clue_transition(bigint, integer, jsonb),
    rectify.clue_person_create(bigint, integer, jsonb),
    rectify.clue_person_update(bigint, bigint, integer, jsonb),
    rectify.clue_publish_check(bigint, integer, jsonb), rectify.clue_publish(bigint, integer, jsonb), rectify.clue_unpublish(bigint, integer),
    rectify.clue_stats(bigint), rectify.public_accountability(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.clue_public_json(clues), rectify.clue_persons_json(bigint),
    rectify.clue_json(clues), rectify.clue_for_update(bigint, integer),
    rectify.clue_set_links(bigint, jsonb), rectify.clue_add_person(bigint, jsonb),
    rectify.clue_require_office(text), rectify.clue_check_kind(text, text), rectify.clue_create(jsonb),
    rectify.clue_update(bigint, integer, jsonb), rectify.clue_transition(bigint, integer, jsonb),
    rectify.clue_person_create(bigint, integer, jsonb),
    rectify.clue_person_update(bigint, bigint, integer, jsonb),
    rectify.clue_publish_check(bigint, integer, jsonb), rectify.clue_publish(bigint, integer, jsonb), rectify.clue_unpublish(bigint, integer),
    rectify.clue_stats(bigint), rectify.public_accountability(bigint) TO rectify_api;
