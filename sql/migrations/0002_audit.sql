-- 0002_audit.sql — append-only, hash-chained audit log.
--
-- Every change to a business row appends one entry: who (rectify.user_id /
-- org_id / request_id of the transaction), when, table, row, action, the row
-- before and after (sensitive columns removed).  Each entry carries
--   hash = sha256(prev_hash || canonical text of the entry)
-- so editing, deleting or reordering entries breaks the chain, and
-- rectify.audit_verify() finds the first broken entry.
--
-- Design decisions:
-- * Ids are assigned by the appender, gapless (last id + 1), not by a sequence:
--   a sequence leaves holes when a transaction rolls back, and then a hole
--   could not tell "deleted" from "rolled back".  Gapless ids make every
--   deleted entry visible as a gap.
-- * Appends are serialized by the single row of audit_head (SELECT … FOR
--   UPDATE), which holds the last id and hash.  Under READ COMMITTED a waiting
--   appender re-reads the newest head once the holder commits; under
--   REPEATABLE READ/SERIALIZABLE it gets a serialization failure (40001,
--   retryable) instead of forking the chain.  The head also lets
--   audit_verify() notice entries cut off the end of the log.
-- * Two triggers per audited table.  rectify_audit (AFTER … FOR EACH ROW)
--   takes each event's images, who and request id, and queues them in
--   audit_pending.  rectify_audit_flush (a DEFERRABLE INITIALLY DEFERRED
--   constraint trigger) appends the transaction's queue to the chain at
--   COMMIT, after the transaction took all its row locks, so the head lock is
--   held only for the commit itself.  Appending at statement time would hold
--   the global head lock across the rest of the request and invite deadlocks
--   (T1 holds head and waits for a row T2 holds; T2 waits for head).
--   The first deferred call flushes the whole queue and moves the head ONCE;
--   the others find nothing queued (two transaction-local counters) and
--   return at once.  Moving the head once per transaction matters: every
--   UPDATE of the one head row inside one transaction leaves a version that
--   cannot be pruned before COMMIT, so per-entry head updates made a 100 000
--   row import quadratic.  Consequence: `at` is the commit-time clock, and
--   entries of one transaction are contiguous.
-- * Tamper evidence is against anyone below the owner: the owner (or a
--   superuser) can disable the guard trigger and recompute the chain.  Export
--   audit_head.last_hash periodically (e.g. in a daily report) to anchor it.
-- * Only SECURITY DEFINER functions owned by the owner write here; rectify_api
--   has SELECT only (RLS: admin, office, discipline).

CREATE TABLE audit_log (
    id          bigint      PRIMARY KEY CHECK (id > 0),       -- gapless, see above
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id     bigint,                                       -- no FK: entries outlive users
    org_id      bigint,
    request_id  text,
    table_name  text        NOT NULL,
    row_id      text,                                         -- the row's `id`, as text
    action      text        NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    before      jsonb,
    after       jsonb,
    -- Redacted columns (e.g. password_hash) whose value this event set,
    -- changed or cleared: the fact is recorded, the value never is.
    redacted    text[]      NOT NULL DEFAULT '{}',
    prev_hash   bytea,
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT audit_log_images CHECK (
        CASE action WHEN 'insert' THEN before IS NULL AND after IS NOT NULL
                    WHEN 'update' THEN before IS NOT NULL AND after IS NOT NULL
                    WHEN 'delete' THEN before IS NOT NULL AND after IS NULL END),
    CONSTRAINT audit_log_genesis CHECK ((id = 1) = (prev_hash IS NULL))
);
COMMENT ON TABLE audit_log IS
    'Append-only, hash-chained audit trail of changes to business rows; written only by rectify.audit_trigger().';

CREATE INDEX audit_log_row_idx ON audit_log (table_name, row_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, id);

-- The chain's head: exactly one row.
CREATE TABLE audit_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id    bigint  NOT NULL DEFAULT 0 CHECK (last_id >= 0),
    last_hash  bytea   CHECK ((last_id = 0) = (last_hash IS NULL))
);
COMMENT ON TABLE audit_head IS 'Last id and hash of audit_log; its row lock serializes appends.';
INSERT INTO audit_head DEFAULT VALUES;

-- Events of running transactions, waiting for COMMIT to be chained.  Rows of
-- a rolled-back transaction vanish with it.
CREATE TABLE audit_pending (
    txid        bigint  NOT NULL,
    seq         bigint  NOT NULL,
    user_id     bigint,
    org_id      bigint,
    request_id  text,
    table_name  text    NOT NULL,
    row_id      text,
    action      text    NOT NULL,
    before      jsonb,
    after       jsonb,
    redacted    text[]  NOT NULL,
    PRIMARY KEY (txid, seq)
);
COMMENT ON TABLE audit_pending IS 'Audit events queued by a running transaction; chained into audit_log at COMMIT.';

