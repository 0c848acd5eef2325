-- 0032_complaint_import_speed.sql — complaint import throughput (issue 5).
--
-- * The audit row trigger writes the queue entry itself instead of calling
--   rectify.audit_append() (a second plpgsql function with its own SET
--   search_path, i.e. a GUC save/restore and a search-path recomputation per
--   row), skips the redaction query when the table redacts nothing, and
--   does not parse empty argument arrays. Same entries, same order, same
--   redaction: only cheaper per row.
-- * The deferred flush trigger fires once per audited row at COMMIT; all but
--   the first find nothing queued. It now compares the two transaction-local
--   counters before calling rectify.audit_flush(), so the thousands of empty
--   calls of a batch no longer pay for a nested SECURITY DEFINER call.
-- * rectify.complaint_import_rows(jsonb): the import's rows as a typed set
--   with a realistic row estimate (ROWS 1000 — one import batch). With
--   jsonb_to_recordset's default of 100 rows, the CTEs built on it were
--   estimated at a handful of rows, and the planner joined them by nested
--   loops over CTE scans (1000 × 1000 comparisons per batch).

CREATE OR REPLACE FUNCTION rectify.audit_trigger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    redact   text[];
    ign      text[];
    b        jsonb;
    a        jsonb;
    row_id   text;
    changed  text[] := '{}';
    seq      bigint;
BEGIN
    IF TG_LEVEL <> 'ROW' OR TG_WHEN <> 'AFTER' THEN
        RAISE EXCEPTION 'rectify.audit_trigger() must be an AFTER … FOR EACH ROW trigger';
    END IF;
    IF TG_NARGS > 0 AND TG_ARGV[0] <> '{}' THEN redact := TG_ARGV[0]::text[]; END IF;
    IF TG_NARGS > 1 AND TG_ARGV[1] <> '{}' THEN ign := TG_ARGV[1]::text[]; END IF;
    IF TG_OP <> 'INSERT' THEN b := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN a := to_jsonb(NEW); END IF;
    row_id := coalesce(a ->> 'id', b ->> 'id');

    IF redact IS NOT NULL THEN
        SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO changed
          FROM unnest(redact) AS c
         WHERE nullif(b -> c, 'null') IS DISTINCT FROM nullif(a -> c, 'null');
        b := b - redact;
        a := a - redact;
    END IF;
    IF ign IS NOT NULL THEN
        b := b - ign;
        a := a - ign;
    END IF;
    IF TG_OP = 'UPDATE' AND a = b AND changed = '{}' THEN
        RETURN NULL;                -- nothing an auditor needs to know
    END IF;

    -- = rectify.audit_append(TG_TABLE_NAME, row_id, lower(TG_OP), b, a, changed), inlined
    seq := coalesce(nullif(current_setting('rectify.audit_queued', true), ''), '0')::bigint + 1;
    INSERT INTO audit_pending (txid, seq, user_id, org_id, request_id, table_name, row_id,
                               action, before, after, redacted)
    VALUES (txid_current(), seq, rectify.user_id(), rectify.org_id(),
            nullif(current_setting('rectify.request_id', true), ''),
            TG_TABLE_NAME, row_id, lower(TG_OP), b, a, changed);
    PERFORM set_config('rectify.audit_queued', seq::text, true);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_trigger() FROM PUBLIC;

-- Every name below is schema-qualified (no SET search_path needed, which
-- would cost a GUC save/restore on each of the per-row deferred calls).
-- queued and flushed are only ever set to increasing bigint texts, flushed
-- to queued's value: "different" means "something is queued".
CREATE OR REPLACE FUNCTION rectify.audit_flush_trigger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    AS $$
BEGIN
    IF coalesce(pg_catalog.current_setting('rectify.audit_queued', true), '')
       OPERATOR(pg_catalog.<>)
       coalesce(pg_catalog.current_setting('rectify.audit_flushed', true), '') THEN
        PERFORM rectify.audit_flush();
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.audit_flush_trigger() FROM PUBLIC;

-- One import row as the service sends it (src/api/complaint_import.c).
CREATE TYPE rectify.complaint_import_row AS (
    row_no bigint, handover_no text, batch_no int, handed_over_on date, received_at timestamptz,
    channel text, content text, pollution_types text[], county text, address text,
    latitude numeric, longitude numeric, entity_name text, entity_credit_code text,
    grade text, responsible_org text, deadline date, pii jsonb);

-- VOLATILE keeps it from being inlined (which would bring back the estimate
-- of 100); it reads nothing and writes nothing.
CREATE FUNCTION rectify.complaint_import_rows(p_rows jsonb)
    RETURNS SETOF rectify.complaint_import_row
    LANGUAGE sql VOLATILE PARALLEL SAFE ROWS 1000
    AS $$ SELECT * FROM pg_catalog.jsonb_populate_recordset(NULL::rectify.complaint_import_row, p_rows) $$;
GRANT USAGE ON TYPE rectify.complaint_import_row TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.complaint_import_rows(jsonb) TO rectify_api;

