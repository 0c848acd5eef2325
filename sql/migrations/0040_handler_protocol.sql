-- 0040_handler_protocol.sql — how SQL tells a handler the outcome of a write.
--
-- The protocol (docs/developing.md, "The outcome protocol"):
--   success   one row, columns read by name: json (the answer), version (ETag),
--             location (Location of a created resource);
--   anything  else an error: rectify.fail(status, code, message[, field, field_message])
--             raises SQLSTATE 'RX' || status, which src/db/sqlstate.c answers as
--             that HTTP status with `code`; `field` becomes errors[0].pointer "/field".
-- A write with more than one outcome is a function rectify.<resource>_<verb>, so that
-- its rules read top to bottom and run as they are in psql.  Functions are SECURITY
-- INVOKER: row-level security applies to them as to the handler's own statements.

CREATE FUNCTION rectify.fail(status integer, code text, message text,
                             field text DEFAULT NULL, field_message text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql VOLATILE               -- never folded at plan time
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF status NOT BETWEEN 400 AND 599 THEN
        RAISE EXCEPTION 'rectify.fail: % is not an error status', status;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'RX' || status::text, MESSAGE = message, HINT = code,
                          COLUMN = coalesce(field, ''), DETAIL = coalesce(field_message, '');
END
$$;
COMMENT ON FUNCTION rectify.fail(integer, text, text, text, text) IS
    'Ends the statement with HTTP <status> problem <code>: <message> (field: JSON member the error points at).';

-- If-Match: the version the client read must still be the current one.
CREATE FUNCTION rectify.check_version(current_version integer, if_match integer)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF current_version IS DISTINCT FROM if_match THEN
        PERFORM rectify.fail(412, 'precondition_failed',
            format('If-Match does not match the current version "%s"; re-read and retry.',
                   current_version));
    END IF;
END
$$;

GRANT EXECUTE ON FUNCTION rectify.fail(integer, text, text, text, text) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.check_version(integer, integer) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Campaigns, the exemplar (src/api/campaigns.c).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.campaign_json(c campaigns) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object('id', c.id, 'name', c.name, 'round', c.round,
        'province_org_id', c.province_org_id, 'team_org_id', c.team_org_id,
        'stay_start', c.stay_start, 'stay_end', c.stay_end, 'feedback_date', c.feedback_date,
        'plan_published_date', c.plan_published_date, 'description', c.description,
        'version', c.version, 'created_at', c.created_at, 'updated_at', c.updated_at)
$$;

-- The rules a campaign must meet beyond its column constraints, with the
-- member each failure points at.
CREATE FUNCTION rectify.campaign_check(c campaigns) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = c.province_org_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A referenced organisation does not exist.',
                             'province_org_id', 'does not exist');
    END IF;
    IF c.team_org_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = c.team_org_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A referenced organisation does not exist.',
                             'team_org_id', 'does not exist');
    END IF;
    IF c.stay_end < c.stay_start THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The stay ends before it starts.',
                             'stay_end', 'must not be before stay_start');
    END IF;
    IF EXISTS (SELECT 1 FROM campaigns o WHERE o.province_org_id = c.province_org_id
                AND o.round = c.round AND o.id IS DISTINCT FROM c.id) THEN
        PERFORM rectify.fail(409, 'conflict',
                             'The province already has a campaign with this round number.',
                             'round', 'already exists for this province');
    END IF;
END
$$;

