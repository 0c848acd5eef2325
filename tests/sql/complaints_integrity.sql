-- Complaints' derived columns and keys (0030, 0037): a complaint's batch
-- belongs to its campaign; owner and paths come from the orgs, never from
-- the writer; status is one of the seven states.
\set ON_ERROR_STOP 1

INSERT INTO campaigns (name, round, province_org_id)
SELECT 'Round ' || r, r, id FROM orgs, generate_series(1, 2) r WHERE code = '620000';
INSERT INTO complaint_batches (campaign_id, batch_no, handed_over_on)
SELECT id, 1, '2023-11-20' FROM campaigns;

CREATE FUNCTION pg_temp.new_complaint(p_campaign int, p_batch_campaign int, p_county text,
                                      p_responsible text DEFAULT NULL) RETURNS bigint
    LANGUAGE sql AS $$
    INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content,
                            pollution_types, county_org_id, responsible_org_id, deadline, status)
    SELECT c.id, 'T' || (random() * 1e9)::bigint, b.id, 'phone', now(), '油烟扰民', '{air}',
           (SELECT id FROM orgs WHERE code = p_county),
           (SELECT id FROM orgs WHERE code = p_responsible),
           CASE WHEN p_responsible IS NOT NULL THEN current_date + 15 END,
           CASE WHEN p_responsible IS NOT NULL THEN 'assigned' ELSE 'received' END
      FROM campaigns c, complaint_batches b
     WHERE c.round = p_campaign
       AND b.campaign_id = (SELECT id FROM campaigns WHERE round = p_batch_campaign)
    RETURNING id
$$;

-- Unassigned: owner = county, paths from orgs.
DO $$
DECLARE
    cid bigint := pg_temp.new_complaint(1, 1, '620102');
    c  complaints%ROWTYPE;
BEGIN
    SELECT * INTO c FROM complaints WHERE complaints.id = cid;
    ASSERT c.owner_org_id = c.county_org_id, 'owner is the county';
    ASSERT c.owner_org_path = (SELECT path FROM orgs WHERE code = '620102'), 'owner path';
    ASSERT c.county_org_path = c.owner_org_path, 'county path';
END
$$;

-- Assigned: owner = responsible org, its own path.
DO $$
DECLARE
    cid bigint := pg_temp.new_complaint(1, 1, '620102', '620100');
    c  complaints%ROWTYPE;
BEGIN
    SELECT * INTO c FROM complaints WHERE complaints.id = cid;
    ASSERT c.owner_org_path = (SELECT path FROM orgs WHERE code = '620100'), 'owner path = responsible';
    ASSERT c.county_org_path = (SELECT path FROM orgs WHERE code = '620102'), 'county path';
    -- Forged paths are recomputed.
    UPDATE complaints SET owner_org_path = '1', county_org_path = '1' WHERE complaints.id = c.id;
    ASSERT (SELECT owner_org_path FROM complaints WHERE complaints.id = c.id)
         = (SELECT path FROM orgs WHERE code = '620100'), 'owner path not forged';
    ASSERT (SELECT county_org_path FROM complaints WHERE complaints.id = c.id)
         = (SELECT path FROM orgs WHERE code = '620102'), 'county path not forged';
    -- Reassigned to the county itself (a county org): owner path follows.
    UPDATE complaints SET responsible_org_id = county_org_id WHERE complaints.id = c.id;
    ASSERT (SELECT owner_org_path FROM complaints WHERE complaints.id = c.id)
         = (SELECT path FROM orgs WHERE code = '620102'), 'owner path after reassignment';
END
$$;

-- A batch of another campaign is refused (composite key).
DO $$
BEGIN
    PERFORM pg_temp.new_complaint(1, 2, '620102');
    RAISE EXCEPTION 'batch of another campaign accepted';
EXCEPTION WHEN foreign_key_violation THEN
    NULL;
END
$$;

-- A status outside the seven states is refused.
DO $$
BEGIN
    INSERT INTO complaints (campaign_id, handover_no, batch_id, channel, received_at, content,
                            pollution_types, county_org_id, status)
    SELECT campaign_id, 'LOST-1', batch_id, channel, received_at, content, pollution_types,
           county_org_id, 'lost' FROM complaints LIMIT 1;
    RAISE EXCEPTION 'unknown status accepted';
EXCEPTION WHEN check_violation THEN
    NULL;
END
$$;

-- A county that is not a county or prefecture is refused.
DO $$
BEGIN
    PERFORM pg_temp.new_complaint(1, 1, '620000');
    RAISE EXCEPTION 'province accepted as county';
EXCEPTION WHEN foreign_key_violation THEN
    NULL;
END
$$;
