-- 0030_complaints.sql — citizen complaints (群众举报件) handed over by the
-- inspection team in numbered batches: batches, complaints, their workflow
-- history, repeat groups, complainants' personal data (encrypted), audited
-- reads of that data, and the Idempotency-Key store.
--
-- Decisions
-- * Natural key: (campaign_id, handover_no) — the inspection team's 交办编号
--   is unique within a round. Imports upsert on it.
-- * Scope: a complaint is owned (owner_org_id, RLS) by its responsible org
--   once assigned, by its county before that; and the county's subtree sees
--   it as well (county_org_path, an OR term of the policy): a county must
--   follow complaints on its territory even when a provincial department
--   handles them. A prefecture sees its counties' complaints through the
--   subtree. county_org_id may also name a prefecture (市本级, and 嘉峪关市
--   which has no counties).
-- * Complainants' personal data lives in `complainants`, one row per
--   complaint: name, phone, ID number and address are encrypted by the
--   service (XChaCha20-Poly1305, key RECTIFY_PII_KEY, never in the
--   database), the associated data binding each value to its complaint's
--   natural key and field so ciphertexts cannot be swapped between rows.
--   Masked forms (张*, 138****5678) are computed by the service at write time
--   and stored in clear for everyone who may see the complaint. rectify_api
--   cannot SELECT the encrypted columns: they come only from
--   rectify.complainant_secrets(), which admits admin and office and records
--   every call in pii_reads — an audited table, so each read of personal
--   data is an entry of the hash-chained audit log. The audit trigger of
--   complainants redacts the encrypted columns and the digest.
-- * The workflow's moves are decided by the service's transition table
--   (src/workflow/complaint_workflow.c); the database keeps the allowed status
--   changes in complaint_status_transitions and refuses any other
--   (trigger complaints_guard), and every change is a complaint_events row.
-- * Import staging (complaint_import_chunks) holds validated rows of an
--   atomic import between the streaming pass and the one transaction that
--   applies them; rows older than a day are removed by the next import.

-- ---------------------------------------------------------------------------
-- Batches (交办批次)
-- ---------------------------------------------------------------------------
CREATE TABLE complaint_batches (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id      bigint      NOT NULL REFERENCES campaigns (id),
    batch_no         integer     NOT NULL CHECK (batch_no BETWEEN 1 AND 10000),
    handed_over_on   date        NOT NULL,
    expected_count   integer     CHECK (expected_count BETWEEN 0 AND 1000000),
    note             text        CHECK (length(note) <= 2000),
    acknowledged_at  timestamptz,
    acknowledged_by  bigint      REFERENCES users (id),
    version          integer     NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT complaint_batches_no_key UNIQUE (campaign_id, batch_no),
    CONSTRAINT complaint_batches_ack CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
COMMENT ON TABLE complaint_batches IS 'Hand-over batches of citizen complaints (交办批次), numbered within a campaign.';
CREATE TRIGGER complaint_batches_touch BEFORE UPDATE ON complaint_batches
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('complaint_batches');
ALTER TABLE complaint_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_batches_read ON complaint_batches FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY complaint_batches_insert ON complaint_batches FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office,integration}'::text[]));
CREATE POLICY complaint_batches_update ON complaint_batches FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office,integration}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office,integration}'::text[]));
GRANT SELECT ON complaint_batches TO rectify_api;
GRANT INSERT (campaign_id, batch_no, handed_over_on, expected_count, note, acknowledged_at,
              acknowledged_by) ON complaint_batches TO rectify_api;
GRANT UPDATE (handed_over_on, expected_count, note, acknowledged_at, acknowledged_by)
    ON complaint_batches TO rectify_api;

