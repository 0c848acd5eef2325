-- rectify.complaint_similar_candidates (0033, 0034, 0039) runs as the owner
-- but returns only ids of complaints the caller may see (complaints_read:
-- owner or county in the caller's subtree), and none for a complaint the
-- caller may not see. The session is set as the service sets it.
\set ON_ERROR_STOP 1

CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO rectify_api;

INSERT INTO users (username, display_name, org_id, roles)
SELECT v.username, v.username, o.id, v.roles
  FROM (VALUES ('county', '620102',    '{unit}'::text[]),        -- 兰州市城关区
               ('dept',   'GS-EE',     '{unit}'),                -- 生态环境厅
               ('office', 'GS-OFFICE', '{office}')) AS v(username, org_code, roles)
  JOIN orgs o ON o.code = v.org_code;

INSERT INTO campaigns (name, round, province_org_id) SELECT 'Round 1', 1, id FROM orgs WHERE code = '620000';
INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on) SELECT id, 1, '2023-11-20' FROM campaigns;

-- Seven complaints about one plant, in two neighbouring counties (620102,
-- 620103), all alike (the same county, or within ~5 km, and similar text and
-- entity name: every one is a candidate of every other, as the office sees):
--   A1, A2  county 620102, not assigned
--   A4      county 620102, assigned to the department
--   B1      county 620103, not assigned, next to A1
--   B2      county 620103, not assigned, no coordinates
--   B3      county 620103, assigned to county 620102 (which therefore sees it)
--   B5      county 620103, assigned to the department
-- The county sees A1, A2, A4, B3; the department A4, B5.
INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content,
                        pollution_types, county_org_id, responsible_org_id, deadline, status,
                        entity_name, latitude, longitude)
SELECT b.campaign_id, v.no, b.id, 'phone', now(),
       '化工厂夜间排放刺鼻气体 chemical plant releases acrid gas at night ' || v.no, '{air}',
       (SELECT id FROM orgs WHERE code = v.county), (SELECT id FROM orgs WHERE code = v.resp),
       CASE WHEN v.resp IS NOT NULL THEN current_date + 15 END,
       CASE WHEN v.resp IS NOT NULL THEN 'assigned' ELSE 'received' END,
       'Lanzhou Xinhua Chemical Co', v.lat, v.lon
  FROM complaint_batches b,
       (VALUES ('A1', '620102', NULL,     36.050, 103.800),
               ('A2', '620102', NULL,     36.051, 103.801),
               ('A4', '620102', 'GS-EE',  36.054, 103.804),
               ('B1', '620103', NULL,     36.052, 103.802),
               ('B2', '620103', NULL,     NULL,   NULL),
               ('B3', '620103', '620102', 36.053, 103.803),
               ('B5', '620103', 'GS-EE',  36.055, 103.805))
       AS v(no, county, resp, lat, lon);

CREATE FUNCTION t.act_as(p_username text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    u users%ROWTYPE;
BEGIN
    PERFORM set_config('role', 'none', true);
    SELECT * INTO STRICT u FROM users WHERE username = p_username;
    PERFORM rectify.begin_request(u.id, u.token_epoch, 'test-' || p_username),
            set_config('role', 'rectify_api', true);
END
$$;

-- The candidates of a complaint, called as the current caller, by hand-over
-- number; the ids are translated as the owner (the point is that the caller
-- may not be able to read them).
CREATE FUNCTION t.id_of(p_no text) RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$ SELECT id FROM complaints WHERE handover_no = p_no $$;
CREATE FUNCTION t.nos(p_ids bigint[]) RETURNS text[]
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$ SELECT coalesce(array_agg(handover_no ORDER BY handover_no), '{}')
            FROM complaints WHERE id = ANY (p_ids) $$;
CREATE FUNCTION t.similar(p_no text) RETURNS text[]
    LANGUAGE sql
    AS $$ SELECT t.nos(ARRAY(SELECT rectify.complaint_similar_candidates(t.id_of(p_no)))) $$;

-- The office sees the province: every other complaint is a candidate (B2 of
-- A1 neither shares the county nor has coordinates).
BEGIN;
SELECT t.act_as('office') \g /dev/null
DO $$
BEGIN
    ASSERT t.similar('A1') = '{A2,A4,B1,B3,B5}', 'office, A1: ' || t.similar('A1')::text;
    ASSERT t.similar('B2') = '{B1,B3,B5}', 'office, B2: ' || t.similar('B2')::text;
END
$$;
ROLLBACK;

-- The county: no complaint of the other county it does not see (B1, B2,
-- B5), B3 (assigned to it) is one; nothing at all for a complaint it does
-- not see.
BEGIN;
SELECT t.act_as('county') \g /dev/null
DO $$
DECLARE
    no text;
BEGIN
    ASSERT t.similar('A1') = '{A2,A4,B3}', 'county, A1: ' || t.similar('A1')::text;
    ASSERT t.similar('A4') = '{A1,A2,B3}', 'county, A4: ' || t.similar('A4')::text;
    ASSERT t.similar('B3') = '{A1,A2,A4}', 'county, B3: ' || t.similar('B3')::text;
    FOREACH no IN ARRAY '{B1,B2,B5}'::text[] LOOP
        ASSERT t.similar(no) = '{}', 'county, invisible ' || no || ': ' || t.similar(no)::text;
    END LOOP;
    -- whatever it returns, the caller can read
    ASSERT (SELECT count(*) FROM complaints
             WHERE id = ANY (ARRAY(SELECT rectify.complaint_similar_candidates(t.id_of('A1')))))
         = cardinality(t.similar('A1')), 'every candidate is readable';
END
$$;
ROLLBACK;

-- The department sees only what it handles.
BEGIN;
SELECT t.act_as('dept') \g /dev/null
DO $$
BEGIN
    ASSERT t.similar('A4') = '{B5}', 'dept, A4: ' || t.similar('A4')::text;
    ASSERT t.similar('B5') = '{A4}', 'dept, B5: ' || t.similar('B5')::text;
    ASSERT t.similar('A1') = '{}', 'dept, invisible A1: ' || t.similar('A1')::text;
END
$$;
ROLLBACK;

-- Anonymous: nothing.
BEGIN;
SELECT rectify.begin_request(NULL, NULL, 'test-anon'), set_config('role', 'rectify_api', true) \g /dev/null
DO $$ BEGIN ASSERT t.similar('A1') = '{}', 'anonymous: ' || t.similar('A1')::text; END $$;
ROLLBACK;