CREATE FUNCTION rectify.campaign_create(body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    c campaigns := jsonb_populate_record(NULL::campaigns, body);
BEGIN
    PERFORM rectify.campaign_check(c);
    INSERT INTO campaigns (name, round, province_org_id, team_org_id, stay_start, stay_end,
                           feedback_date, plan_published_date, description)
    VALUES (c.name, c.round, c.province_org_id, c.team_org_id, c.stay_start, c.stay_end,
            c.feedback_date, c.plan_published_date, c.description)
    RETURNING * INTO c;
    RETURN QUERY SELECT c.version, rectify.campaign_json(c), '/api/v1/campaigns/' || c.id;
END
$$;

-- A merge patch: the members present in body overlay the current row.
CREATE FUNCTION rectify.campaign_patch(campaign_id bigint, if_match integer, body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur campaigns;
    nv campaigns;
BEGIN
    SELECT * INTO cur FROM campaigns c WHERE c.id = campaign_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such campaign.');
    END IF;
    PERFORM rectify.check_version(cur.version, if_match);
    nv := jsonb_populate_record(cur, body);
    IF nv IS NOT DISTINCT FROM cur THEN
        RETURN QUERY SELECT cur.version, rectify.campaign_json(cur);
        RETURN;
    END IF;
    PERFORM rectify.campaign_check(nv);
    UPDATE campaigns c SET name = nv.name, round = nv.round, province_org_id = nv.province_org_id,
           team_org_id = nv.team_org_id, stay_start = nv.stay_start, stay_end = nv.stay_end,
           feedback_date = nv.feedback_date, plan_published_date = nv.plan_published_date,
           description = nv.description
     WHERE c.id = campaign_id
    RETURNING * INTO nv;
    RETURN QUERY SELECT nv.version, rectify.campaign_json(nv);
END
$$;

GRANT EXECUTE ON FUNCTION rectify.campaign_json(campaigns) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.campaign_check(campaigns) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.campaign_create(jsonb) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.campaign_patch(bigint, integer, jsonb) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Organisations (src/api/orgs.c).
-- ---------------------------------------------------------------------------
-- OrgDetail: the org plus its ancestors from the root down to the parent.  The
-- ancestors are read from the statement's snapshot: after a move the moved
-- subtree has new paths, but the new ancestors are outside it and so unchanged.
CREATE FUNCTION rectify.org_json(o orgs) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object('id', o.id, 'code', o.code, 'name', o.name, 'name_en', o.name_en,
        'kind', o.kind, 'parent_id', o.parent_id, 'path', o.path::text, 'version', o.version,
        'created_at', o.created_at, 'updated_at', o.updated_at,
        'ancestors', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'code', a.code,
                                 'name', a.name, 'kind', a.kind) ORDER BY nlevel(a.path)), '[]')
                        FROM orgs a WHERE a.path @> o.path AND a.id <> o.id))
$$;

-- Only a province or the inspection team is a root; the parent must exist and
-- must not be the org itself or one of its descendants.
CREATE FUNCTION rectify.org_check(nv orgs, cur orgs) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    root boolean := nv.kind IN ('province', 'inspection_team');
BEGIN
    IF root AND nv.parent_id IS NOT NULL AND cur.id IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The request body has 1 invalid field.',
                             'parent_id', format('must be null for kind %s', nv.kind));
    END IF;
    IF NOT root AND nv.parent_id IS NULL THEN
        PERFORM rectify.fail(422, 'validation_failed',
            CASE WHEN cur.id IS NULL THEN 'The request body has 1 invalid field.'
                 ELSE 'Only a province or the inspection team has no parent.' END,
            'parent_id', CASE WHEN cur.id IS NULL THEN format('is required for kind %s', nv.kind)
                              ELSE 'is required for this kind of organisation' END);
    END IF;
    IF nv.parent_id IS DISTINCT FROM cur.parent_id AND nv.parent_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM orgs p WHERE p.id = nv.parent_id) THEN
            PERFORM rectify.fail(422, 'validation_failed', 'The parent organisation does not exist.',
                                 'parent_id', 'does not exist');
        END IF;
        IF cur.id IS NOT NULL AND EXISTS (SELECT 1 FROM orgs p WHERE p.id = nv.parent_id
                                          AND p.path <@ cur.path) THEN
            PERFORM rectify.fail(422, 'validation_failed',
                'An organisation cannot move under itself or one of its descendants.',
                'parent_id', 'is the organisation itself or one of its descendants');
        END IF;
    END IF;
    IF cur.id IS NULL AND EXISTS (SELECT 1 FROM orgs o WHERE o.code = nv.code) THEN
        PERFORM rectify.fail(409, 'conflict', 'An organisation with this code already exists.',
                             'code', 'already exists');
    END IF;
END
$$;

CREATE FUNCTION rectify.org_create(body jsonb)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    o orgs := jsonb_populate_record(NULL::orgs, body);
BEGIN
    PERFORM rectify.org_check(o, NULL);
    INSERT INTO orgs (code, name, name_en, kind, parent_id)
    VALUES (o.code, o.name, o.name_en, o.kind, o.parent_id)
    RETURNING * INTO o;
    RETURN QUERY SELECT o.version, rectify.org_json(o), '/api/v1/orgs/' || o.id;
END
$$;

