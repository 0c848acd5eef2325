-- 0003_orgs.sql — the organisation tree and the reusable org-scope pattern.
--
-- One tree: province 620000 → 14 prefectures → 86 counties, and beside the
-- prefectures (children of the province) the provincial departments, the
-- leading group (领导小组) with the rectification office (整改办) under it and
-- the discipline commission.  The central inspection team is a root of its own.
--
-- `path` is the materialized path of ids ('1.2.17'), maintained here, never
-- written by clients: ltree `<@` then answers "is X in the subtree of Y" with
-- a GiST index, which is what row-level security evaluates on every row.

CREATE TABLE orgs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Division code (620102; 9/12 digits for towns and villages if ever
    -- needed) or body code (GS-OFFICE).  Stable natural key for imports.
    code        text        NOT NULL UNIQUE
                            CONSTRAINT orgs_code_format CHECK (code ~ '^[0-9A-Z][0-9A-Z-]{1,31}$'),
    name        text        NOT NULL
                            CONSTRAINT orgs_name_length CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    name_en     text        CONSTRAINT orgs_name_en_length CHECK (length(btrim(name_en)) BETWEEN 1 AND 300),
    kind        text        NOT NULL
                            CONSTRAINT orgs_kind CHECK (kind IN (
                                'province', 'prefecture', 'county',      -- administrative divisions
                                'department',                            -- provincial departments (厅/局/委)
                                'leading_group',                         -- 整改工作领导小组
                                'rectification_office',                  -- 整改办
                                'discipline',                            -- 纪委监委
                                'inspection_team',                       -- 中央督察组
                                'other')),
    parent_id   bigint      REFERENCES orgs (id) ON DELETE RESTRICT,
    path        ltree       NOT NULL,
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_not_own_parent CHECK (parent_id <> id),
    -- The path ends with the row's own id (the trigger keeps it so).
    CONSTRAINT orgs_path_ends_with_id CHECK (subpath(path, -1) = id::text::ltree)
);
COMMENT ON TABLE orgs IS 'Organisations: administrative divisions and bodies, one tree (path = ids from the root).';
COMMENT ON COLUMN orgs.path IS 'Materialized path of ids, maintained by trigger; use `path <@ x` for subtrees.';

CREATE INDEX orgs_path_gist ON orgs USING gist (path);
CREATE INDEX orgs_parent_idx ON orgs (parent_id);
-- `q=` search on names (ILIKE '%…%' and similarity).  pg_trgm extracts
-- trigrams from CJK text only when the database's LC_CTYPE classifies those
-- characters as alphanumeric, i.e. a UTF-8 locale such as C.UTF-8 or
-- zh_CN.UTF-8; with LC_CTYPE=C Chinese names produce no trigrams and the
-- index cannot help (queries stay correct, only slow).  Patterns shorter than
-- three characters (兰州) cannot use a trigram index either: the
-- table is small, a scan is fine.
CREATE INDEX orgs_name_trgm ON orgs USING gin (name gin_trgm_ops, name_en gin_trgm_ops);

-- ---------------------------------------------------------------------------
-- Path maintenance.
--
-- BEFORE INSERT, and BEFORE UPDATE when parent_id changes: path := parent's
-- path || id, after checking that the new parent is not the org itself or one
-- of its descendants (a cycle; SQLSTATE 23514, constraint orgs_no_cycle).
-- AFTER such an UPDATE: rewrite the paths of the whole subtree, and of every
-- registered org-scoped table (see rectify.enable_scope below).
--
-- Tree changes (inserts and moves) take one transaction-level advisory lock,
-- so two concurrent moves cannot build a cycle from stale reads and an insert
-- cannot compute its path from a parent that is being moved.  After the lock,
-- the queries run with a fresh snapshot under READ COMMITTED (the service's
-- isolation level), so they see what the previous holder committed.
-- Move one org per statement (the API does); multi-row moves are handled but
-- their intermediate reads depend on row order.
-- ---------------------------------------------------------------------------

