-- 0008_request_context.sql — the first statement of every request transaction.
--
-- The service sends, in the same pipeline as the request's own statements:
--
--   SELECT rectify.begin_request($user_id, $token_epoch, $request_id),
--          set_config('role', 'rectify_api', true);
--
-- begin_request checks that the token's user still exists, is enabled and has
-- the token's epoch (disable, password, role or org changes bump it), then
-- sets the transaction-local identity settings from the users row — so row-
-- level security always uses the user's current org path and roles, never
-- claims. A dead token raises RX401 (HTTP 401) before any other statement of
-- the request runs: one round trip does the check and the work.
-- Anonymous requests (sign-in, refresh) pass NULL user and epoch.

CREATE FUNCTION rectify.begin_request(p_user_id bigint, p_epoch integer, p_request_id text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    caller record;
BEGIN
    PERFORM set_config('rectify.request_id', coalesce(p_request_id, ''), true);
    IF p_user_id IS NULL THEN
        PERFORM set_config('rectify.user_id', '', true),
                set_config('rectify.org_id', '', true),
                set_config('rectify.org_path', '', true),
                set_config('rectify.roles', '', true);
        RETURN;
    END IF;
    SELECT u.id, u.org_id, o.path, u.roles INTO caller
      FROM users u JOIN orgs o ON o.id = u.org_id
     WHERE u.id = p_user_id AND u.token_epoch = p_epoch AND NOT u.disabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'The access token is not valid.'
            USING ERRCODE = 'RX401', HINT = 'invalid_token';
    END IF;
    PERFORM set_config('rectify.user_id', caller.id::text, true),
            set_config('rectify.org_id', caller.org_id::text, true),
            set_config('rectify.org_path', caller.path::text, true),
            set_config('rectify.roles', array_to_string(caller.roles, ','), true);
END
$$;
REVOKE EXECUTE ON FUNCTION rectify.begin_request(bigint, integer, text) FROM PUBLIC;
COMMENT ON FUNCTION rectify.begin_request(bigint, integer, text) IS
    'First statement of every request: validates the token''s user and sets the rectify.* settings.';
