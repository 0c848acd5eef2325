"""Org scope matrix: users of two sibling counties, their prefecture, a
provincial department, the leading group and the rectification office, each
against every user row — through the API and, underneath it, through the
row-level security the API relies on.

What the contract says (api-spec/openapi.yaml, x-roles):
  - the org directory is open to every authenticated user;
  - user rows are read through /api/v1/users only by admin and office, which
    see the whole province; anyone else reads itself through /api/v1/me and
    gets 403 from /api/v1/users — for every id alike, its own, another org's
    or one that does not exist, so the answer discloses nothing;
  - a row the caller may not see, or that does not exist, is 404 (never 403)
    for a caller whose role may use the operation.
"""
import urllib.parse

import harness
from harness import assert_problem

# name -> (org code, roles)
PRINCIPALS = {
    "sc_chengguan": ("620102", ["unit"]),        # 城关区, county under 兰州市
    "sc_qilihe": ("620103", ["unit"]),           # 七里河区, its sibling
    "sc_lanzhou": ("620100", ["unit"]),          # 兰州市, their prefecture
    "sc_ee": ("GS-EE", ["unit"]),                # 省生态环境厅, a department
    "sc_leader": ("GS-LG", ["leader"]),          # 领导小组: reads all ledgers, not accounts
    "sc_office": ("GS-OFFICE", ["office"]),      # 整改办
    "sc_admin": ("620000", ["admin"]),
}
ACCOUNT_READERS = {"sc_office", "sc_admin"}


def qs(**params):
    return "?" + urllib.parse.urlencode(params)


