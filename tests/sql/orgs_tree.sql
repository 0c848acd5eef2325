-- orgs: seed data, path maintenance, re-parenting, cycle rejection, version bump.
-- Run as the owner (superuser in tests) on a fresh database with all migrations.
\set ON_ERROR_STOP 1

-- Seed: 1 province, 14 prefectures, 86 counties, 26 provincial/central bodies.
DO $$
BEGIN
    ASSERT (SELECT count(*) FROM orgs) = 127, 'seed row count';
    ASSERT (SELECT count(*) FROM orgs WHERE kind = 'prefecture') = 14, 'prefectures';
    ASSERT (SELECT count(*) FROM orgs WHERE kind = 'county') = 86, 'counties';
    ASSERT (SELECT count(*) FROM orgs WHERE kind = 'department') = 22, 'departments';
    -- Every path is the parent's path plus the own id.
    ASSERT NOT EXISTS (
        SELECT 1 FROM orgs c LEFT JOIN orgs p ON p.id = c.parent_id
         WHERE c.path <> coalesce(p.path, ''::ltree) || c.id::text), 'paths consistent';
    -- Subtree queries: 兰州市 has 8 counties; the office sits under the leading group.
    ASSERT (SELECT count(*) FROM orgs
             WHERE path <@ (SELECT path FROM orgs WHERE code = '620100')) = 9, 'Lanzhou subtree';
    ASSERT (SELECT p.code FROM orgs c JOIN orgs p ON p.id = c.parent_id
             WHERE c.code = 'GS-OFFICE') = 'GS-LG', 'office parent';
    ASSERT (SELECT parent_id FROM orgs WHERE code = 'CEEPI-4') IS NULL, 'inspection team is a root';
    -- Trigram search works on Chinese names (the test cluster is C.UTF-8).
    ASSERT (SELECT code FROM orgs ORDER BY similarity(name, '城关') DESC, code LIMIT 1) = '620102',
           'trigram similarity on CJK';
    ASSERT (SELECT count(*) FROM orgs WHERE name ILIKE '%回族自治州%') = 1, 'ILIKE on CJK';
END
$$;

-- A small tree of our own:  A → B → C,  D
INSERT INTO orgs (code, name, kind, parent_id)
VALUES ('T-A', 'A', 'other', (SELECT id FROM orgs WHERE code = '620000'));
INSERT INTO orgs (code, name, kind, parent_id) VALUES ('T-B', 'B', 'other', (SELECT id FROM orgs WHERE code = 'T-A'));
INSERT INTO orgs (code, name, kind, parent_id) VALUES ('T-C', 'C', 'other', (SELECT id FROM orgs WHERE code = 'T-B'));
INSERT INTO orgs (code, name, kind) VALUES ('T-D', 'D', 'other');

CREATE FUNCTION pg_temp.org(c text) RETURNS orgs LANGUAGE sql AS $$ SELECT * FROM orgs WHERE code = c $$;

DO $$
DECLARE
    a orgs := pg_temp.org('T-A');
    b orgs := pg_temp.org('T-B');
    c orgs := pg_temp.org('T-C');
    d orgs := pg_temp.org('T-D');
BEGIN
    ASSERT a.path = (SELECT path FROM orgs WHERE code = '620000') || a.id::text, 'A path';
    ASSERT b.path = a.path || b.id::text, 'B path';
    ASSERT c.path = b.path || c.id::text, 'C path';
    ASSERT d.path = d.id::text::ltree, 'D is a root';
    ASSERT a.version = 1 AND c.version = 1, 'new rows start at version 1';
END
$$;

-- Re-parent B (with its child C) under D: the subtree follows.
UPDATE orgs SET parent_id = (SELECT id FROM orgs WHERE code = 'T-D') WHERE code = 'T-B';
DO $$
DECLARE
    b orgs := pg_temp.org('T-B');
    c orgs := pg_temp.org('T-C');
    d orgs := pg_temp.org('T-D');
BEGIN
    ASSERT b.path = d.path || b.id::text, 'B moved under D';
    ASSERT c.path = d.path || b.id::text || c.id::text, 'C followed B';
    ASSERT b.version = 2, 'B version bumped by the move';
    ASSERT c.version = 2, 'C version bumped by the re-path';
    ASSERT (SELECT count(*) FROM orgs WHERE path <@ (pg_temp.org('T-A')).path) = 1, 'A has no descendants left';
END
$$;