-- ---------------------------------------------------------------------------
-- Repeat groups (重复举报: 一件一策, 领导包案)
-- ---------------------------------------------------------------------------
CREATE TABLE complaint_repeat_groups (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_plan         text        CHECK (length(case_plan) <= 5000),      -- 一件一策
    leading_official  text        CHECK (length(btrim(leading_official)) BETWEEN 1 AND 100), -- 领导包案
    leading_post      text        CHECK (length(btrim(leading_post)) BETWEEN 1 AND 100),
    version           integer     NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE complaint_repeat_groups IS 'Complaints about the same matter (重复举报) with their case plan and leading official.';
CREATE TRIGGER complaint_repeat_groups_touch BEFORE UPDATE ON complaint_repeat_groups
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('complaint_repeat_groups');

-- ---------------------------------------------------------------------------
-- Complaints
-- ---------------------------------------------------------------------------
CREATE TABLE complaint_states (
    status  text     PRIMARY KEY,
    ord     smallint NOT NULL UNIQUE,
    open    boolean  NOT NULL        -- the deadline runs (overdue applies)
);
INSERT INTO complaint_states VALUES
    ('received', 1, false), ('assigned', 2, true), ('investigating', 3, true),
    ('stage_resolved', 4, true), ('resolved', 5, false), ('rejected', 6, false),
    ('closed', 7, false);
GRANT SELECT ON complaint_states TO rectify_api;

CREATE TABLE complaint_status_transitions (
    from_status  text NOT NULL REFERENCES complaint_states (status),
    to_status    text NOT NULL REFERENCES complaint_states (status),
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO complaint_status_transitions VALUES
    ('received', 'assigned'), ('assigned', 'assigned'),          -- assign, reassign
    ('investigating', 'assigned'), ('stage_resolved', 'assigned'),
    ('assigned', 'investigating'),                                -- start
    ('investigating', 'resolved'), ('investigating', 'stage_resolved'),
    ('investigating', 'rejected'), ('assigned', 'rejected'), ('received', 'rejected'),
    ('stage_resolved', 'investigating'),                          -- continue
    ('stage_resolved', 'resolved'),
    ('resolved', 'closed'), ('rejected', 'closed'),               -- office review (销号)
    ('resolved', 'investigating'), ('closed', 'investigating'),   -- reopen
    ('stage_resolved', 'stage_resolved');                         -- a further stage
GRANT SELECT ON complaint_status_transitions TO rectify_api;

CREATE TABLE complaints (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id          bigint      NOT NULL REFERENCES campaigns (id),
    handover_no          text        NOT NULL
                                     CHECK (length(handover_no) BETWEEN 1 AND 40 AND handover_no !~ '\s'),
    batch_id             bigint      NOT NULL REFERENCES complaint_batches (id),
    channel              text        NOT NULL
                                     CHECK (channel IN ('phone', 'letter', 'online', 'hotline_12345', 'visit', 'other')),
    received_at          timestamptz NOT NULL,
    content              text        NOT NULL CHECK (length(btrim(content)) BETWEEN 1 AND 10000),
    pollution_types      text[]      NOT NULL
                                     CHECK (cardinality(pollution_types) BETWEEN 1 AND 8
                                            AND array_ndims(pollution_types) = 1
                                            AND pollution_types <@ '{air,water,soil,noise,solid_waste,ecology,radiation,other}'::text[]),
    county_org_id        bigint      NOT NULL REFERENCES orgs (id),
    county_org_path      ltree       NOT NULL,                 -- trigger: orgs.path of county_org_id
    address              text        CHECK (length(address) <= 500),
    latitude             numeric(9,6) CHECK (latitude BETWEEN -90 AND 90),
    longitude            numeric(9,6) CHECK (longitude BETWEEN -180 AND 180),
    entity_name          text        CHECK (length(btrim(entity_name)) BETWEEN 1 AND 200),
    entity_credit_code   text        CHECK (entity_credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'),
    grade                text        NOT NULL DEFAULT 'general' CHECK (grade IN ('general', 'key')),
    responsible_org_id   bigint      REFERENCES orgs (id),
    deadline             date,
    status               text        NOT NULL DEFAULT 'received' REFERENCES complaint_states (status),
    verdict              text        CHECK (verdict IN ('true', 'partly_true', 'false')),
    result               text        CHECK (length(result) <= 20000),     -- 办理结果
    rejection_reason     text        CHECK (length(btrim(rejection_reason)) BETWEEN 1 AND 2000),
    ordered_rectify      integer     NOT NULL DEFAULT 0 CHECK (ordered_rectify BETWEEN 0 AND 100000),   -- 责令整改
    cases_filed          integer     NOT NULL DEFAULT 0 CHECK (cases_filed BETWEEN 0 AND 100000),       -- 立案处罚
    fines_yuan           numeric(14,2) NOT NULL DEFAULT 0 CHECK (fines_yuan >= 0),                      -- 罚款
    people_interviewed   integer     NOT NULL DEFAULT 0 CHECK (people_interviewed BETWEEN 0 AND 100000), -- 约谈
    people_accountable   integer     NOT NULL DEFAULT 0 CHECK (people_accountable BETWEEN 0 AND 100000), -- 问责
    public_summary       text        CHECK (length(public_summary) <= 5000),
    repeat_group_id      bigint      REFERENCES complaint_repeat_groups (id),
    resolved_at          timestamptz,
    closed_at            timestamptz,
    owner_org_id         bigint      NOT NULL REFERENCES orgs (id),  -- trigger: responsible org, else county
    owner_org_path       ltree       NOT NULL,
    version              integer     NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT complaints_handover_key UNIQUE (campaign_id, handover_no),
    CONSTRAINT complaints_coordinates CHECK ((latitude IS NULL) = (longitude IS NULL)),
    CONSTRAINT complaints_assigned CHECK (status = 'received' OR status = 'rejected'
                                          OR (responsible_org_id IS NOT NULL AND deadline IS NOT NULL))
);
COMMENT ON TABLE complaints IS 'Citizen complaints handed over by the inspection team (群众举报件). Complainants are in complainants.';

CREATE INDEX complaints_scope_gist ON complaints USING gist (owner_org_path);
CREATE INDEX complaints_county_gist ON complaints USING gist (county_org_path);
CREATE INDEX complaints_campaign_idx ON complaints (campaign_id, id);
CREATE INDEX complaints_batch_idx ON complaints (batch_id, id);
CREATE INDEX complaints_status_idx ON complaints (status, id);
CREATE INDEX complaints_county_idx ON complaints (county_org_id, id);
CREATE INDEX complaints_responsible_idx ON complaints (responsible_org_id, id);
CREATE INDEX complaints_received_idx ON complaints (received_at, id);
CREATE INDEX complaints_open_deadline_idx ON complaints (deadline, id)
    WHERE status IN ('assigned', 'investigating', 'stage_resolved');
CREATE INDEX complaints_repeat_idx ON complaints (repeat_group_id) WHERE repeat_group_id IS NOT NULL;
-- similar complaints and q=: trigram similarity works on Chinese with a UTF-8 LC_CTYPE
CREATE INDEX complaints_content_trgm ON complaints USING gist (content gist_trgm_ops);
CREATE INDEX complaints_entity_trgm ON complaints USING gist (entity_name gist_trgm_ops);
CREATE INDEX complaints_types_gin ON complaints USING gin (pollution_types);

-- owner = responsible org once assigned, the county before; county path.
-- Named to run before rectify_scope (triggers fire in name order), which
-- sets owner_org_path again when owner_org_id was in the statement.
CREATE FUNCTION rectify.complaints_derive() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    k text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.county_org_id IS DISTINCT FROM OLD.county_org_id THEN
        SELECT path, kind INTO NEW.county_org_path, k FROM orgs WHERE id = NEW.county_org_id;
        IF NOT FOUND OR k NOT IN ('county', 'prefecture') THEN
            RAISE EXCEPTION 'county_org_id % is not a county or prefecture', NEW.county_org_id
                USING ERRCODE = 'foreign_key_violation', TABLE = 'complaints', COLUMN = 'county_org_id';
        END IF;
    END IF;
    NEW.owner_org_id := coalesce(NEW.responsible_org_id, NEW.county_org_id);
    IF TG_OP = 'INSERT' OR NEW.owner_org_id IS DISTINCT FROM OLD.owner_org_id THEN
        SELECT path INTO NEW.owner_org_path FROM orgs WHERE id = NEW.owner_org_id;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
       AND NOT EXISTS (SELECT 1 FROM complaint_status_transitions t
                        WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
        RAISE EXCEPTION 'A complaint cannot go from % to %.', OLD.status, NEW.status
            USING ERRCODE = 'RX409', HINT = 'invalid_transition';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER complaints_derive BEFORE INSERT OR UPDATE ON complaints
    FOR EACH ROW EXECUTE FUNCTION rectify.complaints_derive();
CREATE TRIGGER complaints_touch BEFORE UPDATE ON complaints
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_scope('complaints');
SELECT rectify.enable_audit('complaints');

-- County paths follow org moves (owner paths do through enable_scope).
CREATE FUNCTION rectify.complaints_repath_county() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    UPDATE complaints SET county_org_path = NEW.path WHERE county_org_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER orgs_complaints_county_path AFTER UPDATE OF path ON orgs
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION rectify.complaints_repath_county();

-- Open complaint past its deadline.
CREATE FUNCTION rectify.complaint_overdue(p_status text, p_deadline date) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT p_status IN ('assigned', 'investigating', 'stage_resolved') AND p_deadline < current_date $$;

ALTER TABLE complaints ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaints_read ON complaints FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path) OR rectify.in_scope(county_org_path));
CREATE POLICY complaints_insert ON complaints FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office,integration}'::text[])
                AND (rectify.in_scope(owner_org_path) OR rectify.in_scope(county_org_path)));
