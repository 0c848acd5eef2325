"""Acceptance and closing (验收销号): request with evidence → on-site check →
one opinion per acceptance org (谁验收谁负责) → leading-group approval →
announcement (公示) with public objections → closing scan → spot checks that
re-open → the flow again → closed. The rejected, returned and upheld-objection
branches; 403/404/409/412/422 on every step; org scoping; the audit trail;
the working-day calendar — against the real service."""
import datetime
import json
import time
import urllib.parse

import harness
from harness import assert_problem

# The service's day (Asia/Shanghai), which may differ from the machine's.
TODAY = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)).date()


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


class Acceptance(harness.ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {
            "office": ("GS-OFFICE", ["office"]),
            "leader": ("GS-LG", ["leader"]),
            "chengguan": ("620102", ["unit"]),
            "qilihe": ("620103", ["unit"]),
            "ee_acc": ("GS-EE", ["acceptor"]),
            "ee_unit": ("GS-EE", ["unit"]),
            "nr_acc": ("GS-NR", ["acceptor"]),
            "hurd_acc": ("GS-HURD", ["acceptor"]),
            "inspector": ("GS-OFFICE", ["inspector"]),
            "lz_inspector": ("620100", ["inspector"]),
            "viewer": ("620000", ["viewer"]),
        }
        cls.uid = {n: harness.create_user(cls.db_url, n, org, roles) for n, (org, roles) in users.items()}
        cls.tok = {n: cls.svc.login(n) for n in users}
        cls.org = {c: int(cls.sql("SELECT id FROM orgs WHERE code = '%s'" % c))
                   for c in ("620000", "620100", "620102", "620103", "620800", "GS-EE", "GS-NR",
                             "GS-HURD", "CEEPI-4")}
        r = cls.call("POST", "/api/v1/campaigns", "office", {
            "name": "第三轮中央生态环境保护督察甘肃省整改", "round": 3,
            "province_org_id": cls.org["620000"], "team_org_id": cls.org["CEEPI-4"],
            "stay_start": "2023-11-22", "stay_end": "2023-12-22", "feedback_date": "2024-02-28"})
        assert r.status == 201, r
        r = cls.call("POST", "/api/v1/problems", "office", {
            "campaign_id": r.json["id"], "code": "1", "title": "祁连山自然保护区生态修复不到位",
            "category": "local_specific", "lead_org_id": cls.org["620100"], "deadline": "2026-12-31"})
        assert r.status == 201, r
        cls.problem = r.json

    # ------------------------------------------------------------ helpers
    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    @classmethod
    def call(cls, method, path, who, body=None, headers=None):
        return cls.svc.request(method, path, body=body, headers=headers,
                               token=cls.tok[who] if who else None)

    _codes = 0

    @classmethod
    def make_task(cls, acceptance=("GS-EE", "GS-NR"), lead="620102", state="completed"):
        """A task led by a county, completed (ready for acceptance)."""
        cls._codes += 1
        r = cls.call("POST", "/api/v1/tasks", "office", {
            "problem_id": cls.problem["id"], "code": "A-%03d" % cls._codes,
            "title": "矿山生态修复 %d" % cls._codes, "target": "完成矿山生态修复",
            "measures": ["制定方案", "完成修复"], "lead_org_id": cls.org[lead],
            "acceptance_org_ids": [cls.org[c] for c in acceptance], "deadline": day(200)})
        assert r.status == 201, r
        t = r.json
        for action in ("start", "complete")[: {"in_progress": 1, "completed": 2}[state]]:
            r = cls.call("POST", "/api/v1/tasks/%d/transitions" % t["id"], "office",
                         {"action": action}, headers={"If-Match": '"%d"' % cls.version_of(t)})
            assert r.status == 200, r
        return t

    @classmethod
    def version_of(cls, task):
        return int(cls.sql("SELECT version FROM tasks WHERE id = %d" % task["id"]))

    def etag(self, task):
        return '"%d"' % self.version_of(task)

    @classmethod
    def upload(cls, who, data=b"%PDF-1.4\n% evidence\n"):
        r = cls.svc.post("/api/v1/attachments", body=data + str(cls._codes).encode() + who.encode(),
                         headers={"Content-Type": "application/pdf",
                                  "Content-Disposition": 'attachment; filename="evidence.pdf"'},
                         token=cls.tok[who])
        assert r.status == 201, r
        return r.json["id"]

    def step(self, task, path, who, body, etag=None):
        return self.call("POST", "/api/v1/tasks/%d/acceptance/%s" % (task["id"], path), who, body,
                         headers={"If-Match": etag or self.etag(task)})

    def request(self, task, who="chengguan", **over):
        body = {"self_assessment": "已完成矿山生态修复，恢复植被 120 亩。",
                "measure_results": ["方案已印发", "修复已完成"], "target_met": "整改目标已达到",
                "evidence": [self.upload(who if who in ("chengguan", "office") else "chengguan")]}
        body.update(over)
        return self.step(task, "requests", who, body)

    def check(self, task, who="office", **over):
        body = {"check_date": day(0), "team": ["王某某", "李某某"], "findings": "现场核查：措施落实到位。"}
        body.update(over)
        return self.step(task, "check", who, body)

    def opinion(self, task, who, decision="agree", **over):
        body = {"decision": decision, "reasons": "同意验收销号" if decision == "agree" else "植被恢复不达标"}
        body.update(over)
        return self.step(task, "opinions", who, body)

    def approve(self, task, decision="approve", who="leader", **over):
        body = {"decision": decision}
        body.update(over)
        return self.step(task, "approval", who, body)

    def dossier(self, task, who="office"):
        r = self.call("GET", "/api/v1/tasks/%d/acceptance" % task["id"], who)
        self.assertEqual(r.status, 200, r)
        return r.json

    def status(self, task):
        return self.sql("SELECT status FROM tasks WHERE id = %d" % task["id"])

    def to_approved(self, task):
        for r in (self.request(task), self.check(task), self.opinion(task, "ee_acc"),
                  self.opinion(task, "nr_acc"), self.approve(task)):
            self.assertIn(r.status, (200, 201), r)
        self.assertEqual(self.status(task), "approved")

    def announce(self, tasks, **over):
        body = {"title": "甘肃省第三轮督察整改任务拟销号公示（第%d批）" % self._codes,
                "body": "以下整改任务拟验收销号，现予公示。",
                "items": [{"task_id": t["id"], "version": self.version_of(t),
                           "summary": "已完成矿山生态修复，恢复植被。"} for t in tasks]}
        body.update(over)
        return self.call("POST", "/api/v1/announcements", "office", body)

    def end_period(self, ann_id):
        self.sql("UPDATE announcements SET period_start = current_date - 10, period_end = current_date - 1"
                 " WHERE id = %d" % ann_id)

    def close_due(self):
        r = self.svc.post("/api/v1/_test/acceptance-close-due")
        self.assertEqual(r.status, 200, r)
        return r.json["closed"]

    def object(self, ann_id, task, **over):
        self.sql("DELETE FROM public_throttle")
        body = {"task_id": task["id"], "text": "该矿山仍有渣堆未清理。", "contact": "13812345678"}
        body.update(over)
        return self.svc.post("/public/v1/announcements/%d/objections" % ann_id, body=body)

    def audit_actions(self, table, task):
        return self.sql("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE table_name = '%s'"
                        " AND (after->>'task_id' = '%d' OR before->>'task_id' = '%d')" % (table, task["id"], task["id"]))


class Flow(Acceptance):
    def test_full_flow_two_units_spot_check_and_again(self):
        t = self.make_task()
        # 1. request
        r = self.request(t)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("location"), "/api/v1/tasks/%d/acceptance" % t["id"])
        d = r.json
        self.assertEqual(d["task"]["status"], "acceptance_requested")
        self.assertEqual(d["task"]["acceptance_stage"], "awaiting_check")
        self.assertEqual(r.header("etag"), '"%d"' % d["task"]["version"])
        self.assertEqual(len(d["requests"][0]["evidence"]), 1)
        self.assertEqual([o["code"] for o in d["requests"][0]["missing_opinions"]], ["GS-EE", "GS-NR"])
        # 2. joint check: several acceptance orgs → the office
        assert_problem(self, self.check(t, "ee_acc"), 403, "forbidden")
        r = self.check(t)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["requests"][0]["check"]["joint"])
        self.assertIsNone(r.json["requests"][0]["check"]["inspection_id"])
        self.assertEqual(r.json["task"]["status"], "acceptance_review")
        # 3. opinions: approval before both is 409
        self.assertEqual(self.opinion(t, "ee_acc").status, 201)
        doc = assert_problem(self, self.approve(t), 409, "opinions_missing")
        self.assertIn("甘肃省自然资源厅", doc["detail"])
        r = self.opinion(t, "nr_acc")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["task"]["acceptance_stage"], "awaiting_approval")
        self.assertEqual(r.json["requests"][0]["status"], "awaiting_approval")
        # 4. approval
        r = self.approve(t, comment="同意销号")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["task"]["status"], "approved")
        self.assertEqual(r.json["requests"][0]["decision"]["decision"], "approve")
        # 5. announcement, objection dismissed
        r = self.announce([t])
        self.assertEqual(r.status, 201, r)
        ann = r.json
        self.assertEqual(r.header("location"), "/api/v1/announcements/%d" % ann["id"])
        self.assertEqual(self.status(t), "announced")
        self.assertGreaterEqual(datetime.date.fromisoformat(ann["period_end"]), TODAY)
        r = self.object(ann["id"], t)
        self.assertEqual(r.status, 201, r)
        ref = r.json["ref"]
        self.assertEqual(r.json["status"], "received")
        self.assertNotIn("contact", r.json)
        stored = self.sql("SELECT contact_masked || '|' || length(contact_enc) || '|' ||"
                          " position('13812345678' in encode(contact_enc, 'escape'))"
                          " FROM objections WHERE ref = '%s'" % ref)
        masked, enc_len, clear_pos = stored.split("|")
        self.assertEqual(masked, "138****5678")
        self.assertEqual(int(enc_len), 11 + 40)
        self.assertEqual(clear_pos, "0")                     # never in clear
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'objections'"
                                  " AND after::text LIKE '%13812345678%'"), "0")
        # a pending objection holds the closing even when the period is over
        self.end_period(ann["id"])
        self.assertEqual(self.close_due(), 0)
        self.assertEqual(self.status(t), "announced")
        a = self.call("GET", "/api/v1/announcements/%d" % ann["id"], "office")
        self.assertEqual(a.status, 200, a)
        obj = a.json["objections"][0]
        self.assertEqual(obj["contact"], "138****5678")
        r = self.call("POST", "/api/v1/announcements/%d/objections/%d/decision" % (ann["id"], obj["id"]),
                      "office", {"decision": "dismissed", "reasons": "经核实，渣堆已于公示前清运。"},
                      headers={"If-Match": '"%d"' % obj["version"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["objections"][0]["status"], "dismissed")
        self.assertEqual(r.json["items"][0]["objections_handled"], 1)
        # 6. closing scan
        self.assertEqual(self.close_due(), 1)
        self.assertEqual(self.close_due(), 0)                # idempotent
        d = self.dossier(t)
        self.assertEqual(d["task"]["status"], "closed")
        self.assertIsNotNone(d["task"]["closed_at"])
        self.assertEqual(d["announcements"][0]["status"], "closed")
        self.assertEqual(d["history"][-1]["action"], "close")
        self.assertIsNone(d["history"][-1]["user_id"])     # the system
        pub = self.svc.get("/public/v1/announcements")
        self.assertEqual(pub.json["items"][0]["status"], "finished")
        # 7. spot check fails (faked) → re-opened, counted, flagged
        r = self.call("POST", "/api/v1/spot-checks", "lz_inspector",
                      {"title": "2026年第四季度抽查", "task_ids": [t["id"]]})
        self.assertEqual(r.status, 201, r)
        sc = r.json
        item = sc["items"][0]
        self.assertEqual(item["result"], "pending")
        r = self.call("POST", "/api/v1/spot-checks/%d/items/%d/result" % (sc["id"], item["id"]), "lz_inspector",
                      {"result": "faked", "findings": "台账资料系补写，现场仍有渣堆。",
                       "evidence": [self.upload("lz_inspector")]},
                      headers={"If-Match": '"%d"' % item["version"]})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["items"][0]["accountability"])
        d = self.dossier(t)
        self.assertEqual(d["task"]["status"], "in_progress")
        self.assertTrue(d["task"]["reopened"])
        self.assertEqual(d["task"]["reopen_count"], 1)
        self.assertIsNone(d["task"]["closed_at"])
        self.assertEqual(d["history"][-1]["reason"], "faked")
        self.assertEqual(d["spot_checks"][0]["result"], "faked")
        self.assertEqual(len(d["spot_checks"][0]["evidence"]), 1)
        # ... and the whole flow again, to closed
        r = self.call("POST", "/api/v1/tasks/%d/transitions" % t["id"], "chengguan", {"action": "complete"},
                      headers={"If-Match": self.etag(t)})
        self.assertEqual(r.status, 200, r)
        self.to_approved(t)
        r = self.announce([t])
        self.assertEqual(r.status, 201, r)
        self.end_period(r.json["id"])
        self.assertEqual(self.close_due(), 1)
        d = self.dossier(t)
        self.assertEqual(d["task"]["status"], "closed")
        self.assertEqual([q["round"] for q in d["requests"]], [1, 2])
        self.assertEqual([q["status"] for q in d["requests"]], ["approved", "approved"])
        self.assertEqual(len(d["announcements"]), 2)
        # the audit trail has every step
        self.assertEqual(self.audit_actions("acceptance_opinions", t), "insert,insert,insert,insert")
        self.assertIn("insert", self.audit_actions("acceptance_checks", t))
        trail = self.sql("SELECT string_agg(after->>'action', ',' ORDER BY id) FROM audit_log"
                         " WHERE table_name = 'task_transitions' AND after->>'task_id' = '%d'" % t["id"])
        self.assertEqual(trail, "start,complete,request_acceptance,record_check,approve,announce,close,reopen,"
                                "complete,request_acceptance,record_check,approve,announce,close")
        v = self.svc.get("/api/v1/audit/verify", token=self.tok["office"])
        self.assertTrue(v.json["ok"], v)

    def test_single_acceptance_org_checks_itself(self):
        t = self.make_task(acceptance=("GS-EE",))
        self.assertEqual(self.request(t).status, 201)
        assert_problem(self, self.check(t, "nr_acc"), 404, "not_found")       # not its task: unseen
        r = self.check(t, "ee_acc")
        self.assertEqual(r.status, 201, r)
        self.assertFalse(r.json["requests"][0]["check"]["joint"])
        r = self.opinion(t, "ee_acc")
        self.assertEqual(r.json["task"]["acceptance_stage"], "awaiting_approval")


class Branches(Acceptance):
    def test_disagreement_rejects_and_counts(self):
        t = self.make_task()
        self.request(t)
        self.check(t)
        r = self.opinion(t, "ee_acc", "disagree", reasons="植被成活率不足 60%")
        self.assertEqual(r.status, 201, r)
        d = r.json
        self.assertEqual(d["task"]["status"], "in_progress")
        self.assertEqual(d["rejected_count"], 1)
        self.assertEqual(d["requests"][0]["status"], "rejected")
        self.assertEqual(d["history"][-1]["action"], "reject_acceptance")
        self.assertIn("植被成活率不足", d["history"][-1]["comment"])
        # the other org can no longer give an opinion on the closed round
        assert_problem(self, self.opinion(t, "nr_acc"), 409, "invalid_transition")
        # round 2 after completing again
        self.call("POST", "/api/v1/tasks/%d/transitions" % t["id"], "office", {"action": "complete"},
                  headers={"If-Match": self.etag(t)})
        self.assertEqual(self.request(t).json["requests"][1]["round"], 2)

    def test_leader_returns_with_reasons(self):
        t = self.make_task()
        self.request(t)
        self.check(t)
        self.opinion(t, "ee_acc")
        self.opinion(t, "nr_acc")
        assert_problem(self, self.approve(t, "return"), 422, "validation_failed")      # reasons required
        assert_problem(self, self.approve(t, who="office"), 403, "forbidden")
        r = self.approve(t, "return", comment="佐证材料不完整，退回补充")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["task"]["status"], "in_progress")
        self.assertEqual(r.json["returned_count"], 1)
        self.assertEqual(r.json["requests"][0]["decision"]["comment"], "佐证材料不完整，退回补充")
        self.assertEqual(r.json["history"][-1]["action"], "return_acceptance")

    def test_upheld_objection_reopens(self):
        t = self.make_task()
        self.to_approved(t)
        ann = self.announce([t]).json
        r = self.object(ann["id"], t, contact=None)
        self.assertEqual(r.status, 201, r)
        obj = self.call("GET", "/api/v1/announcements/%d" % ann["id"], "office").json["objections"][0]
        self.assertIsNone(obj["contact"])
        path = "/api/v1/announcements/%d/objections/%d/decision" % (ann["id"], obj["id"])
        body = {"decision": "upheld", "reasons": "现场复核确有渣堆未清理"}
        assert_problem(self, self.call("POST", path, "office", body, headers={"If-Match": '"9"'}),
                       412, "precondition_failed")
        assert_problem(self, self.call("POST", path, "leader", body, headers={"If-Match": '"1"'}),
                       403, "forbidden")
        r = self.call("POST", path, "office", body, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["items"][0]["status"], "reopened")
        d = self.dossier(t)
        self.assertEqual(d["task"]["status"], "in_progress")
        self.assertEqual(d["task"]["reopen_count"], 1)
        self.assertEqual(d["history"][-1]["reason"], "objection_upheld")
        assert_problem(self, self.call("POST", path, "office", dict(body, decision="dismissed"),
                                       headers={"If-Match": '"2"'}), 409, "already_decided")
        self.end_period(ann["id"])
        self.assertEqual(self.close_due(), 0)
        self.assertEqual(self.status(t), "in_progress")


