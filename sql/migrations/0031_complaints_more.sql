-- 0031_complaints_more.sql — deadline extensions of complaints (延期申请), as
-- for tasks (task_extensions, 0011): the responsible org asks for a later
-- deadline with a reason, the office approves or rejects.
--
-- Decisions
-- * complaints has one deadline column (the assignment's, replaced by a
--   stage_resolve or a reassignment). An approved extension replaces it —
--   so overdue (rectify.complaint_overdue) and the list filter follow at
--   once — and the deadline it replaced stays on record here
--   (previous_deadline) and in complaint_events (action 'extend'). Every
--   request stays here, approved, rejected or open.
-- * At most one open request per complaint (partial unique index).
-- * Scope: an extension is visible with its complaint; units, the office and
--   admin insert (the service checks that a unit is the responsible org);
--   only the office and admin decide.
-- * Batch acknowledgement needs no schema: complaint_batches.acknowledged_at
--   and acknowledged_by (0030) are set once by the acknowledgement endpoint.

CREATE TABLE complaint_extensions (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id       bigint      NOT NULL REFERENCES complaints (id),
    previous_deadline  date        NOT NULL,          -- the deadline when requested
    new_deadline       date        NOT NULL,
    reason             text        NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    status             text        NOT NULL DEFAULT 'requested'
                                   CHECK (status IN ('requested', 'approved', 'rejected')),
    requested_by       bigint      DEFAULT rectify.user_id(),
    requested_org_id   bigint      DEFAULT rectify.org_id(),
    decided_by         bigint,
    decided_at         timestamptz,
    decision_comment   text        CHECK (length(decision_comment) <= 2000),
    version            integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT complaint_extensions_later CHECK (new_deadline > previous_deadline),
    CONSTRAINT complaint_extensions_decided CHECK ((status = 'requested') = (decided_at IS NULL))
);
COMMENT ON TABLE complaint_extensions IS
    'Deadline extension requests of complaints and their decisions; the history of a complaint''s deadlines.';
CREATE INDEX complaint_extensions_complaint_idx ON complaint_extensions (complaint_id, id);
CREATE UNIQUE INDEX complaint_extensions_one_open ON complaint_extensions (complaint_id)
    WHERE status = 'requested';
CREATE TRIGGER complaint_extensions_touch BEFORE UPDATE ON complaint_extensions
    FOR EACH ROW EXECUTE FUNCTION rectify.touch_version();
SELECT rectify.enable_audit('complaint_extensions');
ALTER TABLE complaint_extensions ENABLE ROW LEVEL SECURITY;
CREATE POLICY complaint_extensions_read ON complaint_extensions FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM complaints c WHERE c.id = complaint_id));
CREATE POLICY complaint_extensions_insert ON complaint_extensions FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM complaints c WHERE c.id = complaint_id)
                AND requested_by = rectify.user_id()
                AND rectify.has_any_role('{admin,office,unit}'::text[]));
CREATE POLICY complaint_extensions_decide ON complaint_extensions FOR UPDATE TO rectify_api
    USING (rectify.has_any_role('{admin,office}'::text[]))
    WITH CHECK (rectify.has_any_role('{admin,office}'::text[]) AND decided_by = rectify.user_id());
GRANT SELECT ON complaint_extensions TO rectify_api;
GRANT INSERT (complaint_id, previous_deadline, new_deadline, reason) ON complaint_extensions TO rectify_api;
GRANT UPDATE (status, decided_by, decided_at, decision_comment) ON complaint_extensions TO rectify_api;