CREATE POLICY complaints_update ON complaints FOR UPDATE TO rectify_api
    USING ((rectify.in_scope(owner_org_path) OR rectify.in_scope(county_org_path))
           AND rectify.has_any_role('{admin,office,integration,unit}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office,integration,unit}'::text[]));
GRANT SELECT ON complaints TO rectify_api;
GRANT INSERT (campaign_id, handover_no, batch_id, channel, received_at, content, pollution_types,
              county_org_id, county_org_path, address, latitude, longitude, entity_name,
              entity_credit_code, grade, responsible_org_id, deadline, status, owner_org_id,
              owner_org_path) ON complaints TO rectify_api;
GRANT UPDATE (batch_id, channel, received_at, content, pollution_types, county_org_id,
              county_org_path, address, latitude, longitude, entity_name, entity_credit_code,
              grade, responsible_org_id, deadline, status, verdict, result, rejection_reason,
              ordered_rectify, cases_filed, fines_yuan, people_interviewed, people_accountable,
              public_summary, repeat_group_id, resolved_at, closed_at, owner_org_id, owner_org_path)
    ON complaints TO rectify_api;

-- Repeat groups are visible when one of their complaints is.
ALTER TABLE complaint_repeat_groups ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_repeat_groups_read ON complaint_repeat_groups FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.repeat_group_id = complaint_repeat_groups.id));
CREATE POLICY complaint_repeat_groups_insert ON complaint_repeat_groups FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
CREATE POLICY complaint_repeat_groups_update ON complaint_repeat_groups FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
GRANT SELECT ON complaint_repeat_groups TO rectify_api;
GRANT INSERT (case_plan, leading_official, leading_post) ON complaint_repeat_groups TO rectify_api;
GRANT UPDATE (case_plan, leading_official, leading_post) ON complaint_repeat_groups TO rectify_api;

