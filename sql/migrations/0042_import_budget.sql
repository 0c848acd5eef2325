-- 0042_import_budget.sql — large atomic complaint imports finish, and the
-- dry run predicts the real run (issue 10, items 5 and 7).
--
-- 1. rectify.audit_flush (0036) chained the queue with a recursive CTE, one
--    probe of audit_pending per step. plpgsql caches that statement's plan
--    per connection; after five flushes it keeps a generic plan made while
--    audit_pending was small (autovacuum empties and truncates it), and that
--    plan scans audit_pending (a sequential scan, or a hash over the
--    transaction's entries) in EVERY step of the recursion: the flush became
--    O(n²) on any connection that had flushed a few times before. Measured
--    on a warm connection after VACUUM audit_pending: 2 500 entries 1.4 s,
--    5 000 4.5 s, 10 000 22.7 s; a 20 000-row atomic complaint import (40 000
--    entries: complaints and complainants) did not commit within minutes.
--    The chain is now a running aggregate (rectify.audit_chain, a window
--    aggregate over the entries in queue order): one scan of the
--    transaction's entries, one sort, no join, whatever the plan. Same
--    entries, same hashes (rectify.audit_hash), same checks; audit_verify is
--    unchanged.
-- 2. rectify.complaint_handovers_elsewhere: which of a batch's hand-over
--    numbers are already used, in the campaign, by complaints the caller
--    cannot see. The import's upsert (src/api/complaint_import.c) reports
--    those rows as failed (code `conflict`, a message that does not say
--    where the number is used) instead of running into the UPDATE policy
--    (403 for the whole file), and the dry run, which runs the same upsert
--    and rolls it back, gives the same answer. One call per batch (an index
--    scan for every number at once), not a probe per row.

-- ---------------------------------------------------------------------------
-- 1. The audit chain in one pass
-- ---------------------------------------------------------------------------
-- One step of the chain: the hash of the next entry, linked to the previous
-- entry's hash (the state), or to first_prev (the head's hash) for the first.
-- Non-strict: the state starts NULL, and a first entry's first_prev may be
-- NULL too (an empty log); audit_hash reads a NULL prev_hash as ''.
CREATE FUNCTION rectify.audit_chain_step(state bytea, first_prev bytea, id bigint,
                                         at timestamptz, user_id bigint, org_id bigint,
                                         request_id text, table_name text, row_id text,
                                         action text, before jsonb, after jsonb,
                                         redacted text[])
    RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT rectify.audit_hash(CASE WHEN state IS NULL THEN first_prev ELSE state END, id, at,
                              user_id, org_id, request_id, table_name, row_id, action,
                              before, after, redacted)
    $$;
REVOKE EXECUTE ON FUNCTION rectify.audit_chain_step(bytea, bytea, bigint, timestamptz, bigint,
    bigint, text, text, text, text, jsonb, jsonb, text[]) FROM PUBLIC;

-- As a window aggregate over ORDER BY id ROWS UNBOUNDED PRECEDING: each
-- row's hash. The frame only grows, so PostgreSQL advances one state (one
-- step per row), never recomputes it.
CREATE AGGREGATE rectify.audit_chain(bytea, bigint, timestamptz, bigint, bigint, text, text,
                                     text, text, jsonb, jsonb, text[]) (
    SFUNC = rectify.audit_chain_step,
    STYPE = bytea
);
REVOKE EXECUTE ON FUNCTION rectify.audit_chain(bytea, bigint, timestamptz, bigint, bigint, text,
    text, text, text, jsonb, jsonb, text[]) FROM PUBLIC;

-- Chain this transaction's queued events: lock the head, check the queue is
-- whole, hash and append the entries in queue order, move the head once.
CREATE OR REPLACE FUNCTION rectify.audit_flush() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    queued   bigint := coalesce(nullif(current_setting('rectify.audit_queued', true), ''), '0')::bigint;
    flushed  bigint := coalesce(nullif(current_setting('rectify.audit_flushed', true), ''), '0')::bigint;
    tx       bigint := txid_current();
    head     audit_head%ROWTYPE;
    n        bigint;
    last_seq bigint;
BEGIN
    DELETE FROM audit_flush_requests WHERE txid = tx;
    IF queued <= flushed THEN
        RETURN;
    END IF;
    SELECT * INTO STRICT head FROM audit_head WHERE singleton FOR UPDATE;
    -- (txid, seq) is the key: n distinct seqs in flushed+1 … queued with
    -- n = queued - flushed are all of them. A hole would silently drop
    -- entries: refuse the commit.
    SELECT count(*), max(seq) INTO n, last_seq FROM audit_pending WHERE txid = tx AND seq > flushed;
    IF n <> queued - flushed OR last_seq IS DISTINCT FROM queued THEN
        RAISE EXCEPTION 'audit queue of transaction % is not contiguous', tx;
    END IF;
    -- ids follow the queue: head.last_id + 1 … + n. `at` is read per entry
    -- (clock_timestamp, evaluated after the sort: in queue order).
    INSERT INTO audit_log (id, at, user_id, org_id, request_id, table_name, row_id,
                           action, before, after, redacted, prev_hash, hash)
    SELECT c.id, c.at, c.user_id, c.org_id, c.request_id, c.table_name, c.row_id, c.action,
           c.before, c.after, c.redacted, lag(c.hash, 1, head.last_hash) OVER (ORDER BY c.id),
           c.hash
      FROM (SELECT s.*,
                   rectify.audit_chain(head.last_hash, s.id, s.at, s.user_id, s.org_id,
                                       s.request_id, s.table_name, s.row_id, s.action, s.before,
                                       s.after, s.redacted)
                       OVER (ORDER BY s.id ROWS UNBOUNDED PRECEDING) AS hash
              FROM (SELECT p.user_id, p.org_id, p.request_id, p.table_name, p.row_id, p.action,
                           p.before, p.after, p.redacted, head.last_id + (p.seq - flushed) AS id,
                           clock_timestamp() AS at
                      FROM audit_pending p
                     WHERE p.txid = tx AND p.seq > flushed
                     ORDER BY p.seq) s) c;
    UPDATE audit_head h SET last_id = a.id, last_hash = a.hash
      FROM audit_log a
     WHERE h.singleton AND a.id = head.last_id + n;
    DELETE FROM audit_pending WHERE txid = tx;
    PERFORM set_config('rectify.audit_flushed', queued::text, true);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_flush() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- 2. Hand-over numbers used where the caller cannot see
-- ---------------------------------------------------------------------------
-- Runs as the owner (row-level security would hide exactly these rows);
-- answers only callers that may import, and only numbers they sent: the
-- numbers themselves, never which org, county or complaint uses them.
CREATE FUNCTION rectify.complaint_handovers_elsewhere(p_campaign_id bigint, p_handover_nos text[])
    RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER
    ROWS 10
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT c.handover_no FROM complaints c
     WHERE rectify.has_any_role('{admin,office,integration}'::text[])
       AND c.campaign_id = p_campaign_id AND c.handover_no = ANY (p_handover_nos)
       AND NOT coalesce(rectify.in_scope(c.owner_org_path) OR rectify.in_scope(c.county_org_path),
                        false)
    $$;
REVOKE EXECUTE ON FUNCTION rectify.complaint_handovers_elsewhere(bigint, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complaint_handovers_elsewhere(bigint, text[]) TO rectify_api;
COMMENT ON FUNCTION rectify.complaint_handovers_elsewhere(bigint, text[]) IS
    'The given hand-over numbers that complaints of the campaign outside the caller''s scope already use (0042). For the import''s per-row `conflict`; answers importing roles only.';