class Refusals(Acceptance):
    def test_request_refusals(self):
        t = self.make_task(state="in_progress")
        assert_problem(self, self.request(t), 409, "invalid_transition")
        t = self.make_task()
        # no evidence
        assert_problem(self, self.request(t, evidence=[]), 422, "evidence_required")
        doc = assert_problem(self, self.request(t, evidence=None), 422, "validation_failed")
        body = {"self_assessment": "x", "measure_results": []}
        doc = assert_problem(self, self.step(t, "requests", "chengguan", body), 422, "validation_failed")
        self.assertIn("/evidence", [e["pointer"] for e in doc["errors"]])
        # another org's attachment
        assert_problem(self, self.request(t, evidence=[self.upload("office")]), 422, "invalid_reference")
        # measures count
        assert_problem(self, self.request(t, measure_results=["只有一条"]), 422, "validation_failed")
        # stale If-Match, missing If-Match
        r = self.step(t, "requests", "chengguan", {"self_assessment": "x", "evidence": [self.upload("chengguan")]},
                      etag='"1"')
        assert_problem(self, r, 412, "precondition_failed")
        r = self.call("POST", "/api/v1/tasks/%d/acceptance/requests" % t["id"], "chengguan",
                      {"self_assessment": "x", "evidence": [1]})
        assert_problem(self, r, 428, "precondition_required")
        # who: another county (404), an acceptor (403), a viewer (403 by permission)
        assert_problem(self, self.request(t, who="qilihe"), 404, "not_found")
        assert_problem(self, self.request(t, who="ee_acc"), 403, "forbidden")
        assert_problem(self, self.request(t, who="viewer"), 403, "forbidden")
        assert_problem(self, self.call("POST", "/api/v1/tasks/999999/acceptance/requests", "office",
                                       {"self_assessment": "x", "evidence": [1]}, headers={"If-Match": '"1"'}),
                       404, "not_found")
        # a pending deadline extension
        r = self.call("POST", "/api/v1/tasks/%d/transitions" % t["id"], "office", {"action": "reopen", "reason": "rebound"},
                      headers={"If-Match": self.etag(t)})
        self.assertEqual(r.status, 200, r)
        r = self.call("POST", "/api/v1/tasks/%d/extensions" % t["id"], "chengguan",
                      {"new_deadline": day(300), "reason": "雨季施工受限"})
        self.assertEqual(r.status, 201, r)
        self.call("POST", "/api/v1/tasks/%d/transitions" % t["id"], "office", {"action": "complete"},
                  headers={"If-Match": self.etag(t)})
        assert_problem(self, self.request(t), 409, "extension_pending")
        # no acceptance org
        t2 = self.make_task(acceptance=())
        assert_problem(self, self.request(t2), 422, "no_acceptance_org")
        # nothing written by the refusals
        self.assertEqual(self.sql("SELECT count(*) FROM acceptance_requests WHERE task_id IN (%d, %d)"
                                  % (t["id"], t2["id"])), "0")
        # the plain transition cannot skip the evidence
        r = self.call("POST", "/api/v1/tasks/%d/transitions" % t2["id"], "chengguan",
                      {"action": "request_acceptance"}, headers={"If-Match": self.etag(t2)})
        assert_problem(self, r, 422, "evidence_required")

    def test_opinion_rules(self):
        t = self.make_task()
        self.request(t)
        assert_problem(self, self.opinion(t, "ee_acc"), 409, "invalid_transition")      # before the check
        self.check(t)
        assert_problem(self, self.check(t), 409, "invalid_transition")                  # checked already
        # 谁验收谁负责: an acceptor of an org not named, a unit of a named org, the office
        assert_problem(self, self.opinion(t, "hurd_acc"), 404, "not_found")    # does not see the task
        assert_problem(self, self.opinion(t, "ee_unit"), 403, "forbidden")
        assert_problem(self, self.opinion(t, "office"), 403, "forbidden")
        assert_problem(self, self.opinion(t, "chengguan"), 403, "forbidden")
        assert_problem(self, self.opinion(t, "ee_acc", decision="maybe"), 422, "validation_failed")
        r = self.step(t, "opinions", "ee_acc", {"decision": "agree", "reasons": "同意"}, etag='"1"')
        assert_problem(self, r, 412, "precondition_failed")
        first = self.opinion(t, "ee_acc").json["requests"][0]["opinions"][0]
        doc = assert_problem(self, self.opinion(t, "ee_acc"), 409, "opinion_exists")
        self.assertIn(str(first["id"]), doc["detail"])
        assert_problem(self, self.opinion(t, "ee_acc", corrects=first["id"] + 999), 422, "validation_failed")
        # a correction supersedes; both kept
        r = self.opinion(t, "ee_acc", reasons="同意，补充：植被覆盖率 85%", corrects=first["id"])
        self.assertEqual(r.status, 201, r)
        ops = r.json["requests"][0]["opinions"]
        self.assertEqual([(o["current"], o["supersedes_id"]) for o in ops], [(False, None), (True, first["id"])])
        # a correction to disagree, after all agreed, rejects
        self.opinion(t, "nr_acc")
        self.assertEqual(self.dossier(t)["task"]["acceptance_stage"], "awaiting_approval")
        r = self.opinion(t, "nr_acc", "disagree", corrects=self.dossier(t)["requests"][0]["opinions"][2]["id"])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["task"]["status"], "in_progress")
        assert_problem(self, self.approve(t), 409, "invalid_transition")

    def test_scoping_and_reads(self):
        t = self.make_task()
        self.request(t)
        # the lead county and the acceptance orgs see the dossier; another county does not
        for who in ("chengguan", "ee_acc", "nr_acc", "leader", "viewer"):
            r = self.call("GET", "/api/v1/tasks/%d/acceptance" % t["id"], who)
            self.assertEqual(r.status, 200, (who, r))
        assert_problem(self, self.call("GET", "/api/v1/tasks/%d/acceptance" % t["id"], "qilihe"), 404, "not_found")
        assert_problem(self, self.call("GET", "/api/v1/tasks/%d/acceptance" % t["id"], "hurd_acc"), 404, "not_found")
        assert_problem(self, self.call("GET", "/api/v1/tasks/%d/acceptance" % t["id"], None), 401, "unauthorized")
        # the lead unit's evidence is visible to the acceptance org (谁验收谁负责 needs to read it)
        att = self.dossier(t)["requests"][0]["evidence"][0]["id"]
        self.assertEqual(self.call("GET", "/api/v1/attachments/%d" % att, "ee_acc").status, 200)
        self.assertEqual(self.call("GET", "/api/v1/attachments/%d" % att, "qilihe").status, 404)
        # ETag of the dossier is the task's version
        r = self.call("GET", "/api/v1/tasks/%d/acceptance" % t["id"], "office")
        self.assertEqual(r.header("etag"), '"%d"' % r.json["task"]["version"])
        assert_problem(self, self.call("GET", "/api/v1/announcements/999999", "office"), 404, "not_found")
        assert_problem(self, self.call("GET", "/api/v1/spot-checks/999999", "office"), 404, "not_found")


