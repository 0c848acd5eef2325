-- 0037_complaints_lean_writes.sql — less work per inserted complaint (issue 5's
-- import: per 1000-row batch the row triggers and foreign-key checks cost more
-- than the insert itself).
--
-- * complaints_derive also sets owner_org_path, so complaints drop the generic
--   rectify_scope trigger (0003) that looked the same org up a second time;
--   when the owner is the county (not yet assigned), its path is the county's,
--   already read. The table stays registered in rectify.scoped_tables (org
--   moves rewrite its paths). Paths written directly are recomputed, as
--   rectify_scope did: a client cannot forge them.
-- * Foreign keys: one check per row instead of four.
--   - owner_org_id: derived from county_org_id / responsible_org_id, both
--     foreign keys; its own was redundant.
--   - campaign_id + batch_id: one composite key to the batch, which also
--     guarantees what two separate keys did not — the complaint's batch
--     belongs to the complaint's campaign.
--   - status: a CHECK over the seven states (complaint_states keeps labels and
--     order; transitions are checked against complaint_status_transitions).

CREATE OR REPLACE FUNCTION rectify.complaints_derive() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    k text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.county_org_id IS DISTINCT FROM OLD.county_org_id
       OR NEW.county_org_path IS DISTINCT FROM OLD.county_org_path THEN
        SELECT path, kind INTO NEW.county_org_path, k FROM orgs WHERE id = NEW.county_org_id;
        IF NOT FOUND OR k NOT IN ('county', 'prefecture') THEN
            RAISE EXCEPTION 'county_org_id % is not a county or prefecture', NEW.county_org_id
                USING ERRCODE = 'foreign_key_violation', TABLE = 'complaints', COLUMN = 'county_org_id';
        END IF;
    END IF;
    NEW.owner_org_id := coalesce(NEW.responsible_org_id, NEW.county_org_id);
    IF TG_OP = 'INSERT' OR NEW.owner_org_id IS DISTINCT FROM OLD.owner_org_id
       OR NEW.owner_org_path IS DISTINCT FROM OLD.owner_org_path THEN
        IF NEW.owner_org_id = NEW.county_org_id THEN
            NEW.owner_org_path := NEW.county_org_path;
        ELSE
            SELECT path INTO NEW.owner_org_path FROM orgs WHERE id = NEW.owner_org_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'owner org % does not exist', NEW.owner_org_id
                    USING ERRCODE = 'foreign_key_violation', TABLE = 'complaints', COLUMN = 'owner_org_id';
            END IF;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
       AND NOT EXISTS (SELECT 1 FROM complaint_status_transitions t
                        WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
        RAISE EXCEPTION 'A complaint cannot go from % to %.', OLD.status, NEW.status
            USING ERRCODE = 'RX409', HINT = 'invalid_transition';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER rectify_scope ON complaints;

ALTER TABLE complaints DROP CONSTRAINT complaints_owner_org_id_fkey;

ALTER TABLE complaint_batches ADD CONSTRAINT complaint_batches_campaign_key UNIQUE (id, campaign_id);
ALTER TABLE complaints
    DROP CONSTRAINT complaints_batch_id_fkey,
    DROP CONSTRAINT complaints_campaign_id_fkey,
    ADD CONSTRAINT complaints_batch_fkey FOREIGN KEY (batch_id, campaign_id)
        REFERENCES complaint_batches (id, campaign_id);

ALTER TABLE complaints
    DROP CONSTRAINT complaints_status_fkey,
    ADD CONSTRAINT complaints_status_check CHECK (status IN ('received', 'assigned', 'investigating',
        'stage_resolved', 'resolved', 'rejected', 'closed'));
