"""Organisations: the directory (list, filters, keyset pages, one org with its
ancestors) and the admin's writes (create, change, move) with ETag/If-Match."""
import base64
import json
import re
import urllib.parse

import harness
from harness import assert_problem

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+08:00$")
ORG_FIELDS = {"id", "code", "name", "name_en", "kind", "parent_id", "path", "version",
              "created_at", "updated_at"}
SEEDED_ORGS = 127


def qs(**params):
    return "?" + urllib.parse.urlencode(params) if params else ""


class OrgsTestCase(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, org, roles in (("org_admin", "620000", ["admin"]),
                                 ("org_office", "GS-OFFICE", ["office"]),
                                 ("org_unit", "620102", ["unit"]),
                                 ("org_viewer", "620500", ["viewer"])):
            harness.create_user(cls.db_url, name, org, roles)
        cls.admin = cls.svc.login("org_admin")
        cls.office = cls.svc.login("org_office")
        cls.unit = cls.svc.login("org_unit")
        cls.viewer = cls.svc.login("org_viewer")

    def sql(self, query):
        return harness.psql(query, dbname=self.db_name)

    def org_id(self, code):
        return int(self.sql("SELECT id FROM orgs WHERE code = '%s'" % code))

    def get(self, path, token=None):
        return self.svc.get(path, token=token or self.admin)

    def walk(self, token=None, **params):
        """Follows next_cursor to the end; returns every item in order."""
        items, cursor, pages = [], None, 0
        while True:
            p = dict(params)
            if cursor:
                p["cursor"] = cursor
            r = self.get("/api/v1/orgs" + qs(**p), token)
            self.assertEqual(r.status, 200, r)
            doc = r.json
            self.assertEqual(set(doc), {"items", "next_cursor"})
            items += doc["items"]
            pages += 1
            cursor = doc["next_cursor"]
            if cursor is None:
                return items, pages
            self.assertLess(pages, 1000)

    def create(self, body, token=None, headers=None):
        return self.svc.post("/api/v1/orgs", body, token=token or self.admin, headers=headers)

    def patch(self, org_id, body, etag, token=None):
        headers = {} if etag is None else {"If-Match": etag}
        return self.svc.patch("/api/v1/orgs/%d" % org_id, body, token=token or self.admin,
                              headers=headers)


class ListOrgs(OrgsTestCase):
    def test_default_page_shape(self):
        r = self.get("/api/v1/orgs")
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(len(doc["items"]), 50)
        self.assertIsInstance(doc["next_cursor"], str)
        ids = [o["id"] for o in doc["items"]]
        self.assertEqual(ids, sorted(ids))
        province = doc["items"][0]
        self.assertEqual(set(province), ORG_FIELDS)
        self.assertEqual((province["code"], province["name"], province["kind"]), ("620000", "甘肃省", "province"))
        self.assertIsNone(province["parent_id"])
        self.assertEqual(province["path"], str(province["id"]))
        self.assertRegex(province["created_at"], TIMESTAMP)
        self.assertRegex(province["updated_at"], TIMESTAMP)

    def test_cursor_walks_every_org_exactly_once(self):
        expected = [int(x) for x in self.sql("SELECT id FROM orgs ORDER BY id").split()]
        self.assertEqual(len(expected), SEEDED_ORGS)          # this class writes nothing
        seeded = set(self.sql("SELECT code FROM orgs WHERE created_at = "
                              "(SELECT min(created_at) FROM orgs)").split())
        self.assertEqual(len(seeded), SEEDED_ORGS)
        for limit in (1, 7, 50, 126, 127, 500):
            items, pages = self.walk(limit=limit)
            ids = [o["id"] for o in items]
            self.assertEqual(ids, expected, "limit=%d" % limit)
            self.assertEqual(len(set(ids)), len(ids))
            self.assertTrue(seeded <= {o["code"] for o in items})
            self.assertEqual(pages, max(1, -(-len(expected) // limit)), "limit=%d" % limit)

    def test_every_role_reads_the_directory(self):
        for token in (self.office, self.unit, self.viewer):
            items, _ = self.walk(token, limit=500)
            self.assertGreaterEqual(len(items), SEEDED_ORGS)

    def test_filter_kind(self):
        items, _ = self.walk(kind="prefecture", limit=5)
        self.assertEqual(len(items), 14)
        self.assertTrue(all(o["kind"] == "prefecture" for o in items))
        counties, _ = self.walk(kind="county")
        self.assertEqual(len(counties), int(self.sql("SELECT count(*) FROM orgs WHERE kind = 'county'")))

    def test_filter_parent(self):
        lanzhou = self.org_id("620100")
        items, _ = self.walk(parent=lanzhou, limit=3)
        expected = [int(x) for x in self.sql("SELECT id FROM orgs WHERE parent_id = %d ORDER BY id" % lanzhou).split()]
        self.assertEqual([o["id"] for o in items], expected)
        self.assertIn("620102", [o["code"] for o in items])
        self.assertTrue(all(o["parent_id"] == lanzhou for o in items))
        # Filters combine with AND.
        items, _ = self.walk(parent=self.org_id("620000"), kind="department")
        self.assertTrue(items)
        self.assertTrue(all(o["kind"] == "department" for o in items))
        # A parent without children, or that does not exist: an empty page.
        r = self.get("/api/v1/orgs" + qs(parent=self.org_id("620102")))
        self.assertEqual(r.json, {"items": [], "next_cursor": None})
        r = self.get("/api/v1/orgs" + qs(parent=999999))
        self.assertEqual(r.json, {"items": [], "next_cursor": None})

    def test_q_searches_name_name_en_and_code(self):
        items, _ = self.walk(q="兰州")
        self.assertEqual([o["code"] for o in items], ["620100"])
        items, _ = self.walk(q="gs-ee")                       # code, case-insensitive
        self.assertIn("GS-EE", [o["code"] for o in items])
        items, _ = self.walk(q="ecology and ENVIRONMENT")     # name_en
        self.assertIn("GS-EE", [o["code"] for o in items])
        items, _ = self.walk(q="区", kind="county", limit=10)
        self.assertTrue(items)
        self.assertTrue(all("区" in o["name"] and o["kind"] == "county" for o in items))
        # LIKE wildcards are literal characters.
        for q in ("%", "_", "\\"):
            self.assertEqual(self.get("/api/v1/orgs" + qs(q=q)).json["items"], [], q)

    def test_bad_parameters(self):
        cursor = self.get("/api/v1/orgs" + qs(limit=1)).json["next_cursor"]
        forged = base64.urlsafe_b64encode(b'{"id":0}').rstrip(b"=").decode()
        cases = [("limit", "0"), ("limit", "501"), ("limit", "abc"), ("limit", "1.5"), ("limit", "-1"),
                 ("limit", ""), ("cursor", "not-a-cursor"), ("cursor", forged), ("cursor", cursor + "x"),
                 ("cursor", "e30"), ("kind", "planet"), ("kind", ""), ("parent", "-1"), ("parent", "0"),
                 ("parent", "abc"), ("q", ""), ("q", "x" * 101)]
        for name, value in cases:
            r = self.get("/api/v1/orgs" + qs(**{name: value}))
            doc = assert_problem(self, r, 400, "invalid_parameter")
            self.assertEqual([e["parameter"] for e in doc["errors"]], [name], (name, value))
        # All problems at once.
        doc = assert_problem(self, self.get("/api/v1/orgs" + qs(limit=0, kind="x")), 400, "invalid_parameter")
        self.assertEqual({e["parameter"] for e in doc["errors"]}, {"limit", "kind"})
        # Limits at the edges are fine.
        self.assertEqual(len(self.get("/api/v1/orgs" + qs(limit=500)).json["items"]),
                         int(self.sql("SELECT count(*) FROM orgs")))
        self.assertEqual(len(self.get("/api/v1/orgs" + qs(limit=1, cursor=cursor)).json["items"]), 1)

    def test_requires_authentication(self):
        assert_problem(self, self.svc.get("/api/v1/orgs"), 401, "unauthorized")
        assert_problem(self, self.svc.get("/api/v1/orgs/1"), 401, "unauthorized")


class GetOrg(OrgsTestCase):
    def test_county_with_ancestors(self):
        cid = self.org_id("620102")
        r = self.get("/api/v1/orgs/%d" % cid, self.unit)
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(set(doc), ORG_FIELDS | {"ancestors"})
        self.assertEqual((doc["code"], doc["name"], doc["kind"]), ("620102", "城关区", "county"))
        self.assertEqual([a["code"] for a in doc["ancestors"]], ["620000", "620100"])
        self.assertEqual([a["name"] for a in doc["ancestors"]], ["甘肃省", "兰州市"])
        self.assertEqual(set(doc["ancestors"][0]), {"id", "code", "name", "kind"})
        self.assertEqual(doc["parent_id"], doc["ancestors"][-1]["id"])
        self.assertEqual(doc["path"], ".".join(str(a["id"]) for a in doc["ancestors"]) + ".%d" % cid)
        self.assertEqual(r.header("etag"), '"%d"' % doc["version"])

    def test_roots_and_bodies(self):
        doc = self.get("/api/v1/orgs/%d" % self.org_id("620000")).json
        self.assertEqual(doc["ancestors"], [])
        doc = self.get("/api/v1/orgs/%d" % self.org_id("CEEPI-4")).json
        self.assertEqual((doc["kind"], doc["ancestors"]), ("inspection_team", []))
        doc = self.get("/api/v1/orgs/%d" % self.org_id("GS-OFFICE")).json
        self.assertEqual([a["code"] for a in doc["ancestors"]], ["620000", "GS-LG"])

    def test_not_found(self):
        for bad in ("999999", "0", "-1", "abc", "1e3", "1.0", "%2B1", "99999999999999999999", "9223372036854775808"):
            assert_problem(self, self.get("/api/v1/orgs/" + bad), 404, "not_found")


class CreateOrg(OrgsTestCase):
    def test_create_answers_201_with_location_and_etag(self):
        lanzhou = self.org_id("620100")
        body = {"code": "620199", "name": "兰州新区", "name_en": "Lanzhou New Area", "kind": "county",
                "parent_id": lanzhou}
        r = self.create(body)
        self.assertEqual(r.status, 201, r)
        doc = r.json
        self.assertEqual(r.header("location"), "/api/v1/orgs/%d" % doc["id"])
        self.assertEqual(r.header("etag"), '"1"')
        self.assertEqual(doc["version"], 1)
        for k, v in body.items():
            self.assertEqual(doc[k], v)
        self.assertEqual([a["code"] for a in doc["ancestors"]], ["620000", "620100"])
        self.assertRegex(doc["created_at"], TIMESTAMP)
        got = self.get(r.header("location"))
        self.assertEqual(got.json, doc)                       # as GET would answer
        self.assertEqual(got.header("etag"), '"1"')

    def test_root_kinds_take_no_parent(self):
        r = self.create({"code": "CEEPI-9", "name": "中央第九督察组", "kind": "inspection_team", "parent_id": None})
        self.assertEqual(r.status, 201, r)
        self.assertEqual((r.json["parent_id"], r.json["ancestors"], r.json["path"]), (None, [], str(r.json["id"])))
        doc = assert_problem(self, self.create({"code": "CEEPI-8", "name": "x", "kind": "inspection_team",
                                                "parent_id": 1}), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/parent_id"])

    def test_duplicate_code_is_409(self):
        doc = assert_problem(self, self.create({"code": "620100", "name": "又一个兰州", "kind": "prefecture",
                                                "parent_id": self.org_id("620000")}), 409, "conflict")
        self.assertEqual(doc["errors"], [{"pointer": "/code", "code": "already_exists", "message": "already exists"}])

    def test_unknown_parent_is_422(self):
        doc = assert_problem(self, self.create({"code": "GS-NOPE", "name": "无上级", "kind": "department",
                                                "parent_id": 999999}), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/parent_id"])
        self.assertEqual(self.sql("SELECT count(*) FROM orgs WHERE code = 'GS-NOPE'"), "0")

    def test_invalid_bodies(self):
        base = {"code": "GS-NEW", "name": "新部门", "kind": "department", "parent_id": 1}
        cases = [
            ({}, {"/code", "/name", "/kind"}),
            (dict(base, parent_id=None), {"/parent_id"}),          # required for a department
            ({k: v for k, v in base.items() if k != "parent_id"}, {"/parent_id"}),
            (dict(base, code="gs-new"), {"/code"}),                 # upper case only
            (dict(base, code="-GS"), {"/code"}),
            (dict(base, code="G"), {"/code"}),
            (dict(base, code="G" * 33), {"/code"}),
            (dict(base, name=""), {"/name"}),
            (dict(base, name="   "), {"/name"}),
            (dict(base, name="名" * 201), {"/name"}),
            (dict(base, name_en=""), {"/name_en"}),
            (dict(base, kind="ministry"), {"/kind"}),
            (dict(base, parent_id="1"), {"/parent_id"}),
            (dict(base, parent_id=1.5), {"/parent_id"}),
            (dict(base, parent_id=0), {"/parent_id"}),
            (dict(base, path="1.2"), {"/path"}),
            (dict(base, version=3), {"/version"}),
            ([base], {""}),
        ]
        for body, pointers in cases:
            doc = assert_problem(self, self.create(body), 422, "validation_failed")
            self.assertEqual({e["pointer"] for e in doc["errors"]}, pointers, body)
        # A repeated member: jsonb would keep the last one, cJSON validated the first;
        # json_parse refuses the body before any validator sees it.
        raw = b'{"code":"GS-DUP","name":"x","kind":"department","parent_id":1,"kind":"province"}'
        r = self.svc.request("POST", "/api/v1/orgs", body=raw, token=self.admin,
                             headers={"Content-Type": "application/json"})
        assert_problem(self, r, 400, "duplicate_key")
        assert_problem(self, self.svc.request("POST", "/api/v1/orgs", body=b'{"code":', token=self.admin,
                                              headers={"Content-Type": "application/json"}), 400, "malformed_json")
        self.assertEqual(self.sql("SELECT count(*) FROM orgs WHERE code LIKE 'GS-NEW%' OR code = 'GS-DUP'"), "0")

    def test_only_admin_creates(self):
        body = {"code": "GS-X403", "name": "无权", "kind": "department", "parent_id": 1}
        for token in (self.office, self.unit, self.viewer):
            assert_problem(self, self.create(body, token), 403, "forbidden")
        assert_problem(self, self.svc.post("/api/v1/orgs", body), 401, "unauthorized")
        self.assertEqual(self.sql("SELECT count(*) FROM orgs WHERE code = 'GS-X403'"), "0")


class PatchOrg(OrgsTestCase):
    def new_org(self, code, parent_code="620000", kind="department"):
        r = self.create({"code": code, "name": "测试" + code, "kind": kind, "parent_id": self.org_id(parent_code)})
        self.assertEqual(r.status, 201, r)
        return r.json["id"]

    def test_if_match_flow(self):
        oid = self.new_org("GS-P1")
        r = self.patch(oid, {"name_en": "Patched"}, '"1"')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"2"')
        self.assertEqual((r.json["name_en"], r.json["version"], r.json["name"]), ("Patched", 2, "测试GS-P1"))
        self.assertEqual(r.json, self.get("/api/v1/orgs/%d" % oid).json)
        # The old ETag is stale now.
        doc = assert_problem(self, self.patch(oid, {"name": "过期"}, '"1"'), 412, "precondition_failed")
        self.assertIn('"2"', doc["detail"])
        for etag in ('W/"2"', '"2", "3"', "2", '"x"', '""'):
            assert_problem(self, self.patch(oid, {"name": "x"}, etag), 412, "precondition_failed")
        for etag in (None, "*", " * "):
            assert_problem(self, self.patch(oid, {"name": "x"}, etag), 428, "precondition_required")
        self.assertEqual(self.get("/api/v1/orgs/%d" % oid).json["name"], "测试GS-P1")
        # null clears name_en; the version moves on.
        r = self.patch(oid, {"name_en": None, "name": "改名"}, '"2"')
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["name_en"], r.json["name"], r.header("etag")), (None, "改名", '"3"'))

    def test_empty_patch_changes_nothing(self):
        oid = self.new_org("GS-P2")
        before = self.get("/api/v1/orgs/%d" % oid).json
        audit = self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'orgs' AND row_id = '%d'" % oid)
        for body in ({}, {"name": before["name"]}):
            r = self.patch(oid, body, '"1"')
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("etag"), '"1"')
            self.assertEqual(r.json, before)
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'orgs' AND row_id = '%d'" % oid), audit)
        # Even a no-op needs a current ETag.
        assert_problem(self, self.patch(oid, {}, '"7"'), 412, "precondition_failed")

    def test_code_and_unknown_fields_are_422(self):
        oid = self.new_org("GS-P3")
        for body, pointer in (({"code": "GS-P33"}, "/code"), ({"path": "1"}, "/path"), ({"id": 5}, "/id"),
                              ({"version": 9}, "/version"), ({"name": ""}, "/name"), ({"name": None}, "/name"),
                              ({"kind": None}, "/kind"), ({"kind": "x"}, "/kind"), ({"parent_id": "1"}, "/parent_id")):
            doc = assert_problem(self, self.patch(oid, body, '"1"'), 422, "validation_failed")
            self.assertEqual([e["pointer"] for e in doc["errors"]], [pointer], body)
        self.assertEqual(self.get("/api/v1/orgs/%d" % oid).json["version"], 1)

    def test_cycle_and_bad_parents_are_422(self):
        lanzhou = self.org_id("620100")
        etag = self.get("/api/v1/orgs/%d" % lanzhou).header("etag")
        for parent in (lanzhou, self.org_id("620102"), 999999, None):
            doc = assert_problem(self, self.patch(lanzhou, {"parent_id": parent}, etag), 422, "validation_failed")
            self.assertEqual([e["pointer"] for e in doc["errors"]], ["/parent_id"], parent)
        province = self.org_id("620000")
        doc = assert_problem(self, self.patch(province, {"parent_id": lanzhou},
                                              self.get("/api/v1/orgs/%d" % province).header("etag")),
                             422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/parent_id"])
        self.assertEqual(self.get("/api/v1/orgs/%d" % lanzhou).header("etag"), etag)   # untouched

    def test_move_subtree(self):
        dept = self.new_org("GS-MOVE")
        child = self.new_org("GS-MOVE-C", parent_code="GS-MOVE", kind="other")
        grandchild = self.new_org("GS-MOVE-G", parent_code="GS-MOVE-C", kind="other")
        lanzhou = self.org_id("620100")
        r = self.patch(dept, {"parent_id": lanzhou}, '"1"')
        self.assertEqual(r.status, 200, r)
        self.assertEqual([a["code"] for a in r.json["ancestors"]], ["620000", "620100"])
        self.assertEqual(r.json["path"], "%d.%d.%d" % (self.org_id("620000"), lanzhou, dept))
        g = self.get("/api/v1/orgs/%d" % grandchild).json
        self.assertEqual([a["code"] for a in g["ancestors"]], ["620000", "620100", "GS-MOVE", "GS-MOVE-C"])
        self.assertEqual(g["path"], "%s.%d.%d" % (r.json["path"], child, grandchild))
        # Moving under one's own descendant is a cycle.
        doc = assert_problem(self, self.patch(dept, {"parent_id": grandchild}, r.header("etag")),
                             422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/parent_id"])

    def test_not_found_and_forbidden(self):
        assert_problem(self, self.patch(999999, {"name": "x"}, '"1"'), 404, "not_found")
        r = self.svc.patch("/api/v1/orgs/abc", {"name": "x"}, token=self.admin, headers={"If-Match": '"1"'})
        assert_problem(self, r, 404, "not_found")
        oid = self.new_org("GS-P4")
        for token in (self.office, self.unit, self.viewer):
            assert_problem(self, self.patch(oid, {"name": "x"}, '"1"', token), 403, "forbidden")
        self.assertEqual(self.get("/api/v1/orgs/%d" % oid).json["version"], 1)


if __name__ == "__main__":
    harness.main()