class AnnouncementsAndPublic(Acceptance):
    def test_publish_refusals_and_period(self):
        t = self.make_task()
        assert_problem(self, self.announce([t]), 409, "not_approved")
        self.to_approved(t)
        assert_problem(self, self.call("POST", "/api/v1/announcements", "leader",
                                       {"title": "x", "body": "y", "items": [{"task_id": 1, "version": 1, "summary": "z"}]}),
                       403, "forbidden")
        assert_problem(self, self.announce([t], items=[]), 422, "validation_failed")
        stale = {"task_id": t["id"], "version": 1, "summary": "z"}
        assert_problem(self, self.announce([t], items=[stale]), 412, "precondition_failed")
        assert_problem(self, self.announce([t], items=[dict(stale, task_id=999999)]), 422, "invalid_reference")
        assert_problem(self, self.announce([t], period_start=day(-1)), 422, "validation_failed")
        self.assertEqual(self.status(t), "approved")                        # nothing written
        self.assertEqual(self.sql("SELECT count(*) FROM announcement_items WHERE task_id = %d" % t["id"]), "0")
        # the period: 5 working days from the calendar (National Day week 2026)
        r = self.announce([t], period_start=day(0), working_days=5)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["period_end"],
                         self.sql("SELECT rectify.working_days_end('%s', 5)" % day(0)))
        self.assertEqual(self.sql("SELECT rectify.working_days_end('2026-09-30', 5)"), "2026-10-12")
        self.assertEqual(self.sql("SELECT rectify.working_days_end('2026-02-13', 3)"), "2026-02-24")
        self.assertEqual(self.sql("SELECT rectify.is_working_day('2026-10-10')"), "t")      # make-up day
        # announced twice: not approved any more
        assert_problem(self, self.announce([t]), 409, "not_approved")

    def test_public_list_and_objections(self):
        t = self.make_task()
        other = self.make_task()
        self.to_approved(t)
        ann = self.announce([t]).json
        r = self.svc.get("/public/v1/announcements")
        self.assertEqual(r.status, 200, r)
        etag = r.header("etag")
        self.assertTrue(etag.startswith('"'))
        self.assertIn("public", r.header("cache-control"))
        item = r.json["items"][0]
        self.assertEqual(item["id"], ann["id"])
        self.assertEqual(set(item["items"][0]), {"task_id", "code", "title", "lead_org", "summary", "status",
                                                 "closed_at", "objections_received", "objections_handled"})
        self.assertNotIn("objections", item)
        self.assertNotIn("published_by", item)
        self.assertEqual(self.svc.get("/public/v1/announcements", headers={"If-None-Match": etag}).status, 304)
        self.assertEqual(self.svc.get("/public/v1/announcements?limit=0").status, 400)
        # objections: a task not in it, bad body, unknown announcement
        assert_problem(self, self.object(ann["id"], other), 422, "validation_failed")
        assert_problem(self, self.object(ann["id"], t, text=""), 422, "validation_failed")
        assert_problem(self, self.object(999999, t), 404, "not_found")
        # throttled per address (every attempt counts)
        self.sql("DELETE FROM public_throttle")
        for i in range(5):
            r = self.svc.post("/public/v1/announcements/%d/objections" % ann["id"],
                              body={"task_id": t["id"], "text": "异议 %d" % i})
            self.assertEqual(r.status, 201, r)
        r = self.svc.post("/public/v1/announcements/%d/objections" % ann["id"],
                          body={"task_id": t["id"], "text": "再一条"})
        assert_problem(self, r, 429, "too_many_requests")
        self.assertGreater(int(r.header("retry-after")), 0)
        # after the period
        self.end_period(ann["id"])
        assert_problem(self, self.object(ann["id"], t), 409, "period_closed")
        r2 = self.svc.get("/public/v1/announcements")
        self.assertNotEqual(r2.header("etag"), etag)
        self.assertEqual(r2.json["items"][0]["items"][0]["objections_received"], 5)