-- Links: "complaint_id repeats repeat_of_id" (the pair is kept; the group
-- is what lists use).
CREATE TABLE complaint_links (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id   bigint      NOT NULL REFERENCES complaints (id),
    repeat_of_id   bigint      NOT NULL REFERENCES complaints (id),
    note           text        CHECK (length(note) <= 2000),
    user_id        bigint      DEFAULT rectify.user_id(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT complaint_links_pair UNIQUE (complaint_id, repeat_of_id),
    CONSTRAINT complaint_links_not_self CHECK (complaint_id <> repeat_of_id)
);
SELECT rectify.enable_audit('complaint_links');
ALTER TABLE complaint_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_links_read ON complaint_links FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.id = complaint_links.complaint_id));
CREATE POLICY complaint_links_insert ON complaint_links FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]));
GRANT SELECT ON complaint_links TO rectify_api;
GRANT INSERT (complaint_id, repeat_of_id, note) ON complaint_links TO rectify_api;

-- Marks p_id as a repeat of p_repeat_of: both join one repeat group (created
-- when neither has one; two groups are merged), the group's case plan and
-- leading official are set when given, the pair is recorded. Returns the
-- group id. Office and admin only (they see the whole province, so the
-- definer rights hide nothing from them).
CREATE FUNCTION rectify.complaint_link(p_id bigint, p_repeat_of bigint, p_note text,
                                       p_case_plan text, p_official text, p_post text)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    a  complaints%ROWTYPE;
    b  complaints%ROWTYPE;
    g  bigint;
