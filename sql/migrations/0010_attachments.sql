-- 0010_attachments.sql — evidence files (佐证材料) stored in PostgreSQL.
--
-- Two tables, one row each per file:
--   attachments          the metadata: audited, org-scoped, what link tables
--                        reference (report_attachments, complaint_attachments,
--                        inspection_attachments … → attachments (id));
--   attachment_contents  the bytes, 1:1 with attachments, not audited.
--
-- Why the bytes live in their own table.  The audit trigger (0002) builds
-- to_jsonb(NEW) of the whole row before it drops redacted/ignored columns:
-- for a 20 MiB bytea that is a 40 MiB hex string plus its jsonb copy, and
-- ~135 ms of CPU at every commit (measured on PostgreSQL 15) just to throw
-- it away.  Keeping the content out of the audited table costs nothing, and
-- the audit trail still pins the content: the audited row carries its sha256
-- and size.
--
-- Attachments are immutable: no UPDATE or DELETE is granted, so there is no
-- `version`/touch_version (the ETag is the sha256).  A mistaken upload is
-- simply never linked.  Deleting unlinked files (retention) would be a job
-- running as the owner, not an API write.
--
-- Duplicates: the same bytes uploaded twice are two attachments (two
-- uploads, two audit entries, possibly two names).  (owner_org_id, sha256)
-- is indexed, so duplicates can be found and, if storage ever matters,
-- content could be shared later without an API change.