-- Advisory lock key for org tree changes ('RCTF' << 32 | 1).
CREATE FUNCTION rectify.org_tree_lock_key() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 5927674194174148609::bigint $$;   -- x'52435446' << 32 | 1

CREATE FUNCTION rectify.orgs_set_path() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    parent_path ltree;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'orgs.id cannot change' USING ERRCODE = 'check_violation';
    END IF;

    IF TG_OP = 'INSERT' OR NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        PERFORM pg_advisory_xact_lock(rectify.org_tree_lock_key());
        IF NEW.parent_id IS NULL THEN
            NEW.path := NEW.id::text::ltree;
        ELSE
            SELECT path INTO parent_path FROM orgs WHERE id = NEW.parent_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'parent org % does not exist', NEW.parent_id
                    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'orgs_parent_id_fkey',
                          TABLE = 'orgs', COLUMN = 'parent_id';
            END IF;
            IF TG_OP = 'UPDATE' AND parent_path <@ OLD.path THEN
                RAISE EXCEPTION 'org % cannot be moved under itself or its descendant %',
                                NEW.id, NEW.parent_id
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'orgs_no_cycle',
                          TABLE = 'orgs', COLUMN = 'parent_id';
            END IF;
            NEW.path := parent_path || NEW.id::text;
        END IF;
    ELSIF NEW.path IS DISTINCT FROM OLD.path AND pg_trigger_depth() < 2 THEN
        -- Only the subtree rewrite below (a nested trigger) may change a path.
        RAISE EXCEPTION 'orgs.path is maintained by the database; change parent_id instead'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'orgs_path_maintained',
                  TABLE = 'orgs', COLUMN = 'path';
    END IF;
    RETURN NEW;
END
$$;

-- Registry of org-scoped tables whose scope path must follow org moves.
CREATE TABLE rectify.scoped_tables (
    tbl regclass PRIMARY KEY
);
COMMENT ON TABLE rectify.scoped_tables IS 'Tables registered by rectify.enable_scope(); their owner_org_path follows org moves.';

CREATE FUNCTION rectify.orgs_repath_subtree() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t regclass;
BEGIN
    UPDATE orgs
       SET path = NEW.path || subpath(path, nlevel(OLD.path))
     WHERE path <@ OLD.path AND id <> NEW.id;
    FOR t IN SELECT s.tbl FROM rectify.scoped_tables s
              WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s.tbl)   -- skip dropped tables
              ORDER BY s.tbl::oid LOOP
        -- The scope trigger on the table recomputes the path from orgs anyway;
        -- the expression here gives the same result.  (subpath(p, n) is an
        -- error when p has exactly n labels: rows of the moved org itself.)
        EXECUTE format('UPDATE %s SET owner_org_path = CASE WHEN owner_org_path = $3 THEN $1'
                       ' ELSE $1 || subpath(owner_org_path, $2) END'
                       ' WHERE owner_org_path <@ $3', t)
          USING NEW.path, nlevel(OLD.path), OLD.path;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER orgs_set_path BEFORE INSERT OR UPDATE ON orgs
    FOR EACH ROW EXECUTE FUNCTION rectify.orgs_set_path();
CREATE TRIGGER orgs_repath_subtree AFTER UPDATE OF parent_id ON orgs
    FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path)
    EXECUTE FUNCTION rectify.orgs_repath_subtree();
CREATE TRIGGER orgs_touch BEFORE UPDATE ON orgs
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('orgs');

-- ---------------------------------------------------------------------------
-- Access: org names are not secret — every authenticated caller reads all
-- orgs; only admin creates or changes them.  No DELETE through the API.
-- `path`, `version`, timestamps are not client-writable (column grants).
-- ---------------------------------------------------------------------------
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
CREATE POLICY orgs_read ON orgs FOR SELECT TO rectify_api
    USING (rectify.user_id() IS NOT NULL);