BEGIN
    IF NOT rectify.has_any_role('{admin,office}'::text[]) OR rectify.user_id() IS NULL THEN
        RAISE EXCEPTION 'Only the rectification office links repeat complaints.'
            USING ERRCODE = 'RX403', HINT = 'forbidden';
    END IF;
    SELECT * INTO a FROM complaints WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such complaint.' USING ERRCODE = 'RX404', HINT = 'not_found';
    END IF;
    IF p_id = p_repeat_of THEN
        RAISE EXCEPTION 'A complaint cannot repeat itself.' USING ERRCODE = 'RX422', HINT = 'self_link';
    END IF;
    SELECT * INTO b FROM complaints WHERE id = p_repeat_of FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No complaint has the id given in repeat_of_id.'
            USING ERRCODE = 'RX422', HINT = 'unknown_complaint';
    END IF;
    g := coalesce(b.repeat_group_id, a.repeat_group_id);
    IF g IS NULL THEN
        INSERT INTO complaint_repeat_groups (case_plan, leading_official, leading_post)
        VALUES (p_case_plan, p_official, p_post) RETURNING id INTO g;
    ELSIF p_case_plan IS NOT NULL OR p_official IS NOT NULL OR p_post IS NOT NULL THEN
        UPDATE complaint_repeat_groups
           SET case_plan = coalesce(p_case_plan, case_plan),
               leading_official = coalesce(p_official, leading_official),
               leading_post = coalesce(p_post, leading_post)
         WHERE id = g;
    END IF;
    UPDATE complaints SET repeat_group_id = g
     WHERE (id IN (p_id, p_repeat_of)
            OR repeat_group_id IN (a.repeat_group_id, b.repeat_group_id))
       AND repeat_group_id IS DISTINCT FROM g;
    INSERT INTO complaint_links (complaint_id, repeat_of_id, note, user_id)
    VALUES (p_id, p_repeat_of, p_note, rectify.user_id()) ON CONFLICT DO NOTHING;
    RETURN g;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.complaint_link(bigint, bigint, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complaint_link(bigint, bigint, text, text, text, text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Workflow history (append-only): every status change, assignment and
-- reassignment, with who and why.
-- ---------------------------------------------------------------------------
CREATE TABLE complaint_events (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id        bigint      NOT NULL REFERENCES complaints (id),
    action              text        NOT NULL CHECK (action ~ '^[a-z_]{1,40}$'),
    from_status         text        NOT NULL REFERENCES complaint_states (status),
    to_status           text        NOT NULL REFERENCES complaint_states (status),
    responsible_org_id  bigint      REFERENCES orgs (id),
    deadline            date,
    reason              text        CHECK (length(reason) <= 2000),
    comment             text        CHECK (length(comment) <= 2000),
    user_id             bigint      DEFAULT rectify.user_id(),
    at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaint_events_complaint_idx ON complaint_events (complaint_id, id);
SELECT rectify.enable_audit('complaint_events');
ALTER TABLE complaint_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_events_read ON complaint_events FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.id = complaint_events.complaint_id));
CREATE POLICY complaint_events_insert ON complaint_events FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office,unit,integration}'::text[]));
GRANT SELECT ON complaint_events TO rectify_api;
GRANT INSERT (complaint_id, action, from_status, to_status, responsible_org_id, deadline, reason,
              comment) ON complaint_events TO rectify_api;

