-- Audit log: entries for changes, who/request recorded, secrets stripped,
-- chain verification, and detection of edited, deleted and truncated entries.
\set ON_ERROR_STOP 1

-- The migrations' seeds (orgs, escalation rules, calendars) wrote entries, and the
-- chain verifies every one of them.
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v = jsonb_build_object('ok', true, 'entries', (SELECT count(*) FROM audit_log)), v::text;
    ASSERT (SELECT count(*) FROM audit_log) >= (SELECT count(*) FROM orgs), 'one entry per org at least';
    ASSERT (SELECT min(id) FROM audit_log) = 1
       AND (SELECT max(id) FROM audit_log) = (SELECT count(*) FROM audit_log), 'ids gapless from 1';
    ASSERT (SELECT prev_hash FROM audit_log WHERE id = 1) IS NULL, 'genesis entry';
    ASSERT (SELECT bool_and(a.prev_hash = p.hash) FROM audit_log a JOIN audit_log p ON p.id = a.id - 1),
           'each entry points at its predecessor';
END
$$;

-- A request as the admin: create a user with a password, change it, rename.
CREATE TEMP TABLE mark AS SELECT max(id) AS last FROM audit_log;
GRANT SELECT ON mark TO rectify_api;
INSERT INTO users (username, display_name, org_id, roles)
VALUES ('root', 'Root', (SELECT id FROM orgs WHERE code = '620000'), '{admin}');

BEGIN;
SELECT set_config('role', 'rectify_api', true),
       set_config('rectify.user_id', (SELECT id::text FROM users WHERE username = 'root'), true),
       set_config('rectify.org_id', (SELECT id::text FROM orgs WHERE code = '620000'), true),
       set_config('rectify.org_path', (SELECT path::text FROM orgs WHERE code = '620000'), true),
       set_config('rectify.roles', 'admin', true),
       set_config('rectify.request_id', 'req-0001', true) \g /dev/null
INSERT INTO users (username, display_name, org_id, roles, password_hash)
VALUES ('zhang.san', '张三', (SELECT id FROM orgs WHERE code = '620102'), '{unit}',
        '$argon2id$v=19$m=65536,t=2,p=1$U0FMVFNBTFQ$SECRETHASHONE');
UPDATE users SET password_hash = '$argon2id$v=19$m=65536,t=2,p=1$U0FMVFNBTFQ$SECRETHASHTWO'
 WHERE username = 'zhang.san';
