-- Derived ledger values written by triggers (0011): a problem's status
-- follows its tasks when many tasks of several problems are inserted or
-- deleted by one statement; unknown orgs in a task's lists are refused with
-- the column named.
\set ON_ERROR_STOP 1

INSERT INTO campaigns (name, round, province_org_id)
SELECT 'Round 3', 3, id FROM orgs WHERE code = '620000';
INSERT INTO problems (campaign_id, code, title, category, source, owner_org_id, deadline)
SELECT c.id, 'P' || g, '问题' || g, 'local_specific', 'report', o.id, '2026-12-31'
  FROM campaigns c, orgs o, generate_series(1, 3) g WHERE o.code = '620100';

-- One statement: problem 1 gets two in-progress tasks, problem 2 a pending
-- and a completed one, problem 3 nothing.
INSERT INTO tasks (campaign_id, problem_id, code, title, owner_org_id, deadline_kind, deadline, status)
SELECT p.campaign_id, p.id, p.code || '-' || t.n, '任务', p.owner_org_id, 'date', '2026-12-31', t.status
  FROM problems p JOIN (VALUES ('P1', 1, 'in_progress'), ('P1', 2, 'in_progress'),
                               ('P2', 1, 'pending'), ('P2', 2, 'completed')) AS t(code, n, status)
    ON t.code = p.code;
DO $$
BEGIN
    ASSERT (SELECT status FROM problems WHERE code = 'P1') = 'in_progress',
           (SELECT status FROM problems WHERE code = 'P1');
    ASSERT (SELECT status FROM problems WHERE code = 'P2') = 'in_progress',
           (SELECT status FROM problems WHERE code = 'P2');
    ASSERT (SELECT status FROM problems WHERE code = 'P3') = 'pending';
END
$$;

-- One statement deletes the pending task of P2 and both of P1: P2 is then
-- all completed, P1 has no task (pending).
DELETE FROM tasks WHERE code IN ('P2-1', 'P1-1', 'P1-2');
DO $$
BEGIN
    ASSERT (SELECT status FROM problems WHERE code = 'P2') = 'completed',
           (SELECT status FROM problems WHERE code = 'P2');
    ASSERT (SELECT status FROM problems WHERE code = 'P1') = 'pending',
           (SELECT status FROM problems WHERE code = 'P1');
END
$$;

-- An update of one task's status still refreshes its problem (row trigger).
UPDATE tasks SET status = 'in_progress' WHERE code = 'P2-2';
DO $$ BEGIN ASSERT (SELECT status FROM problems WHERE code = 'P2') = 'in_progress'; END $$;

-- Unknown orgs in the lists: refused, the column named.
DO $$
DECLARE
    col text;
BEGIN
    BEGIN
        UPDATE tasks SET acceptance_org_ids = ARRAY[(SELECT id FROM orgs WHERE code = '620100'), 987654]
         WHERE code = 'P2-2';
        RAISE EXCEPTION 'unknown org accepted';
    EXCEPTION WHEN foreign_key_violation THEN
        GET STACKED DIAGNOSTICS col = COLUMN_NAME;
        ASSERT col = 'acceptance_org_ids', col;
    END;
    BEGIN
        UPDATE tasks SET co_org_ids = '{987654}' WHERE code = 'P2-2';
        RAISE EXCEPTION 'unknown org accepted';
    EXCEPTION WHEN foreign_key_violation THEN
        GET STACKED DIAGNOSTICS col = COLUMN_NAME;
        ASSERT col = 'co_org_ids', col;
    END;
END
$$;