-- Canonical form of an entry: a jsonb array of its fields (jsonb text output
-- is deterministic: normalized keys, no insignificant whitespace), the
-- timestamp rendered in UTC with microseconds so that neither TimeZone nor
-- DateStyle of the session changes it.
CREATE FUNCTION rectify.audit_hash(prev_hash bytea, id bigint, at timestamptz,
                                   user_id bigint, org_id bigint, request_id text,
                                   table_name text, row_id text, action text,
                                   before jsonb, after jsonb, redacted text[])
    RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT sha256(coalesce(prev_hash, '\x'::bytea)
                  || convert_to(jsonb_build_array(
                         id,
                         to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                         user_id, org_id, request_id, table_name, row_id, action,
                         before, after, redacted)::text, 'UTF8'))
    $$;

-- Queue one event (internal; called by the row trigger as the owner).  Who
-- and the request id are those of the event's transaction.
CREATE FUNCTION rectify.audit_append(p_table_name text, p_row_id text, p_action text,
                                     p_before jsonb, p_after jsonb, p_redacted text[])
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    seq bigint := coalesce(nullif(current_setting('rectify.audit_queued', true), ''), '0')::bigint + 1;
BEGIN
    INSERT INTO audit_pending (txid, seq, user_id, org_id, request_id, table_name, row_id,
                               action, before, after, redacted)
    VALUES (txid_current(), seq, rectify.user_id(), rectify.org_id(),
            nullif(current_setting('rectify.request_id', true), ''),
            p_table_name, p_row_id, p_action, p_before, p_after, p_redacted);
    PERFORM set_config('rectify.audit_queued', seq::text, true);
    RETURN seq;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_append(text, text, text, jsonb, jsonb, text[]) FROM PUBLIC;

-- Chain this transaction's queued events (internal): lock the head, append
-- them in order, move the head once.  Cheap when there is nothing queued.
CREATE FUNCTION rectify.audit_flush() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    queued   bigint := coalesce(nullif(current_setting('rectify.audit_queued', true), ''), '0')::bigint;
    flushed  bigint := coalesce(nullif(current_setting('rectify.audit_flushed', true), ''), '0')::bigint;
    head     audit_head%ROWTYPE;
    ev       audit_pending%ROWTYPE;
    new_id   bigint;
    last     bytea;
    ts       timestamptz;
    h        bytea;
BEGIN
    IF queued <= flushed THEN
        RETURN;
    END IF;
    SELECT * INTO STRICT head FROM audit_head WHERE singleton FOR UPDATE;
    new_id := head.last_id;
    last := head.last_hash;
    FOR ev IN SELECT * FROM audit_pending
               WHERE txid = txid_current() AND seq > flushed ORDER BY seq LOOP
        new_id := new_id + 1;
        ts := clock_timestamp();
        h := rectify.audit_hash(last, new_id, ts, ev.user_id, ev.org_id, ev.request_id,
                                ev.table_name, ev.row_id, ev.action, ev.before, ev.after,
                                ev.redacted);
        INSERT INTO audit_log (id, at, user_id, org_id, request_id, table_name, row_id,
                               action, before, after, redacted, prev_hash, hash)
        VALUES (new_id, ts, ev.user_id, ev.org_id, ev.request_id, ev.table_name, ev.row_id,
                ev.action, ev.before, ev.after, ev.redacted, last, h);
        last := h;
    END LOOP;
    UPDATE audit_head SET last_id = new_id, last_hash = last WHERE singleton;
    DELETE FROM audit_pending WHERE txid = txid_current();
    PERFORM set_config('rectify.audit_flushed', queued::text, true);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_flush() FROM PUBLIC;

-- The deferred trigger: flushes the queue at COMMIT.
CREATE FUNCTION rectify.audit_flush_trigger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    PERFORM rectify.audit_flush();
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_flush_trigger() FROM PUBLIC;

-- The row trigger.  Arguments (set by rectify.enable_audit):
--   TG_ARGV[0]  text[] literal: columns to redact (value never stored; the
--               column name goes to `redacted` when the event changed it)
--   TG_ARGV[1]  text[] literal: columns to ignore (dropped from the images;
--               an update that changed only ignored columns writes no entry)
-- SECURITY DEFINER so that rectify_api, which may not write audit_log, can
-- still cause entries to be written.
CREATE FUNCTION rectify.audit_trigger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    redact   text[] := CASE WHEN TG_NARGS > 0 THEN TG_ARGV[0]::text[] ELSE '{}' END;
    ign      text[] := CASE WHEN TG_NARGS > 1 THEN TG_ARGV[1]::text[] ELSE '{}' END;
    b        jsonb;
    a        jsonb;
    row_id   text;
    changed  text[];
BEGIN
    IF TG_LEVEL <> 'ROW' OR TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'rectify.audit_trigger() must be an AFTER … FOR EACH ROW trigger';
    END IF;
    IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
    row_id := coalesce(a ->> 'id', b ->> 'id');

    SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO changed
      FROM unnest(redact) AS c
     WHERE nullif(b -> c, 'null') IS DISTINCT FROM nullif(a -> c, 'null');

    b := b - redact - ign;
    a := a - redact - ign;
    IF TG_OP = 'UPDATE' AND a = b AND changed = '{}' THEN
        RETURN NULL;                -- nothing an auditor needs to know
    END IF;

    PERFORM rectify.audit_append(TG_TABLE_NAME, row_id, lower(TG_OP), b, a, changed);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_trigger() FROM PUBLIC;

