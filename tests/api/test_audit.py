"""The audit trail through the API: entries for org and user changes carry
the caller and the X-Request-Id, newest first, keyset pages; the hash chain
verifies, and tampering by the database owner is found."""
import re
import urllib.parse

import harness
from harness import assert_problem

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?\+08:00$")
ENTRY_FIELDS = {"id", "at", "user_id", "org_id", "request_id", "table", "row_id", "action", "before", "after"}


def qs(**params):
    return "?" + urllib.parse.urlencode(params) if params else ""


class AuditTestCase(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = {}
        for name, org, roles in (("aud_admin", "620000", ["admin"]),
                                 ("aud_office", "GS-OFFICE", ["office"]),
                                 ("aud_discipline", "GS-CDI", ["discipline"]),
                                 ("aud_leader", "GS-LG", ["leader"]),
                                 ("aud_unit", "620102", ["unit"])):
            cls.ids[name] = harness.create_user(cls.db_url, name, org, roles)
        cls.tokens = {name: cls.svc.login(name) for name in cls.ids}
        cls.admin = cls.tokens["aud_admin"]

    def sql(self, query):
        return harness.psql(query, dbname=self.db_name)

    def org_id(self, code):
        return int(self.sql("SELECT id FROM orgs WHERE code = '%s'" % code))

    def audit(self, token=None, **params):
        r = self.svc.get("/api/v1/audit" + qs(**params), token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        return r.json

    def verify(self, token=None):
        r = self.svc.get("/api/v1/audit/verify", token=token or self.admin)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"ok", "entries", "first_broken_id", "reason"})
        return r.json


