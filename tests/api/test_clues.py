"""Accountability leads (clues): a lead from a faked spot check and one
transferred by the inspection team, each through transfer, investigation and
outcome; persons concerned encrypted at rest, masked, clear only on request
(audited); statistics; publication of exactly the chosen fields (and the
public answer); every error; and the scoping matrix: every role but office and
discipline gets 404 on every clue route."""
import os
import subprocess

import harness
from harness import assert_problem

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PASSWORD = "Demo-Passw0rd-2026"

PERSONS = [
    {"name": "张建国", "post": "华池县林业和草原局局长", "org": "华池县林业和草原局", "level": "division"},
    {"name": "欧阳娜娜", "post": "林政股股长", "org": "华池县林业和草原局", "level": "section"},
]


class Clues(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = cls.db_name
        cls.sql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                "('第三轮中央生态环境保护督察', 3, (SELECT id FROM orgs WHERE code = '620000'))")
        cls.campaign = int(cls.sql("SELECT max(id) FROM campaigns"))
        cls.sql("INSERT INTO problems (campaign_id, code, title, category, owner_org_id) VALUES"
                " (%d, '7', '祁连山保护区违规开发问题整改不到位', 'local_specific',"
                " (SELECT id FROM orgs WHERE code = '620102'))" % cls.campaign)
        cls.problem = int(cls.sql("SELECT max(id) FROM problems"))
        cls.sql("INSERT INTO tasks (campaign_id, problem_id, code, title, owner_org_id, deadline)"
                " VALUES (%d, %d, '7-1', '关停保护区内违规项目', (SELECT id FROM orgs WHERE code = '620102'), DATE '2024-12-31')"
                % (cls.campaign, cls.problem))
        cls.task = int(cls.sql("SELECT max(id) FROM tasks"))
        users = (("office1", "GS-OFFICE", ["office"]), ("cdi1", "GS-CDI", ["discipline"]),
                 ("unit1", "620102", ["unit"]), ("admin1", "620000", ["admin"]),
                 ("leader1", "GS-LG", ["leader"]), ("viewer1", "620000", ["viewer"]),
                 ("inspector1", "GS-OFFICE", ["inspector"]), ("acceptor1", "GS-EE", ["acceptor"]),
                 ("platform1", "620000", ["integration"]))
        for user, org, roles in users:
            harness.create_user(cls.db_url, user, org, roles)
        cls.tok = {u[0]: cls.svc.login(u[0]) for u in users}
        # one complaint, through the import
        body = ("交办编号,交办批次,受理时间,来源渠道,举报内容,污染类型,所在县区,举报人姓名,联系电话\r\n"
                "GS-2023-0101,1,2023-11-24 09:12,电话,河边有工厂夜间偷排污水,水,城关区,王小明,13912345678\r\n")
        r = cls.svc.post("/api/v1/complaints/import?campaign_id=%d" % cls.campaign, body=body.encode(),
                         headers={"Content-Type": "text/csv; charset=utf-8"}, token=cls.tok["office1"])
        assert r.status in (200, 201, 207), r
        cls.complaint = int(cls.sql("SELECT id FROM complaints WHERE handover_no = 'GS-2023-0101'"))
        del db

    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    # --- helpers -------------------------------------------------------------

    def req(self, method, path, body=None, user="office1", version=None, headers=None):
        h = dict(headers or {})
        if version is not None:
            h["If-Match"] = '"%s"' % version
        return self.svc.request(method, path, body=body, headers=h, token=self.tok[user] if user else None)

    def create(self, **over):
        body = {"campaign_id": self.campaign, "source": "spot_check_faked", "kind": "fake",
                "summary": "抽查核验发现某县验收销号材料弄虚作假", "spot_check_ids": [41],
                "task_ids": [self.task], "persons": [dict(p) for p in PERSONS]}
        body.update(over)
        r = self.req("POST", "/api/v1/clues", body)
        self.assertEqual(r.status, 201, r)
        return r.json

    def act(self, clue, action, user, **members):
        body = {"action": action}
        body.update(members)
        r = self.req("POST", "/api/v1/clues/%d/transitions" % clue["id"], body, user=user,
                     version=clue["version"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"%d"' % r.json["version"])
        return r.json

    def outcome(self, clue, person, outcome, **more):
        body = {"outcome": outcome}
        body.update(more)
        r = self.req("PATCH", "/api/v1/clues/%d/persons/%d" % (clue["id"], person), body, user="cdi1",
                     version=clue["version"])
        self.assertEqual(r.status, 200, r)
        return r.json

    def through(self, clue, outcomes):
        """transfer → receive → investigate → outcomes → conclude."""
        c = self.act(clue, "transfer", "office1", transferred_on="2024-05-10", doc_no="甘整改办移〔2024〕3号")
        self.assertEqual((c["status"], c["transfer"]["doc_no"]), ("transferred", "甘整改办移〔2024〕3号"))
        c = self.act(c, "receive", "cdi1", received_on="2024-05-12")
        c = self.act(c, "investigate", "cdi1")
        self.assertEqual(c["status"], "under_investigation")
        for p, (o, detail) in zip(c["persons"], outcomes):
            c = self.outcome(c, p["id"], o, **({"outcome_detail": detail} if detail else {}))
        c = self.act(c, "conclude", "cdi1", conclusion="经查，相关人员履职不力，已依规依纪处理。",
                     concluded_on="2024-09-30")
        self.assertEqual((c["status"], c["status_label"], c["concluded_on"]), ("concluded", "已办结", "2024-09-30"))
        return c

    def count(self, table, where="true"):
        return int(self.sql("SELECT count(*) FROM %s WHERE %s" % (table, where)))

    # --- the two leads, end to end ------------------------------------------

    def test_01_faked_spot_check_lead_through_outcome(self):
        audit = self.count("audit_log")
        c = self.create()
        self.assertEqual((c["source"], c["source_label"], c["kind"], c["kind_label"]),
                         ("spot_check_faked", "抽查核验发现弄虚作假", "fake", "虚假整改"))
        self.assertEqual(c["status"], "registered")
        self.assertEqual(c["links"]["tasks"][0]["id"], self.task)
        self.assertEqual(c["links"]["spot_check_ids"], [41])
        # masked for everyone by default
        self.assertEqual([(p["name"], p["masked"], p["level_label"]) for p in c["persons"]],
                         [("张**", True, "处级"), ("欧***", True, "科级")])
        for p in c["persons"]:
            self.assertNotIn("林业和草原局局长", p["post"])
            self.assertIn("*", p["org"])
        # encrypted at rest: the raw columns never hold the clear text
        raw = self.sql("SELECT encode(name_enc, 'escape') || encode(post_enc, 'escape') ||"
                       " encode(org_enc, 'escape') || encode(name_enc, 'hex') FROM clue_persons"
                       " WHERE clue_id = %d" % c["id"])
        for clear in ("张建国", "欧阳娜娜", "林业和草原局", "张建国".encode().hex()):
            self.assertNotIn(clear, raw)
        self.assertEqual(self.count("clue_persons", "clue_id = %d AND length(name_enc) > 40" % c["id"]), 2)
        # … nor in the audit log (the encrypted columns are redacted)
        self.assertEqual(self.count("audit_log", "after::text LIKE '%%张建国%%'"), 0)
        self.assertEqual(self.sql("SELECT DISTINCT redacted FROM audit_log WHERE table_name = 'clue_persons'"),
                         "{name_enc,org_enc,post_enc}")
        self.assertGreater(self.count("audit_log"), audit)
        for t in ("clues", "clue_links", "clue_persons"):
            self.assertGreaterEqual(self.count("audit_log", "table_name = '%s'" % t), 1, t)
        # the workflow, audited step by step
        before = self.count("audit_log", "table_name = 'clues' AND row_id = '%d'" % c["id"])
        c = self.through(c, [("party_discipline", "党内警告"), ("admonishment", None)])
        self.assertEqual([p["outcome_label"] for p in c["persons"]], ["党纪处分", "诫勉谈话"])
        self.assertEqual(c["persons"][0]["outcome_detail"], "党内警告")
        self.assertEqual(self.count("audit_log", "table_name = 'clues' AND row_id = '%d'" % c["id"]) - before, 6)
        # GET answers the same, with ETag
        r = self.req("GET", "/api/v1/clues/%d" % c["id"], user="cdi1")
        self.assertEqual((r.status, r.header("etag")), (200, '"%d"' % c["version"]))
        self.assertEqual(r.json["persons"][0]["name"], "张**")
        self.assertEqual(self.sql("SELECT rectify.audit_verify() ->> 'ok'"), "true")

    def test_02_inspection_team_lead_through_outcome_and_publication(self):
        c = self.create(source="inspection_transfer", kind=None, spot_check_ids=[], task_ids=[],
                        problem_ids=[self.problem], team_doc_no="中央第四生态环境保护督察组移交函〔2024〕1号",
                        team_transferred_on="2024-02-28",
                        summary="督察组移交：祁连山保护区违规开发生态环境损害责任追究问题",
                        persons=[{"name": "李明", "post": "某市副市长", "org": "某市人民政府",
                                  "level": "department"}] + [dict(p) for p in PERSONS])
        self.assertEqual(c["links"]["problems"][0]["code"], "7")
        self.assertEqual(c["team_doc_no"], "中央第四生态环境保护督察组移交函〔2024〕1号")
        self.assertIsNone(c["kind"])
        c = self.through(c, [("government_sanction", "政务记过"), ("judicial_transfer", None),
                             ("no_action", None)])
        self.assertFalse(c["publication"]["published"])
        self.assertIsNone(c["publication"]["public"])
        # nothing public yet
        r = self.req("GET", "/public/v1/accountability?campaign_id=%d" % self.campaign, user=None)
        self.assertEqual((r.status, r.json), (200, {"items": []}))
        # publish: the summary, and only 李明's identity
        reads = self.count("pii_reads", "clue_id = %d" % c["id"])
        first = c["persons"][0]["id"]
        r = self.req("PUT", "/api/v1/clues/%d/publication" % c["id"],
                     {"public_summary": "对某市副市长李明给予政务记过处分，对1人移送司法机关。",
                      "named_person_ids": [first]}, version=c["version"])
        self.assertEqual(r.status, 200, r)
        c = r.json
        self.assertEqual(self.count("pii_reads", "clue_id = %d AND purpose = 'publish'" % c["id"]), reads + 1)
        pub = c["publication"]["public"]
        self.assertTrue(c["publication"]["published"])
        self.assertEqual(pub["summary"], "对某市副市长李明给予政务记过处分，对1人移送司法机关。")
        self.assertEqual([(p["name"], p["post"], p["org"], p["level"], p["outcome"]) for p in pub["persons"]],
                         [("李明", "某市副市长", "某市人民政府", "department", "government_sanction"),
                          (None, None, None, "division", "judicial_transfer"),
                          (None, None, None, "section", "no_action")])
        self.assertEqual([p["identity_published"] for p in c["persons"]], [True, False, False])
        # the public answer is exactly the preview, with no token
        r = self.req("GET", "/public/v1/accountability?campaign_id=%d" % self.campaign, user=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["items"], [pub])
        text = r.body.decode()
        for secret in ("张建国", "欧阳娜娜", "张*", "欧***", "conclusion", "经查", "_enc", "masked",
                       "督察组移交函"):
            self.assertNotIn(secret, text)
        self.assertEqual(set(pub), {"id", "campaign_id", "source", "source_label", "kind", "kind_label",
                                    "summary", "concluded_on", "published_at", "persons"})
        # publishing again replaces the choice; withdrawing removes everything
        r = self.req("PUT", "/api/v1/clues/%d/publication" % c["id"], {"public_summary": "已依规依纪处理3人。"},
                     version=c["version"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual([p["name"] for p in r.json["publication"]["public"]["persons"]], [None] * 3)
        self.assertEqual(self.count("clue_persons", "clue_id = %d AND public_name IS NOT NULL" % c["id"]), 0)
        r = self.req("DELETE", "/api/v1/clues/%d/publication" % c["id"], version=r.json["version"])
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json["publication"]["published"])
        r = self.req("GET", "/public/v1/accountability", user=None)
        self.assertNotIn(c["id"], [i["id"] for i in r.json["items"]])
        self.assertEqual(self.count("audit_log", "table_name = 'clues' AND row_id = '%d'"
                                    " AND after->>'published_at' IS NOT NULL" % c["id"]), 2)

    def test_03_clear_identities_on_request_audited(self):
        c = self.create()
        for user in ("office1", "cdi1"):
            reads = self.count("pii_reads", "clue_id = %d" % c["id"])
            audited = self.count("audit_log", "table_name = 'pii_reads'")
            r = self.req("GET", "/api/v1/clues/%d?pii=true" % c["id"], user=user)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("cache-control"), "no-store")
            self.assertEqual([(p["name"], p["post"], p["org"], p["masked"]) for p in r.json["persons"]],
                             [(p["name"], p["post"], p["org"], False) for p in PERSONS])
            self.assertEqual(self.count("pii_reads", "clue_id = %d" % c["id"]), reads + 1)
            self.assertEqual(self.sql("SELECT purpose || ' ' || row_count FROM pii_reads WHERE clue_id = %d"
                                      " ORDER BY id DESC LIMIT 1" % c["id"]), "view 2")
            self.assertEqual(self.count("audit_log", "table_name = 'pii_reads'"), audited + 1)
        # masked by default: no read recorded
        reads = self.count("pii_reads", "clue_id = %d" % c["id"])
        r = self.req("GET", "/api/v1/clues/%d?pii=false" % c["id"])
        self.assertEqual(r.json["persons"][0]["name"], "张**")
        self.assertEqual(self.count("pii_reads", "clue_id = %d" % c["id"]), reads)
        assert_problem(self, self.req("GET", "/api/v1/clues/%d?pii=maybe" % c["id"]), 400, "invalid_parameter")
        # a changed identity is sealed again and reads back
        r = self.req("PATCH", "/api/v1/clues/%d/persons/%d" % (c["id"], c["persons"][1]["id"]),
                     {"name": "欧阳明", "level": "other"}, version=c["version"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["persons"][1]["name"], r.json["persons"][1]["level"]), ("欧**", "other"))
        r = self.req("GET", "/api/v1/clues/%d?pii=true" % c["id"], user="cdi1")
        self.assertEqual(r.json["persons"][1]["name"], "欧阳明")
        # a ciphertext moved to another person does not open
        self.sql("UPDATE clue_persons SET name_enc = (SELECT name_enc FROM clue_persons WHERE id = %d)"
                 " WHERE id = %d" % (c["persons"][0]["id"], c["persons"][1]["id"]))
        r = self.req("GET", "/api/v1/clues/%d?pii=true" % c["id"], user="cdi1")
        self.assertEqual((r.json["persons"][0]["name"], r.json["persons"][1]["name"]), ("张建国", None))

    # --- scope --------------------------------------------------------------

    def test_04_other_roles_never_see_clues(self):
        c = self.create()
        pid = c["persons"][0]["id"]
        bodies = {"POST": {"action": "receive"}, "PATCH": {"summary": "x"}, "PUT": {"public_summary": "x"}}
        routes = [l.split()[:2] for l in harness.run_cli(["routes"]).stdout.splitlines()
                  if "/clues" in l and not l.startswith("OPTIONS")]
        self.assertEqual(len(routes), 10, routes)
        before = (self.count("clues"), self.count("audit_log"), self.count("pii_reads"))
        for user in ("unit1", "admin1", "leader1", "viewer1", "inspector1", "acceptor1", "platform1"):
            for method, pattern in routes:
                path = pattern.replace("{id}", str(c["id"])).replace("{person_id}", str(pid))
                r = self.req(method, path + ("?pii=true" if method == "GET" else ""),
                             bodies.get(method), user=user, version=c["version"])
                doc = assert_problem(self, r, 404, "not_found")
                # the same answer as a path that does not exist
                self.assertEqual(doc["detail"], "No resource at %s." % path, (user, method, path))
        self.assertEqual(before, (self.count("clues"), self.count("audit_log"), self.count("pii_reads")))
        for method, pattern in routes:
            path = pattern.replace("{id}", str(c["id"])).replace("{person_id}", str(pid))
            assert_problem(self, self.req(method, path, bodies.get(method), user=None), 401, "unauthorized")
        # and in the database: no clue row through row-level security for them
        for roles in ("unit", "admin", "leader", "viewer", "inspector", "acceptor", "integration"):
            self.assertEqual(self.sql("SET ROLE rectify_api; SET rectify.roles = '%s';"
                                      " SELECT count(*) FROM clues" % roles), "0", roles)
        self.assertNotEqual(self.sql("SET ROLE rectify_api; SET rectify.roles = 'discipline';"
                                     " SELECT count(*) FROM clues"), "0")

    # --- errors ---------------------------------------------------------------

    def test_05_create_errors_write_nothing(self):
        before = (self.count("clues"), self.count("clue_persons"), self.count("audit_log"))
        cases = [
            ({}, "/campaign_id"),
            ({"campaign_id": self.campaign, "source": "gossip", "summary": "x"}, "/source"),
            ({"campaign_id": self.campaign, "source": "rectification", "summary": "x"}, "/kind"),
            ({"campaign_id": self.campaign, "source": "rectification", "kind": "lazy", "summary": "x"}, "/kind"),
            ({"campaign_id": self.campaign, "source": "complaint", "summary": "x"}, "/complaint_ids"),
            ({"campaign_id": self.campaign, "source": "complaint", "summary": " "}, "/summary"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x",
              "persons": [{"name": "张三", "post": "局长", "org": "某局", "level": "vip"}]}, "/persons/0/level"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x",
              "persons": [{"name": "张三", "post": "局长", "level": "other"}]}, "/persons/0/org"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x",
              "persons": [{"name": "张三", "post": "局长", "org": "某局", "level": "other", "phone": "1"}]},
             "/persons/0/phone"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x", "persons": {}},
             "/persons"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x", "task_ids": [0]},
             "/task_ids/0"),
            ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x", "status": "concluded"},
             "/status"),
            ({"campaign_id": self.campaign, "source": "inspection_transfer", "summary": "x",
              "team_transferred_on": "2024-02-30"}, "/team_transferred_on"),
        ]
        for body, pointer in cases:
            doc = assert_problem(self, self.req("POST", "/api/v1/clues", body), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], (body, doc))
        # references that do not exist: the error points at the member
        for body, pointer in (({"campaign_id": 999999, "source": "inspection_finding", "summary": "x"},
                               "/campaign_id"),
                              ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x",
                                "problem_ids": [self.problem, 999999]}, "/problem_ids/1"),
                              ({"campaign_id": self.campaign, "source": "inspection_finding", "summary": "x",
                                "task_ids": [999999]}, "/task_ids/0"),
                              ({"campaign_id": self.campaign, "source": "complaint", "summary": "x",
                                "complaint_ids": [999999], "persons": [dict(PERSONS[0])]}, "/complaint_ids/0")):
            doc = assert_problem(self, self.req("POST", "/api/v1/clues", body), 422, "invalid_reference")
            self.assertEqual([e["pointer"] for e in doc["errors"]], [pointer], body)
        assert_problem(self, self.req("POST", "/api/v1/clues", b"{not json",
                                      headers={"Content-Type": "application/json"}), 400, "malformed_json")
        assert_problem(self, self.req("POST", "/api/v1/clues", b"a=b",
                                      headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
        # the discipline commission does not register clues
        assert_problem(self, self.req("POST", "/api/v1/clues", {"campaign_id": self.campaign,
                                      "source": "inspection_finding", "summary": "x"}, user="cdi1"),
                       403, "forbidden")
        self.assertEqual(before, (self.count("clues"), self.count("clue_persons"), self.count("audit_log")))
        # a complaint lead with its complaint is fine
        c = self.create(source="complaint", kind="shirking", complaint_ids=[self.complaint], persons=[],
                        spot_check_ids=[], task_ids=[])
        self.assertEqual(c["links"]["complaints"][0]["handover_no"], "GS-2023-0101")

    def test_06_transition_errors(self):
        c = self.create()
        path = "/api/v1/clues/%d/transitions" % c["id"]
        before = self.count("audit_log")
        doc = assert_problem(self, self.req("POST", path, {"action": "receive"}, user="cdi1", version=c["version"]),
                             409, "invalid_transition")
        self.assertIn("allowed now: transfer", doc["detail"])
        assert_problem(self, self.req("POST", path, {"action": "transfer", "transferred_on": "2024-05-10",
                                                     "doc_no": "1"}, user="cdi1", version=c["version"]),
                       403, "forbidden")
        assert_problem(self, self.req("POST", path, {"action": "transfer", "transferred_on": "2024-05-10",
                                                     "doc_no": "1"}), 428, "precondition_required")
        doc = assert_problem(self, self.req("POST", path, {"action": "transfer", "transferred_on": "2024-05-10",
                                                           "doc_no": "1"}, version=c["version"] + 5),
                             412, "precondition_failed")
        self.assertIn('"%d"' % c["version"], doc["detail"])
        for body, pointer in (({"action": "transfer", "doc_no": "1"}, "/transferred_on"),
                              ({"action": "transfer", "transferred_on": "2024-05-10"}, "/doc_no"),
                              ({"action": "receive", "doc_no": "1"}, "/doc_no"),
                              ({"action": "conclude"}, "/conclusion"),
                              ({"action": "escalate"}, "/action"),
                              ({}, "/action"),
                              ({"action": "receive", "received_on": "yesterday"}, "/received_on")):
            doc = assert_problem(self, self.req("POST", path, body, version=c["version"]), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], body)
        assert_problem(self, self.req("POST", "/api/v1/clues/999999/transitions", {"action": "receive"},
                                      version=1), 404, "not_found")
        assert_problem(self, self.req("POST", "/api/v1/clues/abc/transitions", {"action": "receive"},
                                      version=1), 404, "not_found")
        self.assertEqual(self.count("audit_log"), before)
        # concluding needs every outcome
        c = self.act(c, "transfer", "office1", transferred_on="2024-05-10", doc_no="甘整改办移〔2024〕9号")
        c = self.act(self.act(c, "receive", "cdi1"), "investigate", "cdi1")
        c = self.outcome(c, c["persons"][0]["id"], "organisational")
        assert_problem(self, self.req("POST", path, {"action": "conclude", "conclusion": "x"}, user="cdi1",
                                      version=c["version"]), 409, "outcome_missing")
        self.assertEqual(self.req("GET", "/api/v1/clues/%d" % c["id"]).json["status"], "under_investigation")

    def test_07_person_errors(self):
        c = self.create()
        other = self.create()
        p = c["persons"][0]["id"]
        base = "/api/v1/clues/%d/persons" % c["id"]
        # outcomes: only discipline, only under investigation
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), {"outcome": "no_action"},
                                      version=c["version"]), 403, "forbidden")
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), {"outcome": "no_action"}, user="cdi1",
                                      version=c["version"]), 409, "invalid_state")
        for body, pointer in (({"outcome": "fired"}, "/outcome"), ({}, ""), ({"level": "厅级"}, "/level"),
                              ({"name": ""}, "/name"), ({"outcome_on": "2024-13-01"}, "/outcome_on"),
                              ({"ref": "00"}, "/ref")):
            doc = assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), body, user="cdi1",
                                                version=c["version"]), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], body)
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, other["persons"][0]["id"]), {"level": "other"},
                                      version=c["version"]), 404, "not_found")
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, other["persons"][0]["id"]), {"name": "王五"},
                                      version=c["version"]), 404, "not_found")
        assert_problem(self, self.req("PATCH", "%s/x" % base, {"level": "other"}, version=c["version"]),
                       404, "not_found")
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), {"level": "other"}), 428,
                       "precondition_required")
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), {"level": "other"}, version=99),
                       412, "precondition_failed")
        # adding a person
        for body, pointer in (({"name": "王五", "post": "科员", "org": "某局"}, "/level"),
                              ({"name": "王五", "post": "科员", "org": "某局", "level": "other", "x": 1}, "/x")):
            doc = assert_problem(self, self.req("POST", base, body, version=c["version"]), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]])
        r = self.req("POST", base, {"name": "王五", "post": "科员", "org": "某局", "level": "other"},
                     user="cdi1", version=c["version"])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("location"), "%s/%d" % (base, r.json["persons"][2]["id"]))
        self.assertEqual((r.json["persons"][2]["name"], r.json["version"]), ("王*", c["version"] + 1))
        assert_problem(self, self.req("POST", base, {"name": "赵六", "post": "科员", "org": "某局",
                                                     "level": "other"}, version=c["version"]),
                       412, "precondition_failed")
        # a concluded clue takes no persons and no changes
        c = self.through(r.json, [("no_action", None)] * 3)
        assert_problem(self, self.req("POST", base, {"name": "赵六", "post": "科员", "org": "某局",
                                                     "level": "other"}, version=c["version"]), 409, "concluded")
        assert_problem(self, self.req("PATCH", "%s/%d" % (base, p), {"level": "other"}, version=c["version"]),
                       409, "concluded")
        assert_problem(self, self.req("PATCH", "/api/v1/clues/%d" % c["id"], {"summary": "改"},
                                      version=c["version"]), 409, "concluded")

    def test_08_publication_errors(self):
        c = self.create()
        other = self.create()
        path = "/api/v1/clues/%d/publication" % c["id"]
        assert_problem(self, self.req("PUT", path, {"public_summary": "x"}, version=c["version"]),
                       409, "invalid_state")
        assert_problem(self, self.req("DELETE", path, version=c["version"]), 409, "not_published")
        c = self.through(c, [("party_discipline", None), ("no_action", None)])
        reads = self.count("pii_reads")
        for body, pointer in (({}, "/public_summary"), ({"public_summary": "  "}, "/public_summary"),
                              ({"public_summary": "x", "named_person_ids": [0]}, "/named_person_ids/0"),
                              ({"public_summary": "x", "named_person_ids": "all"}, "/named_person_ids")):
            doc = assert_problem(self, self.req("PUT", path, body, version=c["version"]), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], body)
        # a person of another clue: refused before anything is read
        doc = assert_problem(self, self.req("PUT", path, {"public_summary": "x", "named_person_ids":
                                                          [c["persons"][0]["id"], other["persons"][0]["id"]]},
                                            version=c["version"]), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/named_person_ids/1"])
        assert_problem(self, self.req("PUT", path, {"public_summary": "x", "named_person_ids":
                                                    [c["persons"][0]["id"]]}, user="cdi1",
                                      version=c["version"]), 403, "forbidden")
        assert_problem(self, self.req("PUT", path, {"public_summary": "x", "named_person_ids":
                                                    [c["persons"][0]["id"]]}, version=c["version"] - 1),
                       412, "precondition_failed")
        assert_problem(self, self.req("PUT", path, {"public_summary": "x"}), 428, "precondition_required")
        self.assertEqual(self.count("pii_reads"), reads)
        self.assertEqual(self.count("clues", "id = %d AND published_at IS NOT NULL" % c["id"]), 0)
        assert_problem(self, self.req("PUT", "/api/v1/clues/999999/publication", {"public_summary": "x"},
                                      version=1), 404, "not_found")
        assert_problem(self, self.req("DELETE", "/api/v1/clues/999999/publication", version=1), 404, "not_found")
        assert_problem(self, self.req("GET", "/public/v1/accountability?campaign_id=x", user=None),
                       400, "invalid_parameter")

    def test_09_list_patch_and_stats(self):
        a = self.create(summary="列表测试一")
        b = self.create(source="rectification", kind="overdue", summary="列表测试二", spot_check_ids=[])
        r = self.req("GET", "/api/v1/clues?source=rectification&status=registered&campaign_id=%d" % self.campaign,
                     user="cdi1")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b["id"], [i["id"] for i in r.json["items"]])
        self.assertNotIn(a["id"], [i["id"] for i in r.json["items"]])
        seen, cursor = [], None
        while True:
            r = self.req("GET", "/api/v1/clues?limit=2" + ("&cursor=" + cursor if cursor else ""))
            self.assertEqual(r.status, 200, r)
            seen += [i["id"] for i in r.json["items"]]
            cursor = r.json["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), self.count("clues"))
        for q, param in (("status=open", "status"), ("source=x", "source"), ("campaign_id=-1", "campaign_id"),
                         ("limit=0", "limit"), ("cursor=zz", "cursor")):
            doc = assert_problem(self, self.req("GET", "/api/v1/clues?" + q), 400, "invalid_parameter")
            self.assertIn(param, [e.get("parameter") for e in doc["errors"]])
        # PATCH: summary and links, with If-Match
        r = self.req("PATCH", "/api/v1/clues/%d" % b["id"], {"summary": "整改超时：某县污水处理厂未按期建成",
                                                            "problem_ids": [self.problem]}, version=b["version"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["summary"], r.json["links"]["problems"][0]["id"], r.json["links"]["tasks"][0]["id"]),
                         ("整改超时：某县污水处理厂未按期建成", self.problem, self.task))
        assert_problem(self, self.req("PATCH", "/api/v1/clues/%d" % b["id"], {"summary": "x"},
                                      version=b["version"]), 412, "precondition_failed")
        doc = assert_problem(self, self.req("PATCH", "/api/v1/clues/%d" % b["id"], {"kind": None},
                                            version=r.json["version"]), 422, "validation_failed")
        self.assertEqual([e["pointer"] for e in doc["errors"]], ["/kind"])
        assert_problem(self, self.req("PATCH", "/api/v1/clues/%d" % b["id"], {"persons": []},
                                      version=r.json["version"]), 422, "validation_failed")
        assert_problem(self, self.req("PATCH", "/api/v1/clues/%d" % b["id"], {"summary": "x"}, user="cdi1",
                                      version=r.json["version"]), 403, "forbidden")
        assert_problem(self, self.req("GET", "/api/v1/clues/999999"), 404, "not_found")
        # stats: people by level and outcome
        c = self.through(self.create(), [("party_discipline", None), ("party_discipline", None)])
        r = self.req("GET", "/api/v1/clues/stats?campaign_id=%d" % self.campaign, user="cdi1")
        self.assertEqual(r.status, 200, r)
        s = r.json
        self.assertEqual(s["clues"], self.count("clues", "campaign_id = %d" % self.campaign))
        self.assertEqual(s["people"], self.count("clue_persons"))
        division = next(x for x in s["people_by_level"] if x["level"] == "division")
        self.assertEqual(division["label"], "处级")
        self.assertEqual(next(o for o in division["by_outcome"] if o["outcome"] == "party_discipline")["count"],
                         self.count("clue_persons", "level = 'division' AND outcome = 'party_discipline'"))
        self.assertEqual(sum(o["count"] for o in s["people_by_outcome"]), s["people"])
        self.assertEqual(next(x for x in s["clues_by_status"] if x["status"] == "concluded")["count"],
                         self.count("clues", "status = 'concluded'"))
        self.assertEqual(len(s["people_by_outcome"]), 7)   # six outcomes and 待定
        assert_problem(self, self.req("GET", "/api/v1/clues/stats?campaign_id=abc"), 400, "invalid_parameter")
        del c


class DemoClues(harness.ServiceTestCase):
    """scripts/seed-demo loads the demo leads through the API: one per state,
    sealed with the service's key, one published with one person named."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = dict(os.environ, RECTIFY_DATABASE_URL=cls.db_url, RECTIFY_BIN=harness.BIN,
                   RECTIFY_DEMO_PASSWORD=DEMO_PASSWORD)
        env.pop("RECTIFY_DEMO_LEDGER", None)
        cls.logs = []
        for _ in range(2):
            p = subprocess.run([os.path.join(ROOT, "scripts", "seed-demo")], env=env, capture_output=True,
                               text=True, timeout=180 * harness.SLOW)
            if p.returncode != 0:
                raise RuntimeError("seed-demo failed:\n%s\n%s" % (p.stdout, p.stderr))
            cls.logs.append(p.stderr)

    def test_every_state_sealed_and_published(self):
        self.assertIn("demo clues: loaded 6 leads", self.logs[0])
        self.assertIn("demo clues: already loaded", self.logs[1])
        cdi = self.svc.login("discipline", DEMO_PASSWORD)
        items = self.svc.get("/api/v1/clues?limit=500", token=cdi).json["items"]
        self.assertEqual({c["status"] for c in items},
                         {"registered", "transferred", "received", "under_investigation", "concluded"})
        self.assertEqual(sum(c["publication"]["published"] for c in items), 1)
        self.assertTrue(all(p["masked"] for c in items for p in c["persons"]))
        clear = self.svc.get("/api/v1/clues/%d?pii=true" % items[0]["id"], token=cdi).json
        self.assertEqual(clear["persons"][0]["name"], "马文斌")
        pub = self.svc.get("/public/v1/accountability").json["items"]
        self.assertEqual([p["name"] for p in pub[0]["persons"]], ["赵明远", None, None])
        # the demo units never see them
        r = self.svc.get("/api/v1/clues", token=self.svc.login("chengguan", DEMO_PASSWORD))
        self.assertEqual(r.status, 404)


if __name__ == "__main__":
    harness.main()