UPDATE users SET display_name = '张三丰' WHERE username = 'zhang.san';
-- Entries are appended at commit (deferred trigger): none yet.
-- (Only the owner's earlier insert of 'root' is there.)
DO $$ BEGIN ASSERT (SELECT count(*) FROM audit_log WHERE id > (SELECT last FROM mark)) = 1, 'deferred'; END $$;
COMMIT;

-- A sign-in stamps last_login_at: no new version, no audit entry.
SELECT rectify.login_succeeded(ARRAY['u:zhang.san'], (SELECT id FROM users WHERE username = 'zhang.san')) \g /dev/null

DO $$
DECLARE
    m      bigint := (SELECT last FROM mark);
    root   bigint := (SELECT id FROM users WHERE username = 'root');
    zs     bigint := (SELECT id FROM users WHERE username = 'zhang.san');
    e      audit_log%ROWTYPE;
BEGIN
    -- Owner-made insert of 'root' (no identity), then 3 entries of the request.
    ASSERT (SELECT count(*) FROM audit_log WHERE id > m) = 4,
           'entries: ' || (SELECT count(*) FROM audit_log WHERE id > m);
    SELECT * INTO e FROM audit_log WHERE id = m + 1;
    ASSERT e.table_name = 'users' AND e.action = 'insert' AND e.user_id IS NULL AND e.request_id IS NULL,
           'owner insert has no identity';

    SELECT * INTO e FROM audit_log WHERE id = m + 2;
    ASSERT e.table_name = 'users' AND e.action = 'insert' AND e.row_id = zs::text, 'insert entry';
    ASSERT e.user_id = root AND e.request_id = 'req-0001'
       AND e.org_id = (SELECT id FROM orgs WHERE code = '620000'), 'who and request recorded';
    ASSERT e.before IS NULL AND e.after ->> 'display_name' = '张三', 'insert image';
    ASSERT NOT e.after ? 'password_hash', 'password_hash stripped from insert';
    ASSERT e.redacted = '{password_hash}', 'setting the password is recorded as a fact';

    SELECT * INTO e FROM audit_log WHERE id = m + 3;
    ASSERT e.action = 'update' AND NOT e.before ? 'password_hash' AND NOT e.after ? 'password_hash',
           'password_hash stripped from update';
    ASSERT e.redacted = '{password_hash}', 'password change recorded';
    ASSERT (e.after ->> 'token_epoch')::int = (e.before ->> 'token_epoch')::int + 1, 'epoch bumped';

    SELECT * INTO e FROM audit_log WHERE id = m + 4;
    ASSERT e.before ->> 'display_name' = '张三' AND e.after ->> 'display_name' = '张三丰', 'rename';
    ASSERT e.redacted = '{}', 'nothing redacted changed';

    -- Nothing anywhere in the log contains a hash.
    ASSERT NOT EXISTS (SELECT 1 FROM audit_log
                        WHERE before::text LIKE '%argon2%' OR after::text LIKE '%argon2%'),
           'no password hash anywhere in the log';
    ASSERT (SELECT last_login_at FROM users WHERE id = zs) IS NOT NULL, 'last_login_at set';
    ASSERT (SELECT version FROM users WHERE id = zs) = 3, 'sign-in did not bump the version';
    ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text;
END
$$;

-- A rolled-back change leaves no entry and no gap.
BEGIN;
UPDATE orgs SET name = name || '!' WHERE code = '620100';
ROLLBACK;
UPDATE orgs SET name_en = 'Lanzhou' WHERE code = '620100';
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v = jsonb_build_object('ok', true, 'entries', (SELECT count(*) FROM audit_log)), v::text;
    ASSERT (SELECT after ->> 'name_en' FROM audit_log ORDER BY id DESC LIMIT 1) = 'Lanzhou', 'org update logged';
END
$$;

-- The chain does not depend on the session's TimeZone / DateStyle.
SET TimeZone = 'America/Los_Angeles';
SET DateStyle = 'SQL, DMY';
DO $$ BEGIN ASSERT (rectify.audit_verify() ->> 'ok')::boolean, 'verify under other TimeZone'; END $$;
RESET TimeZone;
RESET DateStyle;

-- The guard refuses UPDATE/DELETE/TRUNCATE even for the owner.
DO $$
BEGIN
    BEGIN
        UPDATE audit_log SET after = '{}' WHERE id = 5;
        RAISE EXCEPTION 'owner updated audit_log';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    BEGIN
        DELETE FROM audit_log WHERE id = 5;
        RAISE EXCEPTION 'owner deleted from audit_log';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    BEGIN
        TRUNCATE audit_log;
        RAISE EXCEPTION 'owner truncated audit_log';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
END
$$;

-- Tampering, simulated by the owner with the guard switched off.  Each case
-- is rolled back so the next starts from an intact chain.
BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET after = jsonb_set(after, '{name}', '"伪造"') WHERE id = 5;
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v ->> 'ok' = 'false' AND v ->> 'reason' = 'hash mismatch'
       AND (v ->> 'first_broken_id')::bigint = 5 AND (v ->> 'entries')::bigint = 4, v::text;
END
$$;
ROLLBACK;

BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
-- Edit an entry and re-hash it: its successor no longer points at it.
UPDATE audit_log SET after = jsonb_set(after, '{name}', '"伪造"') WHERE id = 5;
UPDATE audit_log SET hash = rectify.audit_hash(prev_hash, id, at, user_id, org_id, request_id, table_name,
                                               row_id, action, before, after, redacted)
 WHERE id = 5;
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v ->> 'reason' = 'prev_hash mismatch' AND (v ->> 'first_broken_id')::bigint = 6, v::text;
END
$$;
ROLLBACK;

BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM audit_log WHERE id = 10;
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v ->> 'ok' = 'false' AND v ->> 'reason' = 'gap'
       AND (v ->> 'first_broken_id')::bigint = 10 AND (v ->> 'entries')::bigint = 9, v::text;
END
$$;
ROLLBACK;

BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
-- Reorder: swap the contents of entries 20 and 21 (ids stay in place).
UPDATE audit_log a SET at = b.at, row_id = b.row_id, after = b.after
  FROM audit_log b WHERE (a.id, b.id) IN ((20, 21), (21, 20));
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v ->> 'reason' = 'hash mismatch' AND (v ->> 'first_broken_id')::bigint = 20, v::text;
END
$$;
ROLLBACK;

BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM audit_log WHERE id >= (SELECT max(id) - 1 FROM audit_log);   -- cut the tail
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
    n bigint := (SELECT last_id FROM audit_head);
BEGIN
    ASSERT v ->> 'reason' = 'head mismatch' AND (v ->> 'first_broken_id')::bigint = n - 1, v::text;
END
$$;
ROLLBACK;

BEGIN;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DELETE FROM audit_log WHERE id = 1;                                      -- cut the head
DO $$
DECLARE
    v jsonb := rectify.audit_verify();
BEGIN
    ASSERT v ->> 'reason' = 'gap' AND (v ->> 'first_broken_id')::bigint = 1, v::text;
END
$$;
ROLLBACK;

-- rectify_api may call audit_verify (the service decides who may).
BEGIN;
SELECT set_config('role', 'rectify_api', true), set_config('rectify.user_id', '1', true),
       set_config('rectify.roles', 'unit', true) \g /dev/null
DO $$ BEGIN ASSERT (rectify.audit_verify() ->> 'ok')::boolean, 'verify as rectify_api'; END $$;
ROLLBACK;

-- After all the rolled-back tampering, the real chain is intact, and appends continue it.
UPDATE orgs SET name_en = 'Lanzhou City' WHERE code = '620100';
DO $$ BEGIN ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text; END $$;

-- enable_audit refuses unknown columns (a typo must not leak a secret).
DO $$
BEGIN
    PERFORM rectify.enable_audit('users', redact_columns => '{pasword_hash}');
    RAISE EXCEPTION 'typo accepted';
EXCEPTION WHEN raise_exception THEN
    IF SQLERRM = 'typo accepted' THEN RAISE; END IF;
END
$$;

-- A DELETE is logged with the before image.
CREATE TABLE audited_demo (id int PRIMARY KEY, v text);
SELECT rectify.enable_audit('audited_demo') \g /dev/null
INSERT INTO audited_demo VALUES (1, 'a');
DELETE FROM audited_demo;
DO $$
DECLARE
    e audit_log%ROWTYPE;
BEGIN
    SELECT * INTO e FROM audit_log ORDER BY id DESC LIMIT 1;
    ASSERT e.table_name = 'audited_demo' AND e.action = 'delete' AND e.after IS NULL
       AND e.before = '{"id": 1, "v": "a"}' AND e.row_id = '1', row_to_json(e)::text;
    ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text;
END
$$;

-- Bulk statements (0036: statement-level triggers, one flush per transaction).
-- A multi-row insert writes one entry per row, in the order written, contiguous; a
-- rolled-back statement writes nothing; several statements keep their order;
-- nothing stays queued after COMMIT.
CREATE TEMP TABLE bulk_mark AS SELECT max(id) AS last FROM audit_log;
BEGIN;
INSERT INTO audited_demo SELECT g, 'v' || g FROM generate_series(200, 101, -1) g;
SAVEPOINT s;
INSERT INTO audited_demo SELECT g, 'gone' FROM generate_series(1000, 1009) g;
ROLLBACK TO SAVEPOINT s;
UPDATE audited_demo SET v = 'changed' WHERE id IN (150, 151);
DELETE FROM audited_demo WHERE id BETWEEN 101 AND 105;
COMMIT;
DO $$
DECLARE
    m bigint := (SELECT last FROM bulk_mark);
BEGIN
    ASSERT (SELECT count(*) FROM audit_log WHERE id > m) = 100 + 2 + 5,
           'entries: ' || (SELECT count(*) FROM audit_log WHERE id > m);
    ASSERT (SELECT array_agg(row_id::int ORDER BY id) FROM audit_log WHERE id > m AND action = 'insert')
         = (SELECT array_agg(g) FROM generate_series(200, 101, -1) g), 'inserts in the order written';
    ASSERT (SELECT max(id) FROM audit_log WHERE action = 'insert' AND id > m)
         < (SELECT min(id) FROM audit_log WHERE action = 'update' AND id > m), 'statement order kept';
    ASSERT (SELECT bool_and(action = 'delete' AND before ->> 'v' LIKE 'v%')
              FROM audit_log WHERE id > m + 102), 'deletes after the updates';
    ASSERT NOT EXISTS (SELECT 1 FROM audit_log WHERE id > m AND after ->> 'v' = 'gone'),
           'rolled-back rows are not audited';
    ASSERT NOT EXISTS (SELECT 1 FROM audit_pending), 'queue empty after commit';
    ASSERT NOT EXISTS (SELECT 1 FROM audit_flush_requests), 'no flush request left';
    ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text;
END
$$;

-- A redacted column set by a multi-row insert: the name is recorded, never the value.
CREATE TABLE audited_secret (id int PRIMARY KEY, secret text, note text);
SELECT rectify.enable_audit('audited_secret', redact_columns => '{secret}') \g /dev/null
INSERT INTO audited_secret VALUES (1, 'hunter2', 'a'), (2, NULL, 'b');
DO $$
BEGIN
    ASSERT (SELECT redacted FROM audit_log WHERE table_name = 'audited_secret' AND row_id = '1') = '{secret}';
    ASSERT (SELECT redacted FROM audit_log WHERE table_name = 'audited_secret' AND row_id = '2') = '{}';
    ASSERT NOT EXISTS (SELECT 1 FROM audit_log WHERE table_name = 'audited_secret'
                        AND (after::text LIKE '%hunter2%' OR after ? 'secret')), 'value never logged';
END
$$;

-- Flushing early (SET CONSTRAINTS … IMMEDIATE) and queueing more in the same
-- transaction: the later events get their own flush at COMMIT.
BEGIN;
INSERT INTO audited_demo VALUES (300, 'early');
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
DO $$ BEGIN ASSERT (SELECT after ->> 'v' FROM audit_log ORDER BY id DESC LIMIT 1) = 'early', 'flushed early'; END $$;
INSERT INTO audited_demo VALUES (301, 'late');
COMMIT;
DO $$
BEGIN
    ASSERT (SELECT after ->> 'v' FROM audit_log ORDER BY id DESC LIMIT 1) = 'late', 'late event chained';
    ASSERT NOT EXISTS (SELECT 1 FROM audit_pending);
    ASSERT (rectify.audit_verify() ->> 'ok')::boolean, rectify.audit_verify()::text;
END
$$;