class AuditTrail(AuditTestCase):
    def test_org_changes_are_recorded_with_the_request_id(self):
        r = self.svc.post("/api/v1/orgs", {"code": "GS-AUD", "name": "审计测试", "kind": "department", "parent_id": 1},
                          token=self.admin, headers={"X-Request-Id": "audit-org-create-1"})
        self.assertEqual(r.status, 201, r)
        oid = r.json["id"]
        r = self.svc.patch("/api/v1/orgs/%d" % oid, {"name_en": "Audit test"}, token=self.admin,
                           headers={"X-Request-Id": "audit-org-patch-1", "If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        doc = self.audit(table="orgs", row_id=oid)
        self.assertIsNone(doc["next_cursor"])
        update, insert = doc["items"]                                  # newest first
        for e in (update, insert):
            self.assertEqual(set(e), ENTRY_FIELDS)
            self.assertEqual((e["table"], e["row_id"]), ("orgs", oid))
            self.assertEqual(e["user_id"], self.ids["aud_admin"])
            self.assertEqual(e["org_id"], self.org_id("620000"))
            self.assertRegex(e["at"], TIMESTAMP)
        self.assertGreater(update["id"], insert["id"])
        self.assertEqual((insert["action"], insert["request_id"], insert["before"]),
                         ("insert", "audit-org-create-1", None))
        self.assertEqual(insert["after"]["code"], "GS-AUD")
        self.assertEqual((update["action"], update["request_id"]), ("update", "audit-org-patch-1"))
        self.assertEqual((update["before"]["name_en"], update["after"]["name_en"]), (None, "Audit test"))
        self.assertEqual((update["before"]["version"], update["after"]["version"]), (1, 2))
        # A no-op PATCH writes no entry.
        r = self.svc.patch("/api/v1/orgs/%d" % oid, {}, token=self.admin, headers={"If-Match": '"2"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.audit(table="orgs", row_id=oid)["items"]), 2)

    def test_user_changes_are_recorded_without_secrets(self):
        r = self.svc.post("/api/v1/users", {"username": "aud.new", "display_name": "新用户", "org_id": 1,
                                            "roles": ["viewer"], "password": "Audit-Secret-123"},
                          token=self.admin, headers={"X-Request-Id": "audit-user-create"})
        self.assertEqual(r.status, 201, r)
        uid = r.json["id"]
        r = self.svc.patch("/api/v1/users/%d" % uid, {"password": "Audit-Secret-456", "disabled": True},
                           token=self.admin, headers={"X-Request-Id": "audit-user-patch", "If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        update, insert = self.audit(table="users", row_id=uid)["items"]
        self.assertEqual((insert["action"], insert["request_id"]), ("insert", "audit-user-create"))
        self.assertEqual((update["action"], update["request_id"]), ("update", "audit-user-patch"))
        self.assertEqual((update["before"]["disabled"], update["after"]["disabled"]), (False, True))
        for e in (insert, update):
            for image in (e["before"], e["after"]):
                if image is not None:
                    self.assertNotIn("password_hash", image)
                    self.assertNotIn("Audit-Secret", repr(image))
        # The users created by the CLI (as the owner, outside any request) have no actor.
        cli = self.audit(table="users", row_id=self.ids["aud_unit"])["items"]
        self.assertEqual([(e["action"], e["user_id"], e["org_id"]) for e in cli], [("insert", None, None)])

    def test_pages_newest_first(self):
        expected = [int(x) for x in self.sql("SELECT id FROM audit_log ORDER BY id DESC").split()]
        self.assertGreater(len(expected), 127)                         # the seed alone wrote 127
        for limit in (7, 50, 500):
            ids, cursor, pages = [], None, 0
            while True:
                doc = self.audit(limit=limit, **({"cursor": cursor} if cursor else {}))
                self.assertLessEqual(len(doc["items"]), limit)
                ids += [e["id"] for e in doc["items"]]
                pages += 1
                cursor = doc["next_cursor"]
                if not cursor:
                    break
            self.assertEqual(ids, expected, limit)
            self.assertEqual(pages, -(-len(expected) // limit), limit)
        self.assertEqual(len(self.audit()["items"]), min(50, len(expected)))
        tables = {e["table"] for e in self.audit(table="orgs", limit=500)["items"]}
        self.assertEqual(tables, {"orgs"})
        self.assertEqual(self.audit(table="no_such_table"), {"items": [], "next_cursor": None})

    def test_bad_parameters(self):
        for params, name in (({"row_id": 1}, "row_id"), ({"table": "Orgs"}, "table"), ({"table": "1orgs"}, "table"),
                             ({"table": "orgs;drop"}, "table"), ({"table": "x" * 64}, "table"),
                             ({"table": "orgs", "row_id": "abc"}, "row_id"), ({"table": "orgs", "row_id": "0"}, "row_id"),
                             ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"cursor": "!!"}, "cursor")):
            r = self.svc.get("/api/v1/audit" + qs(**params), token=self.admin)
            doc = assert_problem(self, r, 400, "invalid_parameter")
            self.assertEqual([e["parameter"] for e in doc["errors"]], [name], params)

    def test_who_may_read(self):
        for name in ("aud_admin", "aud_office", "aud_discipline"):
            self.assertTrue(self.audit(self.tokens[name], limit=1)["items"], name)
            self.assertTrue(self.verify(self.tokens[name])["ok"], name)
        for name in ("aud_leader", "aud_unit"):
            assert_problem(self, self.svc.get("/api/v1/audit", token=self.tokens[name]), 403, "forbidden")
            assert_problem(self, self.svc.get("/api/v1/audit/verify", token=self.tokens[name]), 403, "forbidden")
        assert_problem(self, self.svc.get("/api/v1/audit"), 401, "unauthorized")
        assert_problem(self, self.svc.get("/api/v1/audit/verify"), 401, "unauthorized")


class Tampering(AuditTestCase):
    """Only the owner can get past the append-only guard; the chain shows it."""

    def owner(self, statements):
        # The guard triggers (0002_audit.sql) refuse UPDATE/DELETE even for
        # the owner unless they are disabled on purpose.
        self.sql("BEGIN; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; %s;"
                 " ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only; COMMIT" % statements)

    def test_verify_finds_edits_and_gaps(self):
        count = int(self.sql("SELECT count(*) FROM audit_log"))
        self.assertEqual(self.verify(), {"ok": True, "entries": count, "first_broken_id": None, "reason": None})
        # The guard holds without the deliberate DISABLE TRIGGER.
        with self.assertRaises(RuntimeError):
            self.sql("UPDATE audit_log SET request_id = 'x' WHERE id = 5")

        self.sql("CREATE TABLE keep AS SELECT * FROM audit_log WHERE id = 42")
        self.owner("UPDATE audit_log SET after = after || '{\"name\": \"篡改\"}' WHERE id = 42")
        self.assertEqual(self.verify(self.tokens["aud_discipline"]),
                         {"ok": False, "entries": 41, "first_broken_id": 42, "reason": "hash mismatch"})

        self.owner("UPDATE audit_log a SET after = k.after FROM keep k WHERE a.id = k.id")
        self.assertEqual(self.verify(), {"ok": True, "entries": count, "first_broken_id": None, "reason": None})

        self.owner("DELETE FROM audit_log WHERE id = 100")
        doc = self.verify(self.tokens["aud_office"])
        self.assertEqual((doc["ok"], doc["first_broken_id"], doc["reason"], doc["entries"]), (False, 100, "gap", 99))


if __name__ == "__main__":
    harness.main()
