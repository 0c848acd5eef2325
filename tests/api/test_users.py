"""User accounts: list, get, create and change (admin), the password policy,
token invalidation on changes, and who may do what."""
import json
import re
import urllib.parse

import harness
from harness import assert_problem

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+08:00$")
USER_FIELDS = {"id", "username", "display_name", "org_id", "org", "roles", "disabled", "version",
               "created_at", "updated_at", "last_login_at"}
PASSWORD = "correct-horse-battery"


def qs(**params):
    return "?" + urllib.parse.urlencode(params) if params else ""


class UsersTestCase(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = {}
        for name, org, roles in (("usr_admin", "620000", ["admin"]),
                                 ("usr_office", "GS-OFFICE", ["office"]),
                                 ("usr_unit", "620102", ["unit"]),
                                 ("usr_leader", "GS-LG", ["leader"])):
            cls.ids[name] = harness.create_user(cls.db_url, name, org, roles)
        cls.admin = cls.svc.login("usr_admin")
        cls.office = cls.svc.login("usr_office")
        cls.unit = cls.svc.login("usr_unit")
        cls.leader = cls.svc.login("usr_leader")

    def sql(self, query):
        return harness.psql(query, dbname=self.db_name)

    def org_id(self, code):
        return int(self.sql("SELECT id FROM orgs WHERE code = '%s'" % code))

    def create(self, body, token=None):
        return self.svc.post("/api/v1/users", body, token=token or self.admin)

    def new_user(self, username, org="620100", roles=("unit",), password=PASSWORD):
        r = self.create({"username": username, "display_name": "用户" + username,
                         "org_id": self.org_id(org), "roles": list(roles), "password": password})
        self.assertEqual(r.status, 201, r)
        return r.json

    def patch(self, uid, body, etag, token=None):
        headers = {} if etag is None else {"If-Match": etag}
        return self.svc.patch("/api/v1/users/%d" % uid, body, token=token or self.admin, headers=headers)

    def get_user(self, uid, token=None):
        return self.svc.get("/api/v1/users/%d" % uid, token=token or self.admin)

    def epoch(self, uid):
        return int(self.sql("SELECT token_epoch FROM users WHERE id = %d" % uid))


class CreateUser(UsersTestCase):
    def test_create_answers_201_as_get_would(self):
        lanzhou = self.org_id("620100")
        r = self.create({"username": "zhang.wei", "display_name": "张伟", "org_id": lanzhou,
                         "roles": ["viewer", "unit"], "password": PASSWORD})
        self.assertEqual(r.status, 201, r)
        doc = r.json
        self.assertEqual(set(doc), USER_FIELDS)
        self.assertEqual(r.header("location"), "/api/v1/users/%d" % doc["id"])
        self.assertEqual(r.header("etag"), '"1"')
        self.assertEqual((doc["username"], doc["display_name"], doc["org_id"], doc["roles"], doc["disabled"],
                          doc["version"], doc["last_login_at"]),
                         ("zhang.wei", "张伟", lanzhou, ["unit", "viewer"], False, 1, None))
        self.assertEqual(doc["org"], {"id": lanzhou, "code": "620100", "name": "兰州市", "kind": "prefecture"})
        self.assertRegex(doc["created_at"], TIMESTAMP)
        self.assertNotIn("password", r.body.decode())
        self.assertNotIn("argon2", r.body.decode())
        got = self.get_user(doc["id"])
        self.assertEqual((got.status, got.json, got.header("etag")), (200, doc, '"1"'))
        # The new user can sign in with the password, and the hash is Argon2id.
        self.assertTrue(self.svc.login("zhang.wei", PASSWORD))
        self.assertTrue(self.sql("SELECT password_hash FROM users WHERE id = %d" % doc["id"]).startswith("$argon2id$"))

    def test_duplicate_username_is_409(self):
        self.new_user("dup.user")
        r = self.create({"username": "dup.user", "display_name": "x", "org_id": 1, "roles": ["viewer"],
                         "password": PASSWORD})
        doc = assert_problem(self, r, 409, "conflict")
        self.assertEqual(doc["errors"], [{"pointer": "/username", "code": "already_exists", "message": "already exists"}])

    def test_password_policy_is_422(self):
        for password, why in (("short-1", "10"), ("aaaaaaaaaaaa", "repeated"),
                              ("xx-pw.user-xx", "user name"), ("x" * 257, "")):
            r = self.create({"username": "pw.user", "display_name": "x", "org_id": 1, "roles": ["viewer"],
                             "password": password})
            doc = assert_problem(self, r, 422, "validation_failed")
            self.assertEqual([e["pointer"] for e in doc["errors"]], ["/password"], password)
            self.assertIn(why, doc["errors"][0]["message"])
            self.assertNotIn(password, r.body.decode())
        self.assertEqual(self.sql("SELECT count(*) FROM users WHERE username = 'pw.user'"), "0")

    def test_invalid_bodies(self):
        base = {"username": "bad.body", "display_name": "x", "org_id": 1, "roles": ["viewer"], "password": PASSWORD}
        cases = [
            ({}, {"/username", "/display_name", "/org_id", "/roles", "/password"}),
            (dict(base, username="Upper.Case"), {"/username"}),
            (dict(base, username="ab"), {"/username"}),
            (dict(base, username="-dash"), {"/username"}),
            (dict(base, username="a" * 65), {"/username"}),
            (dict(base, username="has space"), {"/username"}),
            (dict(base, display_name=""), {"/display_name"}),
            (dict(base, display_name="  "), {"/display_name"}),
            (dict(base, org_id="1"), {"/org_id"}),
            (dict(base, roles=[]), {"/roles"}),
            (dict(base, roles="unit"), {"/roles"}),
            (dict(base, roles=["unit", "god"]), {"/roles/1"}),
            (dict(base, roles=["unit", "unit"]), {"/roles/1"}),
            (dict(base, password=None), {"/password"}),
            (dict(base, disabled=True), {"/disabled"}),
            (dict(base, password_hash="$argon2id$x"), {"/password_hash"}),
        ]
        for body, pointers in cases:
            doc = assert_problem(self, self.create(body), 422, "validation_failed")
            self.assertEqual({e["pointer"] for e in doc["errors"]}, pointers, body)
        doc = assert_problem(self, self.create(dict(base, org_id=999999)), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/org_id"])
        self.assertEqual(self.sql("SELECT count(*) FROM users WHERE username = 'bad.body'"), "0")

    def test_who_creates(self):
        # Admin and office create users; only an admin creates an admin.
        body = {"username": "by.office", "display_name": "x", "org_id": 1, "roles": ["admin"], "password": PASSWORD}
        for token in (self.office, self.unit, self.leader):
            assert_problem(self, self.create(body, token), 403, "forbidden")
        body["roles"] = ["unit"]
        for token in (self.unit, self.leader):
            assert_problem(self, self.create(body, token), 403, "forbidden")
        self.assertEqual(self.sql("SELECT count(*) FROM users WHERE username = 'by.office'"), "0")
        r = self.create(body, self.office)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["roles"], ["unit"])


class ReadUsers(UsersTestCase):
    def test_get_and_not_found(self):
        uid = self.ids["usr_unit"]
        for token in (self.admin, self.office):
            r = self.get_user(uid, token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["username"], "usr_unit")
            self.assertEqual(r.json["org"]["code"], "620102")
            self.assertEqual(r.header("etag"), '"%d"' % r.json["version"])
            for bad in ("999999", "0", "abc", "-3", "99999999999999999999"):
                assert_problem(self, self.svc.get("/api/v1/users/" + bad, token=token), 404, "not_found")

    def test_other_roles_are_403(self):
        # x-roles [admin, office]: everyone else reads itself through /me. The
        # answer is the same for its own id, another id and a missing id, so
        # it discloses nothing.
        for token in (self.unit, self.leader):
            for uid in (self.ids["usr_unit"], self.ids["usr_admin"], 999999):
                assert_problem(self, self.get_user(uid, token), 403, "forbidden")
            assert_problem(self, self.svc.get("/api/v1/users", token=token), 403, "forbidden")
        assert_problem(self, self.svc.get("/api/v1/users"), 401, "unauthorized")

    def test_list_walk_and_filters(self):
        for i in range(5):
            self.new_user("list.%d" % i, org="620103" if i % 2 else "620100",
                          roles=("unit", "viewer") if i < 2 else ("viewer",))
        expected = [int(x) for x in self.sql("SELECT id FROM users ORDER BY id").split()]
        for limit in (1, 2, 3, 50):
            ids, cursor = [], None
            while True:
                r = self.svc.get("/api/v1/users" + qs(limit=limit, **({"cursor": cursor} if cursor else {})),
                                 token=self.office)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(set(r.json), {"items", "next_cursor"})
                self.assertLessEqual(len(r.json["items"]), limit)
                for u in r.json["items"]:
                    self.assertEqual(set(u), USER_FIELDS)
                ids += [u["id"] for u in r.json["items"]]
                cursor = r.json["next_cursor"]
                if not cursor:
                    break
            self.assertEqual(ids, expected, limit)

        def names(**params):
            r = self.svc.get("/api/v1/users" + qs(limit=500, **params), token=self.admin)
            self.assertEqual(r.status, 200, r)
            return [u["username"] for u in r.json["items"]]

        self.assertEqual(names(org=self.org_id("620103")), ["list.1", "list.3"])
        self.assertEqual(names(role="unit", q="LIST"), ["list.0", "list.1"])
        self.assertEqual(names(q="用户list.4"), ["list.4"])                 # display_name
        self.assertEqual(names(role="office"), ["usr_office"])
        self.assertEqual(names(q="%"), [])
        self.assertIn("usr_admin", names(disabled="false"))
        self.assertNotIn("list.4", names(disabled="true"))

    def test_bad_parameters(self):
        for name, value in (("org", "x"), ("org", "0"), ("role", "king"), ("disabled", "yes"),
                            ("disabled", "1"), ("q", ""), ("limit", "501"), ("cursor", "abc")):
            doc = assert_problem(self, self.svc.get("/api/v1/users" + qs(**{name: value}), token=self.admin),
                                 400, "invalid_parameter")
            self.assertEqual([e["parameter"] for e in doc["errors"]], [name], (name, value))


class PatchUser(UsersTestCase):
    def test_if_match_flow_and_merge(self):
        u = self.new_user("patch.me")
        r = self.patch(u["id"], {"display_name": "新名字"}, '"1"')
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["display_name"], r.json["roles"], r.json["version"], r.header("etag")),
                         ("新名字", ["unit"], 2, '"2"'))
        self.assertEqual(r.json, self.get_user(u["id"]).json)
        assert_problem(self, self.patch(u["id"], {"display_name": "x"}, '"1"'), 412, "precondition_failed")
        assert_problem(self, self.patch(u["id"], {"display_name": "x"}, None), 428, "precondition_required")
        assert_problem(self, self.patch(u["id"], {"display_name": "x"}, "*"), 428, "precondition_required")
        # {} and a patch to the same values change nothing.
        for body in ({}, {"roles": ["unit"], "display_name": "新名字", "disabled": False}):
            r = self.patch(u["id"], body, '"2"')
            self.assertEqual((r.status, r.header("etag"), r.json["version"]), (200, '"2"', 2), r)

    def test_invalid_patches(self):
        u = self.new_user("patch.bad")
        for body, pointer in (({"username": "other"}, "/username"), ({"id": 1}, "/id"),
                              ({"token_epoch": 9}, "/token_epoch"), ({"roles": []}, "/roles"),
                              ({"roles": ["x"]}, "/roles/0"), ({"disabled": "true"}, "/disabled"),
                              ({"org_id": None}, "/org_id"), ({"display_name": ""}, "/display_name"),
                              ({"password": "short"}, "/password"), ({"password": "xxpatch.badxx"}, "/password")):
            doc = assert_problem(self, self.patch(u["id"], body, '"1"'), 422, "validation_failed")
            self.assertEqual([e["pointer"] for e in doc["errors"]], [pointer], body)
        doc = assert_problem(self, self.patch(u["id"], {"org_id": 999999}, '"1"'), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/org_id"])
        self.assertEqual(self.get_user(u["id"]).json["version"], 1)

    def test_not_found_and_forbidden(self):
        assert_problem(self, self.patch(999999, {"display_name": "x"}, '"1"'), 404, "not_found")
        assert_problem(self, self.patch(999999, {"password": "a-long-new-password"}, '"1"'), 404, "not_found")
        u = self.new_user("patch.forbidden")
        for token in (self.unit, self.leader):
            assert_problem(self, self.patch(u["id"], {"display_name": "x"}, '"1"', token), 403, "forbidden")
        # The office changes ordinary users but may not grant admin ...
        assert_problem(self, self.patch(u["id"], {"roles": ["admin"]}, '"1"', self.office), 403, "forbidden")
        self.assertEqual(self.get_user(u["id"]).json["version"], 1)
        r = self.patch(u["id"], {"display_name": "由整改办修改"}, '"1"', self.office)
        self.assertEqual(r.status, 200, r)
        # ... nor touch an admin.
        admin_id = int(self.sql("SELECT id FROM users WHERE 'admin' = ANY (roles) ORDER BY id LIMIT 1"))
        version = self.get_user(admin_id).json["version"]
        assert_problem(self, self.patch(admin_id, {"display_name": "x"}, '"%d"' % version, self.office),
                       403, "forbidden")

    def test_password_change(self):
        u = self.new_user("pw.change")
        token = self.svc.login("pw.change", PASSWORD)
        epoch = self.epoch(u["id"])
        r = self.patch(u["id"], {"password": "a-brand-new-secret"}, '"1"')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"2"')
        self.assertNotIn("secret", r.body.decode())
        self.assertEqual(self.epoch(u["id"]), epoch + 1)            # bumped once, by the trigger
        assert_problem(self, self.svc.get("/api/v1/me", token=token), 401, "invalid_token")
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": "pw.change", "password": PASSWORD}),
                       401, "invalid_credentials")
        self.assertTrue(self.svc.login("pw.change", "a-brand-new-secret"))
        # Neither the password nor its hash reaches the audit trail.
        trail = self.sql("SELECT json_agg(json_build_object('b', before, 'a', after)) FROM audit_log"
                         " WHERE table_name = 'users' AND row_id = '%d'" % u["id"])
        self.assertNotIn("argon2", trail)
        self.assertNotIn("password_hash", trail)
        self.assertNotIn("brand-new", trail)

    def test_roles_and_org_change_end_tokens(self):
        u = self.new_user("role.change")
        token = self.svc.login("role.change", PASSWORD)
        self.assertEqual(self.svc.get("/api/v1/me", token=token).status, 200)
        r = self.patch(u["id"], {"roles": ["viewer", "unit"]}, '"1"')
        self.assertEqual((r.status, r.json["roles"]), (200, ["unit", "viewer"]), r)
        assert_problem(self, self.svc.get("/api/v1/me", token=token), 401, "invalid_token")
        token = self.svc.login("role.change", PASSWORD)
        r = self.patch(u["id"], {"org_id": self.org_id("620103")}, '"2"')
        self.assertEqual((r.status, r.json["org"]["code"]), (200, "620103"), r)
        assert_problem(self, self.svc.get("/api/v1/me", token=token), 401, "invalid_token")
        # A display-name change does not sign anyone out.
        token = self.svc.login("role.change", PASSWORD)
        self.assertEqual(self.patch(u["id"], {"display_name": "改名"}, '"3"').status, 200)
        self.assertEqual(self.svc.get("/api/v1/me", token=token).status, 200)

    def test_disable_and_enable(self):
        u = self.new_user("to.disable")
        tokens = self.svc.post("/api/v1/auth/token", {"username": "to.disable", "password": PASSWORD}).json
        self.assertEqual(self.svc.get("/api/v1/me", token=tokens["access_token"]).status, 200)
        epoch = self.epoch(u["id"])
        r = self.patch(u["id"], {"disabled": True}, '"1"')
        self.assertEqual((r.status, r.json["disabled"]), (200, True), r)
        self.assertEqual(self.epoch(u["id"]), epoch + 1)
        assert_problem(self, self.svc.get("/api/v1/me", token=tokens["access_token"]), 401, "invalid_token")
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
                       401, "invalid_refresh_token")
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": "to.disable", "password": PASSWORD}),
                       401, "invalid_credentials")
        r = self.svc.get("/api/v1/users" + qs(disabled="true", q="to.disable"), token=self.office)
        self.assertEqual([x["username"] for x in r.json["items"]], ["to.disable"])
        r = self.patch(u["id"], {"disabled": False}, '"2"')
        self.assertEqual((r.status, r.json["disabled"]), (200, False), r)
        self.assertTrue(self.svc.login("to.disable", PASSWORD))


if __name__ == "__main__":
    harness.main()
