-- Clues (0045) at the database level, as the service's session sets it
-- (rectify.begin_request, then role rectify_api): only office and discipline
-- see or write any clue row, the sealed columns are never readable by
-- rectify_api (only through clue_person_secrets, which records the read),
-- the workflow table is what the API documents, and the schema refuses the
-- states the API must never write.
\set ON_ERROR_STOP 1

CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO rectify_api;

INSERT INTO users (username, display_name, org_id, roles)
SELECT v.username, v.username, o.id, v.roles
  FROM (VALUES ('office', 'GS-OFFICE', '{office}'::text[]), ('cdi', 'GS-CDI', '{discipline}'),
               ('admin', '620000', '{admin}'), ('leader', 'GS-LG', '{leader}'),
               ('unit', '620102', '{unit}'), ('viewer', '620000', '{viewer}'),
               ('inspector', 'GS-OFFICE', '{inspector}'), ('acceptor', 'GS-EE', '{acceptor}'),
               ('integration', '620000', '{integration}')) AS v(username, org_code, roles)
  JOIN orgs o ON o.code = v.org_code;
INSERT INTO campaigns (name, round, province_org_id) SELECT 'Round 3', 3, id FROM orgs WHERE code = '620000';
-- one clue with one (fake-sealed) person and one link, written as the owner
INSERT INTO clues (campaign_id, source, kind, summary) SELECT id, 'rectification', 'fake', '线索' FROM campaigns;
INSERT INTO clue_persons (clue_id, ref, name_enc, post_enc, org_enc, name_masked, post_masked, org_masked, level)
SELECT id, repeat('a', 32), decode(repeat('00', 41), 'hex'), decode(repeat('00', 41), 'hex'),
       decode(repeat('00', 41), 'hex'), '张*', '局****', '某****', 'division' FROM clues;
INSERT INTO clue_links (clue_id, spot_check_id) SELECT id, 7 FROM clues;

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

-- 'rows=N' for a statement, or the SQLSTATE it failed with.
CREATE FUNCTION t.run(p_sql text) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE p_sql;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN 'rows=' || n;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- The count a query answers, or its SQLSTATE.
CREATE FUNCTION t.count(p_sql text) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE p_sql INTO n;
    RETURN n::text;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

CREATE FUNCTION t.want(p_want text, p_got text, p_what text) RETURNS text[]
    LANGUAGE sql
    AS $$
    SELECT CASE WHEN p_got = p_want THEN '{}'::text[]
                ELSE ARRAY[format('%s [as %s]: got %s, want %s', p_what,
                                  current_setting('rectify.request_id'), p_got, p_want)] END
$$;