-- ---------------------------------------------------------------------------
-- Complainants' personal data (see the decisions at the top).
-- ---------------------------------------------------------------------------
CREATE TABLE complainants (
    id                bigint      PRIMARY KEY REFERENCES complaints (id),   -- = the complaint's id
    name_enc          bytea       CHECK (length(name_enc) BETWEEN 41 AND 1000),   -- nonce(24) || ciphertext+tag
    phone_enc         bytea       CHECK (length(phone_enc) BETWEEN 41 AND 1000),
    id_number_enc     bytea       CHECK (length(id_number_enc) BETWEEN 41 AND 1000),
    address_enc       bytea       CHECK (length(address_enc) BETWEEN 41 AND 4000),
    name_masked       text        CHECK (length(name_masked) <= 100),
    phone_masked      text        CHECK (length(phone_masked) <= 40),
    id_number_masked  text        CHECK (length(id_number_masked) <= 40),
    address_masked    text        CHECK (length(address_masked) <= 200),
    -- keyed BLAKE2b of the clear values: tells a changed import row from an
    -- unchanged one without decrypting (random nonces make ciphertexts differ)
    digest            bytea       NOT NULL CHECK (length(digest) = 32),
    key_id            smallint    NOT NULL DEFAULT 1,
    version           integer     NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE complainants IS 'Personal data of complainants: encrypted by the service, masked copies in clear.';
CREATE TRIGGER complainants_touch BEFORE UPDATE ON complainants
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('complainants',
    redact_columns => '{name_enc,phone_enc,id_number_enc,address_enc,digest}');
ALTER TABLE complainants ENABLE ROW LEVEL SECURITY;
CREATE POLICY complainants_read ON complainants FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.id = complainants.id));
-- (No visibility check on insert: the import inserts a complaint and its
-- complainant in one statement, whose snapshot does not show the new
-- complaint yet. The foreign key still requires the complaint.)
CREATE POLICY complainants_insert ON complainants FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_any_role('{admin,office,integration}'::text[]));
CREATE POLICY complainants_update ON complainants FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office,integration}'::text[])
           AND EXISTS (SELECT 1 FROM complaints c WHERE c.id = complainants.id))
    WITH CHECK (rectify.has_any_role('{admin,office,integration}'::text[]));
-- No SELECT on the encrypted columns: see complainant_secrets(). The digest
-- is readable (a keyed hash: worthless without RECTIFY_PII_KEY) so that the
-- import's upsert can compare it.
GRANT SELECT (id, name_masked, phone_masked, id_number_masked, address_masked, digest, key_id,
              version, created_at, updated_at) ON complainants TO rectify_api;
GRANT INSERT (id, name_enc, phone_enc, id_number_enc, address_enc, name_masked, phone_masked,
              id_number_masked, address_masked, digest, key_id) ON complainants TO rectify_api;
GRANT UPDATE (name_enc, phone_enc, id_number_enc, address_enc, name_masked, phone_masked,
              id_number_masked, address_masked, digest, key_id) ON complainants TO rectify_api;