CREATE FUNCTION rectify.org_patch(org_id bigint, if_match integer, body jsonb)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur orgs;
    nv orgs;
BEGIN
    SELECT * INTO cur FROM orgs o WHERE o.id = org_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such organisation.');
    END IF;
    PERFORM rectify.check_version(cur.version, if_match);
    nv := jsonb_populate_record(cur, body);
    IF nv IS NOT DISTINCT FROM cur THEN
        RETURN QUERY SELECT cur.version, rectify.org_json(cur);
        RETURN;
    END IF;
    PERFORM rectify.org_check(nv, cur);
    UPDATE orgs o SET name = nv.name, name_en = nv.name_en, kind = nv.kind, parent_id = nv.parent_id
     WHERE o.id = org_id
    RETURNING * INTO nv;
    RETURN QUERY SELECT nv.version, rectify.org_json(nv);
END
$$;

GRANT EXECUTE ON FUNCTION rectify.org_json(orgs) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.org_check(orgs, orgs) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.org_create(jsonb) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.org_patch(bigint, integer, jsonb) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Users (src/api/users.c).  password_hash is not readable by rectify_api, so
-- these functions name their columns; the hash comes in as its own argument,
-- never inside the body (the handler removes the password before it sends it).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.user_json(user_id bigint) RETURNS json
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT json_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name,
        'org_id', u.org_id,
        'org', json_build_object('id', o.id, 'code', o.code, 'name', o.name, 'kind', o.kind),
        'roles', u.roles, 'disabled', u.disabled, 'version', u.version,
        'created_at', u.created_at, 'updated_at', u.updated_at, 'last_login_at', u.last_login_at)
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.id = user_id
$$;

CREATE FUNCTION rectify.user_org_check(org_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The organisation does not exist.',
                             'org_id', 'does not exist');
    END IF;
END
$$;

-- A duplicate username is the unique key's 409 (pointer /username).  An office
-- user creating an admin is refused by row-level security (42501 → 403).
CREATE FUNCTION rectify.user_create(body jsonb, hash text)
    RETURNS TABLE (version integer, json json, location text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    new_id bigint;
BEGIN
    PERFORM rectify.user_org_check((body->>'org_id')::bigint);
    INSERT INTO users (username, display_name, org_id, roles, password_hash)
    VALUES (body->>'username', body->>'display_name', (body->>'org_id')::bigint,
            ARRAY(SELECT jsonb_array_elements_text(body->'roles')), hash)
    RETURNING id INTO new_id;
    RETURN QUERY SELECT 1, rectify.user_json(new_id), '/api/v1/users/' || new_id;
END
$$;

-- A merge patch; new_hash NULL keeps the password.  Only an admin changes an
-- admin or grants admin (403, before the version is looked at).
CREATE FUNCTION rectify.user_patch(user_id bigint, if_match integer, body jsonb, new_hash text)
    RETURNS TABLE (version integer, json json)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur record;
    nv record;
BEGIN
    SELECT u.id, u.display_name, u.org_id, u.roles, u.disabled, u.version INTO cur
      FROM users u WHERE u.id = user_id;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such user.');
    END IF;
    IF NOT rectify.has_role('admin')
       AND ('admin' = ANY (cur.roles) OR coalesce(body->'roles' ? 'admin', false)) THEN
        PERFORM rectify.fail(403, 'forbidden', 'Only an admin may change an admin or grant admin.');
    END IF;
    PERFORM rectify.check_version(cur.version, if_match);
    SELECT coalesce(body->>'display_name', cur.display_name) AS display_name,
           coalesce((body->>'org_id')::bigint, cur.org_id) AS org_id,
           CASE WHEN body ? 'roles' THEN ARRAY(SELECT DISTINCT x FROM
                jsonb_array_elements_text(body->'roles') AS x ORDER BY x) ELSE cur.roles END AS roles,
           coalesce((body->>'disabled')::boolean, cur.disabled) AS disabled
      INTO nv;
    IF nv.org_id <> cur.org_id THEN
        PERFORM rectify.user_org_check(nv.org_id);
    END IF;
    IF new_hash IS NULL AND (nv.display_name, nv.org_id, nv.roles, nv.disabled)
                            IS NOT DISTINCT FROM (cur.display_name, cur.org_id, cur.roles, cur.disabled) THEN
        RETURN QUERY SELECT cur.version, rectify.user_json(user_id);
        RETURN;
    END IF;
    -- Two statements: rectify_api may write password_hash but not read it.
    IF new_hash IS NULL THEN
        UPDATE users u SET display_name = nv.display_name, org_id = nv.org_id, roles = nv.roles,
               disabled = nv.disabled
         WHERE u.id = user_id AND u.version = if_match;
    ELSE
        UPDATE users u SET display_name = nv.display_name, org_id = nv.org_id, roles = nv.roles,
               disabled = nv.disabled, password_hash = new_hash
         WHERE u.id = user_id AND u.version = if_match;
    END IF;
    IF NOT FOUND THEN                       -- changed since it was read
        SELECT u.version INTO cur FROM users u WHERE u.id = user_id;
        PERFORM rectify.check_version(cur.version, if_match);
    END IF;
    RETURN QUERY SELECT u.version, rectify.user_json(user_id) FROM users u WHERE u.id = user_id;
END
$$;

GRANT EXECUTE ON FUNCTION rectify.user_json(bigint) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.user_org_check(bigint) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.user_create(jsonb, text) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.user_patch(bigint, integer, jsonb, text) TO rectify_api;

-- ---------------------------------------------------------------------------
-- Problems (src/api/problems.c).  These return the row; the handler renders it
-- with the detail it shares with get (tasks summary, warning levels).  The body
-- names the lead org lead_org_id; the column is owner_org_id (scope, 0003).
-- ---------------------------------------------------------------------------
CREATE FUNCTION rectify.problem_check(p problems) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = p.campaign_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'The campaign does not exist.',
                             'campaign_id', 'does not exist');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = p.owner_org_id) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A referenced organisation does not exist.',
                             'lead_org_id', 'does not exist');
    END IF;
    IF (SELECT count(*) FROM orgs o WHERE o.id = ANY (p.region_org_ids))
       <> cardinality(p.region_org_ids) THEN
        PERFORM rectify.fail(422, 'validation_failed', 'A referenced organisation does not exist.',
                             'region_org_ids', 'does not exist');
    END IF;