CREATE POLICY orgs_insert ON orgs FOR INSERT TO rectify_api
    WITH CHECK (rectify.has_role('admin'));
CREATE POLICY orgs_update ON orgs FOR UPDATE TO rectify_api
    USING (rectify.has_role('admin'))
    WITH CHECK (rectify.has_role('admin'));
GRANT SELECT ON orgs TO rectify_api;
GRANT INSERT (code, name, name_en, kind, parent_id) ON orgs TO rectify_api;
GRANT UPDATE (code, name, name_en, kind, parent_id) ON orgs TO rectify_api;

-- ---------------------------------------------------------------------------
-- The org-scope pattern for business tables (tasks, complaints, reports, …).
--
-- A scoped table names the org that owns each row and carries a copy of that
-- org's path, which RLS compares with the caller's scope:
--
--   CREATE TABLE tasks (
--       id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
--       owner_org_id    bigint NOT NULL REFERENCES orgs (id),
--       owner_org_path  ltree  NOT NULL,      -- set by trigger, never by clients
--       …
--   );
--   CREATE INDEX tasks_scope_gist ON tasks USING gist (owner_org_path);
--   SELECT rectify.enable_scope('tasks');
--   ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
--   CREATE POLICY tasks_read ON tasks FOR SELECT TO rectify_api
--       USING (rectify.in_scope(owner_org_path));
--   CREATE POLICY tasks_write ON tasks FOR UPDATE TO rectify_api
--       USING      (rectify.in_scope(owner_org_path) AND rectify.has_any_role('{office,unit}'))
--       WITH CHECK (rectify.in_scope(owner_org_path) AND rectify.has_any_role('{office,unit}'));
--   GRANT SELECT, INSERT (…), UPDATE (…) ON tasks TO rectify_api;   -- not owner_org_path
--
-- rectify.in_scope(p) is `p <@ rectify.scope_root()` once inlined: '' (all)
-- for admin/office/leader/discipline, the caller's org path otherwise, so the
-- GiST index serves the policy.  Rows visible through other relations (the
-- co-operating orgs of a task, the acceptance orgs) add an OR term to the
-- policy for that table.
--
-- enable_scope() installs a BEFORE INSERT/UPDATE OF owner_org_id,
-- owner_org_path trigger that sets owner_org_path from orgs.path (so clients
-- cannot forge it), and registers the table so that moving an org rewrites
-- the paths of its rows (see rectify.orgs_repath_subtree).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.scope_set_path() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NEW.owner_org_id IS NULL THEN
        NEW.owner_org_path := NULL;          -- let NOT NULL report it
        RETURN NEW;
    END IF;
    SELECT path INTO NEW.owner_org_path FROM orgs WHERE id = NEW.owner_org_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'owner org % does not exist', NEW.owner_org_id
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'owner_org_id';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.scope_set_path() FROM PUBLIC;

CREATE FUNCTION rectify.enable_scope(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF (SELECT count(*) FROM pg_attribute
         WHERE attrelid = tbl AND NOT attisdropped AND attnum > 0
           AND (attname, atttypid) IN (('owner_org_id', 'bigint'::regtype),
                                       ('owner_org_path', 'ltree'::regtype))) <> 2 THEN
        RAISE EXCEPTION 'enable_scope(%): table needs owner_org_id bigint and owner_org_path ltree', tbl;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = 'rectify_scope') THEN
        EXECUTE format('DROP TRIGGER rectify_scope ON %s', tbl);
    END IF;
    EXECUTE format('CREATE TRIGGER rectify_scope'
                   ' BEFORE INSERT OR UPDATE OF owner_org_id, owner_org_path ON %s'
                   ' FOR EACH ROW EXECUTE FUNCTION rectify.scope_set_path()', tbl);
    INSERT INTO rectify.scoped_tables (tbl) VALUES (tbl) ON CONFLICT DO NOTHING;
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.enable_scope(regclass) FROM PUBLIC;