class ScopeMatrix(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids, cls.tokens = {}, {}
        for name, (org, roles) in PRINCIPALS.items():
            cls.ids[name] = harness.create_user(cls.db_url, name, org, roles)
            # A second account in the same org, so "the org's users" is not
            # just the caller.
            cls.ids[name + "_2"] = harness.create_user(cls.db_url, name + "_2", org, ["viewer"])
        for name in PRINCIPALS:
            cls.tokens[name] = cls.svc.login(name)

    def sql(self, query):
        return harness.psql(query, dbname=self.db_name)

    def org_id(self, code):
        return int(self.sql("SELECT id FROM orgs WHERE code = '%s'" % code))

    def test_me_is_always_oneself(self):
        for name, (org, roles) in PRINCIPALS.items():
            r = self.svc.get("/api/v1/me", token=self.tokens[name])
            self.assertEqual(r.status, 200, (name, r))
            self.assertEqual((r.json["id"], r.json["org"]["code"], r.json["roles"]), (self.ids[name], org, roles))

    def test_get_user_matrix(self):
        targets = dict(self.ids, missing=999999)
        for caller in PRINCIPALS:
            for target, uid in targets.items():
                r = self.svc.get("/api/v1/users/%d" % uid, token=self.tokens[caller])
                what = "%s -> %s" % (caller, target)
                if caller not in ACCOUNT_READERS:
                    assert_problem(self, r, 403, "forbidden")
                elif target == "missing":
                    assert_problem(self, r, 404, "not_found")
                else:
                    self.assertEqual(r.status, 200, what)
                    self.assertEqual((r.json["id"], r.json["username"]), (uid, target), what)

    def test_list_by_org_matrix(self):
        for caller in PRINCIPALS:
            for name, (org, _) in PRINCIPALS.items():
                r = self.svc.get("/api/v1/users" + qs(org=self.org_id(org), limit=500), token=self.tokens[caller])
                if caller not in ACCOUNT_READERS:
                    assert_problem(self, r, 403, "forbidden")
                    continue
                self.assertEqual(r.status, 200, r)
                got = sorted(u["username"] for u in r.json["items"])
                expected = sorted(n for n, (o, _) in PRINCIPALS.items() if o == org)
                expected = sorted(expected + [n + "_2" for n in expected])
                self.assertEqual(got, expected, "%s lists org %s" % (caller, org))
        # The whole list: every account, for both readers.
        every = sorted(self.ids)
        for caller in ACCOUNT_READERS:
            r = self.svc.get("/api/v1/users" + qs(limit=500), token=self.tokens[caller])
            self.assertEqual(sorted(u["username"] for u in r.json["items"]), every)

    def test_org_directory_is_open_to_all(self):
        codes = [org for org, _ in PRINCIPALS.values()] + ["620000", "CEEPI-4"]
        total = int(self.sql("SELECT count(*) FROM orgs"))
        for caller in PRINCIPALS:
            for code in codes:
                r = self.svc.get("/api/v1/orgs/%d" % self.org_id(code), token=self.tokens[caller])
                self.assertEqual((r.status, r.json.get("code")), (200, code), (caller, code))
            r = self.svc.get("/api/v1/orgs" + qs(limit=500), token=self.tokens[caller])
            self.assertEqual(len(r.json["items"]), total, caller)
            # Only admin writes the tree: 403 for the rest, before any lookup.
            r = self.svc.patch("/api/v1/orgs/%d" % self.org_id("620102"), {"name": "x"},
                               token=self.tokens[caller], headers={"If-Match": '"999"'})
            if caller == "sc_admin":
                assert_problem(self, r, 412, "precondition_failed")
            else:
                assert_problem(self, r, 403, "forbidden")
        self.assertEqual(self.sql("SELECT name FROM orgs WHERE code = '620102'"), "城关区")

    def test_user_writes_matrix(self):
        # Admin and office (x-roles; the office not on admins); others 403
        # whether the row is theirs or not.
        for caller in PRINCIPALS:
            for target in ("sc_chengguan_2", "sc_office_2", caller):
                r = self.svc.patch("/api/v1/users/%d" % self.ids[target], {"display_name": "改"},
                                   token=self.tokens[caller], headers={"If-Match": '"999"'})
                if caller in ("sc_admin", "sc_office"):
                    assert_problem(self, r, 412, "precondition_failed")      # reached the row
                else:
                    assert_problem(self, r, 403, "forbidden")
        assert_problem(self, self.svc.patch("/api/v1/users/999999", {"display_name": "x"},
                                            token=self.tokens["sc_admin"], headers={"If-Match": '"1"'}),
                       404, "not_found")


class RowLevelScope(harness.ServiceTestCase):
    """The same principals one floor down: what each request transaction can
    see once rectify.begin_request has set its identity (0008) and the role
    is rectify_api — exactly as db_run does it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = {name: harness.create_user(cls.db_url, name, org, roles)
                   for name, (org, roles) in PRINCIPALS.items()}

    def as_user(self, name, query):
        uid = self.ids[name]
        return harness.psql(
            "BEGIN;"
            " DO $$BEGIN PERFORM rectify.begin_request(%d, (SELECT token_epoch FROM users WHERE id = %d),"
            "                                          'scope-test');"
            "            PERFORM set_config('role', 'rectify_api', true); END$$;"
            " %s;"
            " ROLLBACK;" % (uid, uid, query), dbname=self.db_name)

    def test_users_rows(self):
        every = sorted(self.ids.values())
        for name in PRINCIPALS:
            seen = self.as_user(name, "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM users")
            seen = [int(x) for x in seen.split(",") if x]
            expected = every if name in ACCOUNT_READERS else [self.ids[name]]
            self.assertEqual(seen, expected, name)

    def test_orgs_and_audit_rows(self):
        total = harness.psql("SELECT count(*) FROM orgs", dbname=self.db_name)
        audit = harness.psql("SELECT count(*) FROM audit_log", dbname=self.db_name)
        for name in PRINCIPALS:
            self.assertEqual(self.as_user(name, "SELECT count(*) FROM orgs"), total, name)
            expected = audit if name in ACCOUNT_READERS else "0"
            self.assertEqual(self.as_user(name, "SELECT count(*) FROM audit_log"), expected, name)

    def test_password_hash_is_not_readable(self):
        with self.assertRaises(RuntimeError) as ctx:
            self.as_user("sc_admin", "SELECT password_hash FROM users")
        self.assertIn("permission denied", str(ctx.exception))


if __name__ == "__main__":
    harness.main()