CREATE FUNCTION t.done(p_errors text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF cardinality(p_errors) > 0 THEN
        RAISE EXCEPTION E'%\n', array_to_string(p_errors, E'\n');
    END IF;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t TO rectify_api;

-- ------------------------------------------------ nobody else sees a row
DO $$
DECLARE
    e text[] := '{}';
    who text;
BEGIN
    FOREACH who IN ARRAY '{admin,leader,unit,viewer,inspector,acceptor,integration}'::text[] LOOP
        PERFORM t.act_as(who);
        e := e || t.want('0', t.count('SELECT count(*) FROM clues'), who || ' clues');
        e := e || t.want('0', t.count('SELECT count(*) FROM clue_links'), who || ' links');
        e := e || t.want('0', t.count('SELECT count(id) FROM clue_persons'), who || ' persons');
        e := e || t.want('rows=0', t.run($q$UPDATE clues SET summary = 'x'$q$), who || ' update');
        e := e || t.want('42501', t.run($q$INSERT INTO clues (campaign_id, source, summary)
                                          SELECT id, 'complaint', 'x' FROM campaigns$q$), who || ' insert');
        e := e || t.want('RX404', t.run($q$SELECT * FROM rectify.clue_person_secrets(
                                          (SELECT min(id) FROM clues), 'view')$q$), who || ' secrets');
        e := e || t.want('[]', (SELECT (rectify.public_accountability(NULL)->'items')::text), who || ' public');
        PERFORM set_config('role', 'none', true);
    END LOOP;
    PERFORM t.done(e);
END
$$;

-- ------------------------------------ office and discipline: masked only
DO $$
DECLARE
    e text[] := '{}';
    who text;
    reads bigint;
BEGIN
    FOREACH who IN ARRAY '{office,cdi}'::text[] LOOP
        PERFORM t.act_as(who);
        e := e || t.want('1', t.count('SELECT count(*) FROM clues'), who || ' clues');
        e := e || t.want('1', t.count('SELECT count(name_masked) FROM clue_persons'), who || ' masked');
        e := e || t.want('42501', t.count('SELECT count(name_enc) FROM clue_persons'), who || ' name_enc');
        e := e || t.want('42501', t.count('SELECT count(*) FROM (SELECT p FROM clue_persons p) x'),
                         who || ' whole row');
        PERFORM set_config('role', 'none', true);
        reads := (SELECT count(*) FROM pii_reads);
        PERFORM t.act_as(who);
        e := e || t.want('1', t.count($q$SELECT count(name_enc) FROM rectify.clue_person_secrets(
                                        (SELECT min(id) FROM clues), 'view')$q$), who || ' secrets');
        PERFORM set_config('role', 'none', true);
        e := e || t.want((reads + 1)::text, (SELECT count(*)::text FROM pii_reads), who || ' read recorded');
        e := e || t.want('view', (SELECT purpose FROM pii_reads ORDER BY id DESC LIMIT 1), who || ' purpose');
    END LOOP;
    PERFORM t.done(e);
END
$$;

-- ------------------------------------------------------ the workflow table
DO $$
BEGIN
    IF (SELECT string_agg(format('%s-%s->%s:%s', from_status, action, to_status, role), ' '
                          ORDER BY s.sort)
          FROM clue_transitions t JOIN clue_statuses s ON s.code = t.from_status)
       <> 'registered-transfer->transferred:office transferred-receive->received:discipline '
          'received-investigate->under_investigation:discipline '
          'under_investigation-conclude->concluded:discipline' THEN
        RAISE EXCEPTION 'clue_transitions is not the documented workflow';
    END IF;
END
$$;

-- ------------------------------------------ states the schema never allows
DO $$
DECLARE
    e text[] := '{}';
BEGIN
    e := e || t.want('23514', t.run($q$UPDATE clues SET status = 'transferred'$q$), 'transferred without doc');
    e := e || t.want('23514', t.run($q$UPDATE clues SET status = 'concluded', transferred_on = '2024-01-01',
                                      transfer_doc_no = '1'$q$), 'concluded without conclusion');
    e := e || t.want('23514', t.run($q$UPDATE clues SET published_at = now(), public_summary = 'x'$q$),
                     'published before concluded');
    e := e || t.want('23514', t.run($q$UPDATE clues SET kind = NULL$q$), 'rectification without kind');
    e := e || t.want('23514', t.run($q$INSERT INTO clue_links (clue_id, problem_id, spot_check_id)
                                      SELECT id, NULL, NULL FROM clues$q$), 'link without target');
    e := e || t.want('23505', t.run($q$INSERT INTO clue_links (clue_id, spot_check_id) SELECT id, 7 FROM clues$q$),
                     'duplicate link');
    e := e || t.want('23503', t.run($q$UPDATE clue_persons SET outcome = 'dismissed'$q$), 'unknown outcome');
    e := e || t.want('23514', t.run($q$UPDATE clue_persons SET outcome_detail = 'x'$q$), 'detail without outcome');
    e := e || t.want('23514', t.run($q$UPDATE clue_persons SET public_name = 'x'$q$), 'half a public identity');
    e := e || t.want('23514', t.run($q$UPDATE clue_persons SET name_enc = '\x00'$q$), 'short ciphertext');
    PERFORM t.done(e);
END
$$;