class SpotChecks(Acceptance):
    @classmethod
    def closed_task(cls, lead):
        t = cls.make_task(lead=lead)
        cls.sql("SET session_replication_role = replica;"
                " UPDATE tasks SET status = 'closed', closed_at = now() WHERE id = %d" % t["id"])
        return t

    def test_draw_is_reproducible_and_refusals(self):
        tasks = [self.closed_task(lead) for lead in ("620102", "620102", "620102", "620103", "620800")]
        open_task = self.make_task()
        body = {"title": "抽查", "percent": 40, "seed": 20261202}
        a = self.call("POST", "/api/v1/spot-checks", "office", body)
        self.assertEqual(a.status, 201, a)
        self.assertEqual(a.header("location"), "/api/v1/spot-checks/%d" % a.json["id"])
        b = self.call("POST", "/api/v1/spot-checks", "office", body)
        picked = sorted(i["task_id"] for i in a.json["items"])
        self.assertEqual(picked, sorted(i["task_id"] for i in b.json["items"]))
        # an inspector of Lanzhou draws among what it sees: Lanzhou's 4 closed tasks → 2
        c = self.call("POST", "/api/v1/spot-checks", "lz_inspector", body)
        self.assertEqual(c.json["candidates"], 4)
        self.assertEqual(len(c.json["items"]), 2)
        self.assertEqual(sorted(i["task_id"] for i in c.json["items"]),
                         sorted(i for i in picked if i != tasks[4]["id"]))
        self.assertEqual(a.json["seed"], "20261202")
        self.assertEqual(a.json["candidates"], 5)
        # per prefecture: Lanzhou 4 closed → 2, Pingliang 1 → 1
        self.assertEqual(len(picked), 3)
        r = self.call("POST", "/api/v1/spot-checks", "office",
                      {"title": "平凉", "percent": 100, "prefecture_org_ids": [self.org["620800"]]})
        self.assertEqual([i["task_id"] for i in r.json["items"]], [tasks[4]["id"]])
        self.assertIsInstance(r.json["seed"], str)                         # random seed, recorded
        # refusals
        assert_problem(self, self.call("POST", "/api/v1/spot-checks", "office",
                                       {"title": "x", "task_ids": [open_task["id"]]}), 409, "task_not_closed")
        assert_problem(self, self.call("POST", "/api/v1/spot-checks", "office",
                                       {"title": "x", "percent": 10, "task_ids": [tasks[0]["id"]]}),
                       422, "validation_failed")
        assert_problem(self, self.call("POST", "/api/v1/spot-checks", "office", {"title": "x"}), 422,
                       "validation_failed")
        assert_problem(self, self.call("POST", "/api/v1/spot-checks", "chengguan",
                                       {"title": "x", "percent": 10}), 403, "forbidden")
        # results
        sc = self.call("POST", "/api/v1/spot-checks", "office", {"title": "y", "task_ids": [tasks[0]["id"], tasks[1]["id"]]}).json
        i0, i1 = sc["items"]
        path = "/api/v1/spot-checks/%d/items/%%d/result" % sc["id"]
        ok = {"result": "consolidated", "findings": "整改成效巩固"}
        assert_problem(self, self.call("POST", path % i0["id"], "office", ok, headers={"If-Match": '"7"'}),
                       412, "precondition_failed")
        assert_problem(self, self.call("POST", path % i0["id"], "office", dict(ok, result="fine"),
                                       headers={"If-Match": '"1"'}), 422, "validation_failed")
        assert_problem(self, self.call("POST", path % 999999, "office", ok, headers={"If-Match": '"1"'}),
                       404, "not_found")
        r = self.call("POST", path % i0["id"], "office", ok, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.status(tasks[0]), "closed")                    # consolidated: stays closed
        assert_problem(self, self.call("POST", path % i0["id"], "office", ok, headers={"If-Match": '"2"'}),
                       409, "already_decided")
        r = self.call("POST", path % i1["id"], "office", {"result": "rebounded", "findings": "问题反弹"},
                      headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        d = self.dossier(tasks[1])
        self.assertEqual((d["task"]["status"], d["task"]["reopen_count"], d["history"][-1]["reason"]),
                         ("in_progress", 1, "rebound"))
        self.assertFalse(d["spot_checks"][0]["accountability"])


class ClosingScan(Acceptance):
    def test_concurrent_scans_close_each_task_once(self):
        tasks = [self.make_task() for _ in range(4)]
        for t in tasks:
            self.to_approved(t)
        ann = self.announce(tasks).json
        self.end_period(ann["id"])
        threads = [harness.in_thread(self.close_due) for _ in range(3)]
        for th, _ in threads:
            th.join()
        self.assertEqual(sum(res[0] for _, res in threads), 4)
        ids = ",".join(str(t["id"]) for t in tasks)
        self.assertEqual(self.sql("SELECT count(*) FROM task_transitions WHERE action = 'close'"
                                  " AND task_id IN (%s)" % ids), "4")
        self.assertEqual(self.sql("SELECT count(*) FROM tasks WHERE status = 'closed' AND closed_at IS NOT NULL"
                                  " AND id IN (%s)" % ids), "4")
        self.assertEqual(self.sql("SELECT status FROM announcements WHERE id = %d" % ann["id"]), "finished")
        # the closing is in the audit trail, without a user (the scan)
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'tasks' AND user_id IS NULL"
                                  " AND after->>'status' = 'closed' AND row_id IN (%s)"
                                  % ",".join("'%d'" % t["id"] for t in tasks)), "4")


    def test_the_jobs_runner_closes(self):
        """The scheduled job acceptance.close_due (src/jobs/acceptance_close.c) runs the same scan."""
        self.assertEqual(self.sql("SELECT kind || ' ' || every FROM job_schedules"
                                  " WHERE name = 'acceptance.close_due'"), "acceptance.close_due 00:15:00")
        t = self.make_task()
        self.to_approved(t)
        ann = self.announce([t]).json
        self.end_period(ann["id"])
        job = int(self.sql("SELECT rectify.job_enqueue('acceptance.close_due', 'test-%d', '{}')" % ann["id"]))
        deadline = time.time() + 30 * harness.SLOW
        while time.time() < deadline and self.sql("SELECT state FROM jobs WHERE id = %d" % job) != "done":
            time.sleep(0.1)
        self.assertEqual(self.sql("SELECT state FROM jobs WHERE id = %d" % job), "done")
        self.assertEqual(self.status(t), "closed")


if __name__ == "__main__":
    harness.main()
