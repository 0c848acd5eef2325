-- 0019_report_attachments.sql — evidence (佐证材料) of progress reports: links
-- from task_reports (0011) to attachments (0010).
--
-- A separate migration so that the ledger (0011) does not wait for the
-- attachments table.  The service writes the links right after the report,
-- in the same transaction but a later statement (a statement's snapshot does
-- not see rows its own CTEs inserted, and the policy below must see the
-- report).  The caller must see both the report (its own) and the
-- attachment, so nobody can adopt another org's file.  Append-only like the
-- reports.  Whoever can read a report can read its evidence: the link is a
-- term of rectify.attachment_linked_visible (see 0010).
CREATE TABLE report_attachments (
    report_id      bigint   NOT NULL REFERENCES task_reports (id),
    attachment_id  bigint   NOT NULL REFERENCES attachments (id),
    position       smallint NOT NULL CHECK (position BETWEEN 1 AND 50),   -- order given by the reporter
    -- The audit trigger records rows by `id`: the link's own text key.
    id             text     GENERATED ALWAYS AS (report_id || ':' || attachment_id) STORED,
    PRIMARY KEY (report_id, attachment_id),
    UNIQUE (report_id, position)
);
COMMENT ON TABLE report_attachments IS 'Evidence attachments of progress reports, in the reporter''s order.';
CREATE INDEX report_attachments_attachment_idx ON report_attachments (attachment_id);
SELECT rectify.enable_audit('report_attachments');
ALTER TABLE report_attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY report_attachments_read ON report_attachments FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM task_reports r WHERE r.id = report_id));
CREATE POLICY report_attachments_insert ON report_attachments FOR INSERT TO rectify_api
    WITH CHECK (EXISTS (SELECT 1 FROM task_reports r
                         WHERE r.id = report_id AND r.user_id = rectify.user_id())
                AND EXISTS (SELECT 1 FROM attachments a WHERE a.id = attachment_id));
GRANT SELECT ON report_attachments TO rectify_api;
GRANT INSERT (report_id, attachment_id, position) ON report_attachments TO rectify_api;

-- Keep the terms of earlier link tables when redefining (none before this one).
CREATE OR REPLACE FUNCTION rectify.attachment_linked_visible(p_id bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT EXISTS (SELECT 1 FROM report_attachments l WHERE l.attachment_id = p_id) $$;