END
$$;

-- The body as a problems row over base (NULL for a new problem).
CREATE FUNCTION rectify.problem_from_body(base problems, body jsonb) RETURNS problems
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT jsonb_populate_record(base, body - 'lead_org_id'
        || CASE WHEN body ? 'lead_org_id' THEN jsonb_build_object('owner_org_id', body->'lead_org_id')
                ELSE '{}' END)
$$;

CREATE FUNCTION rectify.problem_create(body jsonb) RETURNS problems
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    p problems := rectify.problem_from_body(NULL, body);
BEGIN
    PERFORM rectify.problem_check(p);
    INSERT INTO problems (campaign_id, code, title, description, category, source, region_org_ids,
                          owner_org_id, responsible_name, responsible_post, target, deadline)
    VALUES (p.campaign_id, p.code, p.title, p.description, p.category, coalesce(p.source, 'report'),
            coalesce(p.region_org_ids, '{}'), p.owner_org_id, p.responsible_name,
            p.responsible_post, p.target, p.deadline)
    RETURNING * INTO p;
    RETURN p;
END
$$;

CREATE FUNCTION rectify.problem_patch(problem_id bigint, if_match integer, body jsonb)
    RETURNS problems
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    cur problems;
    nv problems;
BEGIN
    SELECT * INTO cur FROM problems p WHERE p.id = problem_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rectify.fail(404, 'not_found', 'No such problem.');
    END IF;
    PERFORM rectify.check_version(cur.version, if_match);
    nv := rectify.problem_from_body(cur, body);
    IF nv IS NOT DISTINCT FROM cur THEN
        RETURN cur;
    END IF;
    PERFORM rectify.problem_check(nv);
    UPDATE problems p SET title = nv.title, description = nv.description, category = nv.category,
           source = nv.source, region_org_ids = nv.region_org_ids, owner_org_id = nv.owner_org_id,
           responsible_name = nv.responsible_name, responsible_post = nv.responsible_post,
           target = nv.target, deadline = nv.deadline
     WHERE p.id = problem_id
    RETURNING * INTO nv;
    RETURN nv;
END
$$;

GRANT EXECUTE ON FUNCTION rectify.problem_check(problems) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.problem_from_body(problems, jsonb) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.problem_create(jsonb) TO rectify_api;
GRANT EXECUTE ON FUNCTION rectify.problem_patch(bigint, integer, jsonb) TO rectify_api;