-- Attach the audit trigger to a table (idempotent: replaces an existing one).
--   SELECT rectify.enable_audit('tasks');
--   SELECT rectify.enable_audit('users', redact_columns => '{password_hash}',
--                                        ignore_columns => '{last_login_at}');
-- Column names are checked against the table so that a typo cannot leak a
-- secret into the log.  The DDL is built from the catalog's own quoting of
-- the regclass and %L literals, never from free text.
CREATE FUNCTION rectify.enable_audit(tbl regclass,
                                     redact_columns text[] DEFAULT '{}',
                                     ignore_columns text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(c, ', ') INTO missing
      FROM unnest(redact_columns || ignore_columns) AS c
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = tbl AND attname = c AND attnum > 0 AND NOT attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'enable_audit(%): no such column(s): %', tbl, missing;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'rectify_audit') THEN
        EXECUTE format('DROP TRIGGER rectify_audit ON %s', tbl);
        EXECUTE format('DROP TRIGGER rectify_audit_flush ON %s', tbl);
    END IF;
    EXECUTE format('CREATE TRIGGER rectify_audit'
                   ' AFTER INSERT OR UPDATE OR DELETE ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION rectify.audit_trigger(%L, %L)',
                   tbl, redact_columns::text, ignore_columns::text);
    EXECUTE format('CREATE CONSTRAINT TRIGGER rectify_audit_flush'
                   ' AFTER INSERT OR UPDATE OR DELETE ON %s'
                   ' DEFERRABLE INITIALLY DEFERRED'
                   ' FOR EACH ROW EXECUTE FUNCTION rectify.audit_flush_trigger()', tbl);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.enable_audit(regclass, text[], text[]) FROM PUBLIC;

-- Verify the whole chain, in id order.
--   {"ok": true,  "entries": N}
--   {"ok": false, "entries": N, "first_broken_id": ID, "reason": R}
-- where N counts the entries verified intact before the break, and R is
--   "gap"                 entry ID is missing (deleted); ID is the missing id
--   "prev_hash mismatch"  entry ID does not point at its predecessor's hash
--                         (predecessor's hash rewritten, or entries reordered)
--   "hash mismatch"       entry ID's content was changed after it was written
--   "head mismatch"       entries from ID on were cut off the end of the log
-- Executable by rectify_api; the service decides who may call it.
CREATE FUNCTION rectify.audit_verify() RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    r         audit_log%ROWTYPE;
    head      audit_head%ROWTYPE;
    expected  bigint := 1;
    prev      bytea;
    n         bigint := 0;
BEGIN
    SELECT * INTO STRICT head FROM audit_head;
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        IF r.id <> expected THEN
            RETURN jsonb_build_object('ok', false, 'entries', n,
                                      'first_broken_id', expected, 'reason', 'gap');
        END IF;
        IF r.prev_hash IS DISTINCT FROM prev THEN
            RETURN jsonb_build_object('ok', false, 'entries', n,
                                      'first_broken_id', r.id, 'reason', 'prev_hash mismatch');
        END IF;
        IF r.hash IS DISTINCT FROM rectify.audit_hash(r.prev_hash, r.id, r.at, r.user_id, r.org_id,
                                                      r.request_id, r.table_name, r.row_id,
                                                      r.action, r.before, r.after, r.redacted) THEN
            RETURN jsonb_build_object('ok', false, 'entries', n,
                                      'first_broken_id', r.id, 'reason', 'hash mismatch');
        END IF;
        prev := r.hash;
        expected := expected + 1;
        n := n + 1;
    END LOOP;
    IF head.last_id <> n OR head.last_hash IS DISTINCT FROM prev THEN
        RETURN jsonb_build_object('ok', false, 'entries', n,
                                  'first_broken_id', n + 1, 'reason', 'head mismatch');
    END IF;
    RETURN jsonb_build_object('ok', true, 'entries', n);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.audit_verify() TO rectify_api;

-- Append-only, even for the owner's everyday connections: UPDATE, DELETE and
-- TRUNCATE are refused.  (A deliberate `ALTER TABLE audit_log DISABLE TRIGGER`
-- by the owner still works — and audit_verify() will then show what changed.)
CREATE FUNCTION rectify.audit_log_refuse() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION rectify.audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION rectify.audit_log_refuse();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION rectify.audit_log_refuse();

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_head ENABLE ROW LEVEL SECURITY;   -- no policy: invisible to rectify_api
ALTER TABLE audit_pending ENABLE ROW LEVEL SECURITY;   -- likewise
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL
           AND rectify.has_any_role('{admin,office,discipline}'::text[]));
GRANT SELECT ON audit_log TO rectify_api;