CREATE TABLE attachments (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sanitised by the service (no path, no control or bidi characters);
    -- the schema re-checks what matters for serving it back.
    filename        text        NOT NULL
                                CONSTRAINT attachments_filename_valid CHECK (
                                    length(filename) BETWEEN 1 AND 255
                                    AND filename !~ '[/\\[:cntrl:]]'
                                    AND filename NOT IN ('.', '..')),
    -- The type sniffed from the content, never just the declared one.
    content_type    text        NOT NULL
                                CONSTRAINT attachments_content_type_allowed CHECK (content_type IN (
                                    'image/jpeg', 'image/png', 'image/gif', 'image/webp',
                                    'application/pdf', 'application/ofd',
                                    'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
                                    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
                                    'application/vnd.openxmlformats-officedocument.presentationml.presentation',
                                    'application/msword', 'application/vnd.ms-excel',
                                    'application/vnd.ms-powerpoint')),
    size_bytes      bigint      NOT NULL CONSTRAINT attachments_size_positive CHECK (size_bytes > 0),
    sha256          bytea       NOT NULL CONSTRAINT attachments_sha256_length CHECK (length(sha256) = 32),
    uploaded_by     bigint      NOT NULL DEFAULT rectify.user_id() REFERENCES users (id),
    owner_org_id    bigint      NOT NULL DEFAULT rectify.org_id() REFERENCES orgs (id),
    owner_org_path  ltree       NOT NULL,                  -- rectify.enable_scope keeps it
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE attachments IS
    'Evidence files (佐证材料): metadata, immutable; the bytes are in attachment_contents.';
COMMENT ON COLUMN attachments.content_type IS 'Sniffed from the content (src/core/sniff.c), not the declared type.';

CREATE INDEX attachments_scope_gist ON attachments USING gist (owner_org_path);
CREATE INDEX attachments_org_sha256_idx ON attachments (owner_org_id, sha256);
CREATE INDEX attachments_uploader_idx ON attachments (uploaded_by, id);

SELECT rectify.enable_scope('attachments');
SELECT rectify.enable_audit('attachments');

CREATE TABLE attachment_contents (
    attachment_id  bigint PRIMARY KEY REFERENCES attachments (id) ON DELETE CASCADE,
    content        bytea  NOT NULL
);
-- EXTERNAL: out-of-line TOAST, uncompressed, so substring(content from … for …)
-- reads only the chunks it needs (downloads stream in 1 MiB pieces), and
-- the formats we accept are compressed already.
ALTER TABLE attachment_contents ALTER COLUMN content SET STORAGE EXTERNAL;
COMMENT ON TABLE attachment_contents IS
    'Bytes of each attachment (1:1). Not audited: attachments.sha256 pins them.';

-- ---------------------------------------------------------------------------
-- Visibility.
--
-- An attachment is visible to
--   * the uploader's org subtree and the province-wide roles (org scope);
--   * whoever can see an entity that links it (a report, an inspection, a
--     complaint …): rectify.attachment_linked_visible(id).
--
-- How a link table extends the second term.  The function is SECURITY
-- INVOKER on purpose: its subqueries run as rectify_api, so the link table's
-- own policy decides — and that policy delegates to the entity, e.g.
--
--   CREATE TABLE report_attachments (
--       report_id      bigint NOT NULL REFERENCES reports (id),
--       attachment_id  bigint NOT NULL REFERENCES attachments (id),
--       PRIMARY KEY (report_id, attachment_id));
--   CREATE INDEX ON report_attachments (attachment_id);
--   ALTER TABLE report_attachments ENABLE ROW LEVEL SECURITY;
--   CREATE POLICY report_attachments_read ON report_attachments FOR SELECT TO rectify_api
--       USING (EXISTS (SELECT 1 FROM reports r WHERE r.id = report_id));  -- reports' RLS
--   CREATE OR REPLACE FUNCTION rectify.attachment_linked_visible(p_id bigint)
--       RETURNS boolean LANGUAGE sql STABLE
--       AS $$ SELECT EXISTS (SELECT 1 FROM report_attachments l WHERE l.attachment_id = p_id)
--                    -- OR EXISTS (SELECT 1 FROM complaint_attachments …) as they arrive
--          $$;
--
-- so a task's co-operating org that may read a report also reads its
-- evidence, without copying any scope rule.  Rules: every link table's
-- policy must not read attachments (infinite recursion), and each
-- redefinition keeps the terms of the earlier link tables.  (A SECURITY
-- DEFINER helper would bypass the entities' RLS and have to re-implement
-- every entity's scope rules; this does not.)
-- The WITH CHECK of the link tables' INSERT should require that the caller
-- can see both the entity and the attachment, so nobody can "adopt"
-- another org's file by linking it.
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.attachment_linked_visible(p_id bigint) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT false $$;
COMMENT ON FUNCTION rectify.attachment_linked_visible(bigint) IS
    'True when the caller can see an entity that links attachment p_id. Redefined by each migration that adds a link table (see 0010).';
GRANT EXECUTE ON FUNCTION rectify.attachment_linked_visible(bigint) TO rectify_api;

ALTER TABLE attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY attachments_read ON attachments FOR SELECT TO rectify_api
    USING (rectify.in_scope(owner_org_path) OR rectify.attachment_linked_visible(id));
-- Uploading: as oneself, for one's own org, in a role that produces evidence
-- (the same roles as PERM_ATTACHMENT_WRITE in src/auth/permissions.c).
CREATE POLICY attachments_insert ON attachments FOR INSERT TO rectify_api
    WITH CHECK (rectify.user_id() IS NOT NULL
                AND uploaded_by = rectify.user_id()
                AND owner_org_id = rectify.org_id()
                AND rectify.has_any_role('{office,unit,acceptor,inspector,discipline}'::text[]));
GRANT SELECT ON attachments TO rectify_api;
GRANT INSERT (filename, content_type, size_bytes, sha256) ON attachments TO rectify_api;

ALTER TABLE attachment_contents ENABLE ROW LEVEL SECURITY;
-- The bytes are visible exactly when the metadata row is (its RLS applies
-- inside the subquery).
CREATE POLICY attachment_contents_read ON attachment_contents FOR SELECT TO rectify_api
    USING (EXISTS (SELECT 1 FROM attachments a WHERE a.id = attachment_id));
-- The service inserts metadata and bytes in one statement (a data-modifying
-- CTE), whose snapshot cannot see the new attachments row, so this check
-- cannot name it.  What keeps the bytes honest: the primary key (one content
-- per attachment), the foreign key (checked at the end of the statement), and
-- no UPDATE/DELETE grant: bytes can be added once to an attachment and never
-- changed (the service always adds them in the statement that creates it).
CREATE POLICY attachment_contents_insert ON attachment_contents FOR INSERT TO rectify_api
    WITH CHECK (rectify.user_id() IS NOT NULL
                AND rectify.has_any_role('{office,unit,acceptor,inspector,discipline}'::text[]));
GRANT SELECT, INSERT ON attachment_contents TO rectify_api;