-- Move D (root) under A: B and C, two levels down, follow.
UPDATE orgs SET parent_id = (SELECT id FROM orgs WHERE code = 'T-A') WHERE code = 'T-D';
DO $$
BEGIN
    ASSERT (pg_temp.org('T-C')).path
         = (pg_temp.org('T-A')).path || (pg_temp.org('T-D')).id::text
           || (pg_temp.org('T-B')).id::text || (pg_temp.org('T-C')).id::text, 'C re-pathed two levels down';
    -- Invariant over the whole table still holds.
    ASSERT NOT EXISTS (
        SELECT 1 FROM orgs c LEFT JOIN orgs p ON p.id = c.parent_id
         WHERE c.path <> coalesce(p.path, ''::ltree) || c.id::text), 'paths consistent after moves';
END
$$;

-- Cycles are rejected: under itself, under its child, under its grandchild.
DO $$
DECLARE
    tries text[][] := ARRAY[['T-A', 'T-A'], ['T-A', 'T-D'], ['T-A', 'T-C'], ['T-D', 'T-C']];
    i int;
BEGIN
    FOR i IN 1 .. array_length(tries, 1) LOOP
        BEGIN
            UPDATE orgs SET parent_id = (SELECT id FROM orgs WHERE code = tries[i][2])
             WHERE code = tries[i][1];
            RAISE EXCEPTION 'cycle % under % was accepted', tries[i][1], tries[i][2];
        EXCEPTION WHEN check_violation THEN
            NULL;
        END;
    END LOOP;
END
$$;

-- The cycle error carries the constraint name the service maps to a field error.
DO $$
DECLARE
    cname text;
BEGIN
    UPDATE orgs SET parent_id = (SELECT id FROM orgs WHERE code = 'T-C') WHERE code = 'T-A';
    RAISE EXCEPTION 'cycle accepted';
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS cname = CONSTRAINT_NAME;
    ASSERT cname = 'orgs_no_cycle', 'constraint name: ' || coalesce(cname, 'NULL');
END
$$;

-- path cannot be written directly, nor a non-existent parent used.
DO $$
BEGIN
    BEGIN
        UPDATE orgs SET path = '1.2.3' WHERE code = 'T-C';
        RAISE EXCEPTION 'direct path update accepted';
    EXCEPTION WHEN check_violation THEN NULL;
    END;
    BEGIN
        INSERT INTO orgs (code, name, kind, parent_id) VALUES ('T-X', 'X', 'other', -1);
        RAISE EXCEPTION 'unknown parent accepted';
    EXCEPTION WHEN foreign_key_violation THEN NULL;
    END;
    BEGIN
        INSERT INTO orgs (code, name, kind) VALUES ('T-Y', 'Y', 'village');
        RAISE EXCEPTION 'bad kind accepted';
    EXCEPTION WHEN check_violation THEN NULL;
    END;
    BEGIN
        INSERT INTO orgs (code, name, kind) VALUES ('T-A', 'dup', 'other');
        RAISE EXCEPTION 'duplicate code accepted';
    EXCEPTION WHEN unique_violation THEN NULL;
    END;
END
$$;

-- Version bump: every update bumps version and updated_at; created_at and
-- version cannot be set by the caller.
DO $$
DECLARE
    before orgs := pg_temp.org('T-C');
    after  orgs;
BEGIN
    UPDATE orgs SET name = 'C2', version = 100, created_at = '2000-01-01' WHERE code = 'T-C';
    after := pg_temp.org('T-C');
    ASSERT after.version = before.version + 1, 'version + 1, not caller''s value';
    ASSERT after.created_at = before.created_at, 'created_at kept';
    ASSERT after.updated_at >= before.updated_at, 'updated_at advanced';
    UPDATE orgs SET name = name WHERE code = 'T-C';
    ASSERT (pg_temp.org('T-C')).version = before.version + 2, 'no-op update also bumps';
END
$$;

-- touch_version with an ignore list: changing only ignored columns keeps the version.
CREATE TABLE pg_temp.tv (id int PRIMARY KEY, a text, seen timestamptz,
                         version int NOT NULL DEFAULT 1,
                         created_at timestamptz NOT NULL DEFAULT now(),
                         updated_at timestamptz NOT NULL DEFAULT now());
CREATE TRIGGER touch BEFORE UPDATE ON pg_temp.tv
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version('seen');
INSERT INTO pg_temp.tv (id, a) VALUES (1, 'x');
UPDATE pg_temp.tv SET seen = now();
DO $$ BEGIN ASSERT (SELECT version FROM pg_temp.tv) = 1, 'ignored column: no bump'; END $$;
UPDATE pg_temp.tv SET a = 'y', seen = now();
DO $$ BEGIN ASSERT (SELECT version FROM pg_temp.tv) = 2, 'real change: bump'; END $$;