-- Every read of clear personal data; audited, so it is in the hash chain.
CREATE TABLE pii_reads (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose       text        NOT NULL CHECK (purpose IN ('view', 'export')),
    complaint_id  bigint      REFERENCES complaints (id),       -- NULL for an export
    row_count     integer     NOT NULL DEFAULT 1,
    user_id       bigint      NOT NULL,
    org_id        bigint,
    request_id    text,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pii_reads_complaint_idx ON pii_reads (complaint_id, id);
SELECT rectify.enable_audit('pii_reads');
ALTER TABLE pii_reads ENABLE ROW LEVEL SECURITY;
CREATE POLICY pii_reads_read ON pii_reads FOR SELECT TO rectify_api
    USING (rectify.has_any_role('{admin,office,discipline}'::text[]));
GRANT SELECT ON pii_reads TO rectify_api;

-- The encrypted values of the complainants of p_ids (visible complaints
-- only), for admin and office; records one pii_reads row per complaint
-- (purpose 'view') or one for the whole call (purpose 'export').
CREATE FUNCTION rectify.complainant_secrets(p_ids bigint[], p_purpose text)
    RETURNS TABLE (id bigint, campaign_id bigint, handover_no text, name_enc bytea,
                   phone_enc bytea, id_number_enc bytea, address_enc bytea, key_id smallint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    n integer;
BEGIN
    IF NOT rectify.has_any_role('{admin,office}'::text[]) OR rectify.user_id() IS NULL THEN
        RAISE EXCEPTION 'Only the rectification office may see complainants'' personal data.'
            USING ERRCODE = 'RX403', HINT = 'forbidden';
    END IF;
    -- admin and office see the whole province: no scope filter is lost here.
    RETURN QUERY
        SELECT p.id, c.campaign_id, c.handover_no, p.name_enc, p.phone_enc, p.id_number_enc,
               p.address_enc, p.key_id
          FROM complainants p JOIN complaints c ON c.id = p.id
         WHERE p.id = ANY (p_ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        IF p_purpose = 'export' THEN
            INSERT INTO pii_reads (purpose, complaint_id, row_count, user_id, org_id, request_id)
            VALUES ('export', NULL, n, rectify.user_id(), rectify.org_id(),
                    nullif(current_setting('rectify.request_id', true), ''));
        ELSE
            INSERT INTO pii_reads (purpose, complaint_id, row_count, user_id, org_id, request_id)
            SELECT 'view', p.id, 1, rectify.user_id(), rectify.org_id(),
                   nullif(current_setting('rectify.request_id', true), '')
              FROM complainants p WHERE p.id = ANY (p_ids);
        END IF;
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.complainant_secrets(bigint[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complainant_secrets(bigint[], text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Atomic import staging: validated rows between the streaming pass and the
-- applying transaction. Private to the importing user.
-- ---------------------------------------------------------------------------
CREATE TABLE complaint_import_chunks (
    import_id   uuid        NOT NULL,
    seq         integer     NOT NULL,
    user_id     bigint      NOT NULL DEFAULT rectify.user_id(),
    rows        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (import_id, seq)
);
CREATE INDEX complaint_import_chunks_age_idx ON complaint_import_chunks (created_at);
ALTER TABLE complaint_import_chunks ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_import_chunks_own ON complaint_import_chunks FOR ALL TO rectify_api
    USING (user_id = rectify.user_id()) WITH CHECK (user_id = rectify.user_id());
GRANT SELECT, INSERT (import_id, seq, rows), DELETE ON complaint_import_chunks TO rectify_api;

-- Atomic pass 2: a row that resolved in pass 1 no longer does (an org was
-- renamed in between): refuse the whole import.
CREATE FUNCTION rectify.complaint_import_guard(p_atomic boolean, p_failed bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF p_atomic AND p_failed > 0 THEN
        RAISE EXCEPTION '% row(s) of the import no longer resolve; nothing was imported.', p_failed
            USING ERRCODE = 'RX409', HINT = 'import_conflict';
    END IF;
    RETURN true;
END
$$;
GRANT EXECUTE ON FUNCTION rectify.complaint_import_guard(boolean, bigint) TO rectify_api;

-- Removes staging left by crashed imports (any user's; a definer function
-- because RLS hides other users' rows).
CREATE FUNCTION rectify.complaint_import_gc() RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$ DELETE FROM complaint_import_chunks WHERE created_at < now() - interval '1 day' $$;
REVOKE EXECUTE ON FUNCTION rectify.complaint_import_gc() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complaint_import_gc() TO rectify_api;

-- ---------------------------------------------------------------------------
-- Idempotency-Key store (any POST may use it): per user and route, the
-- SHA-256 of the body and the stored answer; kept 24 hours. A row with
-- status NULL is a request still running (or one that died: taken over
-- after an hour).
-- ---------------------------------------------------------------------------
CREATE TABLE idempotency_keys (
    user_id       bigint      NOT NULL,
    route         text        NOT NULL CHECK (length(route) <= 200),
    key           text        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    body_hash     bytea       CHECK (length(body_hash) = 32),
    status        integer     CHECK (status BETWEEN 100 AND 599),
    content_type  text,
    response      text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (user_id, route, key)
);
CREATE INDEX idempotency_keys_age_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_own ON idempotency_keys FOR ALL TO rectify_api
    USING (user_id = rectify.user_id()) WITH CHECK (user_id = rectify.user_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO rectify_api;
