-- 0033_complaint_similar_speed.sql — GET /complaints/{id}/similar without a
-- full scan under row-level security.
--
-- Under RLS only leakproof operators become index conditions; pg_trgm's `%`
-- is not, and the policy's scope condition is estimated at a few rows, so the
-- old statement read every complaint and computed a similarity for each
-- (~1 s over 100 000). This function finds the candidates with indexes as the
-- owner — same county (complaints_county_idx, trigram indexes ANDed in), or a
-- box of about ±5 km — and returns only ids: the caller's statement still
-- reads the rows through RLS, so nothing invisible is revealed.
CREATE INDEX complaints_latitude_idx ON complaints (latitude) WHERE latitude IS NOT NULL;

CREATE FUNCTION rectify.complaint_similar_candidates(p_id bigint) RETURNS SETOF bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    SELECT c.id FROM complaints x JOIN complaints c ON c.county_org_id = x.county_org_id
     WHERE x.id = p_id AND c.id <> x.id
       AND (c.content % x.content OR c.entity_name % x.entity_name)
    UNION
    SELECT c.id FROM complaints x JOIN complaints c
        ON c.latitude BETWEEN x.latitude - 0.05 AND x.latitude + 0.05
       AND c.longitude BETWEEN x.longitude - 0.07 AND x.longitude + 0.07
     WHERE x.id = p_id AND c.id <> x.id
       AND (c.content % x.content OR c.entity_name % x.entity_name)
    $$;
REVOKE EXECUTE ON FUNCTION rectify.complaint_similar_candidates(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rectify.complaint_similar_candidates(bigint) TO rectify_api;
