"""The ledger: campaigns, problems, tasks, the task workflow, deadline
extensions, progress reports, warning levels, list filters/sorts/pagination,
If-Match/ETag, org scoping and the audit trail — against the real service."""
import csv
import datetime
import io
import json
import threading
import urllib.parse

import harness
from harness import assert_problem

TODAY = datetime.date.today()


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


class Ledger(harness.ServiceTestCase):
    """One database for the whole ledger: a campaign, problems and tasks led
    by different counties, users of several orgs and roles."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {
            "office": ("GS-OFFICE", ["office"]),
            "leader": ("GS-LG", ["leader"]),
            "admin1": ("620000", ["admin"]),
            "viewer1": ("620000", ["viewer"]),
            "lanzhou": ("620100", ["unit"]),
            "chengguan": ("620102", ["unit"]),
            "qilihe": ("620103", ["unit"]),
            "pingliang": ("620800", ["unit"]),
            "ee_dept": ("GS-EE", ["unit", "acceptor"]),
            "forestry": ("GS-FG", ["unit"]),
        }
        cls.uid = {}
        for name, (org, roles) in users.items():
            cls.uid[name] = harness.create_user(cls.db_url, name, org, roles)
        cls.tok = {name: cls.svc.login(name) for name in users}
        cls.org = {}
        for code in ("620000", "620100", "620102", "620103", "620800", "GS-EE", "GS-FG",
                     "CEEPI-4", "GS-OFFICE"):
            cls.org[code] = int(cls.sql("SELECT id FROM orgs WHERE code = '%s'" % code))
        r = cls.call("POST", "/api/v1/campaigns", "office", {
            "name": "第三轮中央生态环境保护督察甘肃省整改", "round": 3,
            "province_org_id": cls.org["620000"], "team_org_id": cls.org["CEEPI-4"],
            "stay_start": "2023-11-22", "stay_end": "2023-12-22", "feedback_date": "2024-02-28",
            "plan_published_date": "2024-06-05"})
        assert r.status == 201, r
        cls.campaign = r.json
        cls.problem = cls.make_problem("1", "祁连山自然保护区生态修复不到位", "local_specific",
                                       cls.org["620100"], regions=[cls.org["620102"]])
        cls.problem2 = cls.make_problem("2", "黄河流域水污染防治存在短板", "provincial_sector",
                                        cls.org["GS-EE"])

    # ------------------------------------------------------------ helpers
    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    @classmethod
    def call(cls, method, path, who, body=None, headers=None):
        return cls.svc.request(method, path, body=body, headers=headers, token=cls.tok[who])

    @classmethod
    def make_problem(cls, code, title, category, lead, regions=None, campaign=None):
        body = {"campaign_id": campaign or cls.campaign["id"], "code": code, "title": title,
                "category": category, "lead_org_id": lead, "responsible_name": "王伟",
                "responsible_post": "副省长", "target": "问题整改到位", "deadline": "2026-12-31"}
        if regions:
            body["region_org_ids"] = regions
        r = cls.call("POST", "/api/v1/problems", "office", body)
        assert r.status == 201, r
        return r.json

    _codes = 0

    @classmethod
    def make_task(cls, lead="620102", problem=None, **over):
        cls._codes += 1
        body = {"problem_id": (problem or cls.problem)["id"], "code": "T-%03d" % cls._codes,
                "title": "整改任务 %d" % cls._codes, "target": "完成矿山生态修复",
                "measures": ["制定整改方案", "开展现场核查", "完成生态修复"],
                "lead_org_id": cls.org[lead], "responsible_name": "张三",
                "responsible_post": "区长", "deadline": day(200)}
        body.update(over)
        r = cls.call("POST", "/api/v1/tasks", "office", body)
        assert r.status == 201, r
        return r.json

    def get_task(self, task, who="office"):
        r = self.call("GET", "/api/v1/tasks/%d" % task["id"], who)
        self.assertEqual(r.status, 200, r)
        return r.json

    def move(self, task, action, who="office", etag=None, **extra):
        if etag is None:
            etag = '"%d"' % self.get_task(task)["version"]
        body = {"action": action}
        body.update(extra)
        return self.call("POST", "/api/v1/tasks/%d/transitions" % task["id"], who, body,
                         headers={"If-Match": etag} if etag else None)

    def list(self, path, who="office", **params):
        r = self.call("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""), who)
        self.assertEqual(r.status, 200, r)
        return r.json

    def ids(self, who="office", **params):
        return [t["id"] for t in self.list("/api/v1/tasks", who, limit=500, **params)["items"]]

    def audit_count(self, table, row_id):
        return int(self.sql("SELECT count(*) FROM audit_log WHERE table_name = '%s'"
                            " AND row_id = '%s'" % (table, row_id)))


class Campaigns(Ledger):
    def test_create_get_and_etag(self):
        c = self.campaign
        self.assertEqual(c["round"], 3)
        self.assertEqual(c["stay_end"], "2023-12-22")
        self.assertEqual(c["version"], 1)
        r = self.call("GET", "/api/v1/campaigns/%d" % c["id"], "chengguan")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"1"')
        self.assertEqual(r.json["name"], c["name"])
        self.assertGreaterEqual(self.audit_count("campaigns", c["id"]), 1)

    def test_create_errors(self):
        body = {"name": "x", "round": 3, "province_org_id": self.org["620000"]}
        doc = assert_problem(self, self.call("POST", "/api/v1/campaigns", "office", body), 409, "conflict")
        self.assertEqual(doc["errors"][0]["pointer"], "/round")
        body = {"name": "x", "round": 9, "province_org_id": 999999}
        doc = assert_problem(self, self.call("POST", "/api/v1/campaigns", "office", body), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/province_org_id")
        body = {"name": "x", "round": 9, "province_org_id": self.org["620000"],
                "stay_start": "2024-01-10", "stay_end": "2024-01-01"}
        doc = assert_problem(self, self.call("POST", "/api/v1/campaigns", "office", body), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/stay_end")
        body = {"name": " ", "round": 0, "province_org_id": "1", "stay_start": "2024-02-30", "x": 1}
        doc = assert_problem(self, self.call("POST", "/api/v1/campaigns", "office", body), 422, "validation_failed")
        pointers = {e["pointer"] for e in doc["errors"]}
        self.assertEqual(pointers, {"/name", "/round", "/province_org_id", "/stay_start", "/x"})
        assert_problem(self, self.call("POST", "/api/v1/campaigns", "chengguan", body), 403, "forbidden")
        assert_problem(self, self.call("POST", "/api/v1/campaigns", "leader", body), 403, "forbidden")
        self.assertEqual(int(self.sql("SELECT count(*) FROM campaigns")), 1)

    def test_patch_and_list(self):
        r = self.call("POST", "/api/v1/campaigns", "office",
                      {"name": "第二轮督察", "round": 2, "province_org_id": self.org["620000"]})
        self.assertEqual(r.status, 201, r)
        cid = r.json["id"]
        self.assertEqual(r.header("location"), "/api/v1/campaigns/%d" % cid)
        path = "/api/v1/campaigns/%d" % cid
        assert_problem(self, self.call("PATCH", path, "office", {"name": "y"}), 428, "precondition_required")
        assert_problem(self, self.call("PATCH", path, "office", {"name": "y"}, {"If-Match": '"7"'}),
                       412, "precondition_failed")
        r = self.call("PATCH", path, "office", {"feedback_date": "2021-05-10"}, {"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["feedback_date"], "2021-05-10")
        self.assertEqual(r.header("etag"), '"2"')
        r = self.call("PATCH", path, "office", {"round": 3}, {"If-Match": '"2"'})
        assert_problem(self, r, 409, "conflict")
        r = self.call("PATCH", path, "office", {"stay_start": "2024-01-10", "stay_end": "2024-01-01"},
                      {"If-Match": '"2"'})
        doc = assert_problem(self, r, 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/stay_end")
        doc = assert_problem(self, self.call("PATCH", path, "office", {"team_org_id": 999999},
                                             {"If-Match": '"2"'}), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/team_org_id")
        doc = assert_problem(self, self.call("PATCH", path, "office", {"name": "z"},
                                             {"If-Match": '"1"'}), 412, "precondition_failed")
        self.assertIn('"2"', doc["detail"])
        r = self.call("PATCH", path, "office", {}, {"If-Match": '"2"'})
        self.assertEqual(r.json["version"], 2)                     # nothing changed
        assert_problem(self, self.call("PATCH", "/api/v1/campaigns/99999", "office", {},
                                       {"If-Match": '"1"'}), 404, "not_found")
        page = self.list("/api/v1/campaigns", limit=1)
        self.assertEqual(len(page["items"]), 1)
        self.assertEqual(page["items"][0]["id"], cid)              # newest first
        page2 = self.list("/api/v1/campaigns", limit=1, cursor=page["next_cursor"])
        self.assertEqual(page2["items"][0]["id"], self.campaign["id"])
        self.assertIsNone(page2["next_cursor"])
        self.assertEqual(len(self.list("/api/v1/campaigns", q="第二轮")["items"]), 1)
        assert_problem(self, self.call("GET", "/api/v1/campaigns?cursor=bad!", "office"), 400, "invalid_parameter")
        assert_problem(self, self.call("GET", "/api/v1/campaigns?limit=0", "office"), 400, "invalid_parameter")
        assert_problem(self, self.call("GET", "/api/v1/campaigns/abc", "office"), 404, "not_found")


class Problems(Ledger):
    def test_detail_with_tasks_summary(self):
        p = self.make_problem("S-1", "工业园区污水处理设施不完善", "macro_common", self.org["620100"])
        self.make_task(problem=p)
        t2 = self.make_task(problem=p, deadline=day(-3))
        self.assertEqual(self.move(t2, "start").status, 200)
        r = self.call("GET", "/api/v1/problems/%d" % p["id"], "office")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"%d"' % r.json["version"])
        s = r.json["tasks_summary"]
        self.assertEqual(s["total"], 2)
        self.assertEqual(s["by_status"]["pending"], 1)
        self.assertEqual(s["by_status"]["in_progress"], 1)
        self.assertEqual(s["by_status"]["closed"], 0)
        self.assertEqual(s["by_warning"]["red"], 1)
        self.assertEqual(s["overdue"], 1)
        self.assertEqual(r.json["status"], "in_progress")          # derived from the tasks
        self.assertEqual(r.json["lead_org"]["code"], "620100")

    def test_create_errors_and_patch(self):
        base = {"campaign_id": self.campaign["id"], "code": "1", "title": "重复",
                "category": "macro_common", "lead_org_id": self.org["620100"]}
        doc = assert_problem(self, self.call("POST", "/api/v1/problems", "office", base), 409, "conflict")
        self.assertEqual(doc["errors"][0]["pointer"], "/code")
        doc = assert_problem(self, self.call("POST", "/api/v1/problems", "office",
                                             dict(base, code="P-x", campaign_id=424242)), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/campaign_id")
        doc = assert_problem(self, self.call("POST", "/api/v1/problems", "office",
                                             dict(base, code="P-y", region_org_ids=[self.org["620102"], 777777])),
                             422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/region_org_ids")
        doc = assert_problem(self, self.call("POST", "/api/v1/problems", "office",
                                             dict(base, code="P-z", category="other", region_org_ids=[1, 1])),
                             422, "validation_failed")
        self.assertEqual({e["pointer"] for e in doc["errors"]}, {"/category", "/region_org_ids/1"})
        p = self.make_problem("P-2", "尾矿库环境风险隐患", "local_specific", self.org["620800"])
        path = "/api/v1/problems/%d" % p["id"]
        r = self.call("PATCH", path, "office", {"title": "尾矿库环境风险隐患突出", "deadline": None},
                      {"If-Match": '"%d"' % p["version"]})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["deadline"])
        self.assertEqual(r.json["version"], p["version"] + 1)
        assert_problem(self, self.call("PATCH", path, "office", {"code": "new"}, {"If-Match": '"2"'}),
                       422, "validation_failed")
        assert_problem(self, self.call("PATCH", path, "office", {"lead_org_id": 999999}, {"If-Match": '"2"'}),
                       422, "validation_failed")
        assert_problem(self, self.call("PATCH", path, "pingliang", {"title": "x"}, {"If-Match": '"2"'}),
                       403, "forbidden")
        self.assertGreaterEqual(self.audit_count("problems", p["id"]), 2)

    def test_scope_and_filters(self):
        p = self.make_problem("P-3", "平凉市崆峒区大气污染治理滞后", "local_specific", self.org["620800"])
        # A Lanzhou county cannot see a Pingliang problem; Pingliang can.
        assert_problem(self, self.call("GET", "/api/v1/problems/%d" % p["id"], "chengguan"), 404, "not_found")
        self.assertEqual(self.call("GET", "/api/v1/problems/%d" % p["id"], "pingliang").status, 200)
        # Chengguan is a region concerned by problem 1; it sees problem 2 only through a task.
        seen = {x["id"] for x in self.list("/api/v1/problems", "chengguan", limit=500)["items"]}
        self.assertIn(self.problem["id"], seen)
        self.assertNotIn(p["id"], seen)
        self.assertNotIn(self.problem2["id"], seen)
        self.make_task(lead="620102", problem=self.problem2)
        seen = {x["id"] for x in self.list("/api/v1/problems", "chengguan", limit=500)["items"]}
        self.assertIn(self.problem2["id"], seen)
        found = self.list("/api/v1/problems", q="崆峒区大气")["items"]
        self.assertEqual([x["id"] for x in found], [p["id"]])
        found = self.list("/api/v1/problems", category="provincial_sector")["items"]
        self.assertEqual({x["category"] for x in found}, {"provincial_sector"})
        found = self.list("/api/v1/problems", lead_org=self.org["620800"])["items"]
        self.assertIn(p["id"], [x["id"] for x in found])
        self.assertEqual({x["lead_org"]["code"] for x in found}, {"620800"})
        found = self.list("/api/v1/problems", region=self.org["620102"])["items"]
        self.assertEqual([x["id"] for x in found], [self.problem["id"]])
        codes = [x["code"] for x in self.list("/api/v1/problems", sort="-code", limit=500)["items"]]
        self.assertEqual(codes, sorted(codes, reverse=True))
        first = self.list("/api/v1/problems", sort="deadline", limit=1)
        second = self.list("/api/v1/problems", sort="deadline", limit=1, cursor=first["next_cursor"])
        self.assertNotEqual(first["items"][0]["id"], second["items"][0]["id"])
        assert_problem(self, self.call("GET", "/api/v1/problems?sort=title", "office"), 400, "invalid_parameter")
        assert_problem(self, self.call("GET", "/api/v1/problems?sort=code&cursor=" + first["next_cursor"],
                                       "office"), 400, "invalid_parameter")
        assert_problem(self, self.call("GET", "/api/v1/problems?status=open", "office"), 400, "invalid_parameter")


class Tasks(Ledger):
    def test_create_and_get(self):
        t = self.make_task(co_org_ids=[self.org["GS-EE"]], acceptance_org_ids=[self.org["GS-FG"]],
                           stage_targets=[{"target": "完成方案编制", "due": day(30)}])
        self.assertEqual(t["status"], "pending")
        self.assertEqual(t["measures"], ["制定整改方案", "开展现场核查", "完成生态修复"])
        self.assertEqual(t["lead_org"]["code"], "620102")
        self.assertEqual(t["co_orgs"][0]["code"], "GS-EE")
        self.assertEqual(t["acceptance_orgs"][0]["code"], "GS-FG")
        self.assertEqual(t["stage_targets"], [{"target": "完成方案编制", "due": day(30)}])
        self.assertEqual(t["effective_deadline"], day(200))
        self.assertEqual(t["warning"], "green")
        self.assertFalse(t["overdue"])
        self.assertEqual(t["problem"]["id"], self.problem["id"])
        self.assertEqual(t["transitions"], [])
        r = self.call("GET", "/api/v1/tasks/%d" % t["id"], "chengguan")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("etag"), '"1"')
        self.assertEqual(self.call("GET", "/api/v1/tasks/%d" % t["id"], "lanzhou").status, 200)   # parent org
        self.assertEqual(self.call("GET", "/api/v1/tasks/%d" % t["id"], "ee_dept").status, 200)   # co-operating
        self.assertEqual(self.call("GET", "/api/v1/tasks/%d" % t["id"], "forestry").status, 200)  # acceptance
        for who in ("qilihe", "pingliang"):
            assert_problem(self, self.call("GET", "/api/v1/tasks/%d" % t["id"], who), 404, "not_found")
        self.assertEqual(self.audit_count("tasks", t["id"]), 1)

    def test_create_errors(self):
        ok = {"problem_id": self.problem["id"], "code": "E-1", "title": "x",
              "lead_org_id": self.org["620102"], "deadline": day(10)}
        for body, pointer in (
                (dict(ok, deadline=None), "/deadline"),
                (dict(ok, deadline_kind="ongoing"), "/deadline"),
                (dict(ok, measures=["a", " "]), "/measures/1"),
                (dict(ok, measures="a"), "/measures"),
                (dict(ok, co_org_ids=[self.org["GS-EE"], 888888]), "/co_org_ids"),
                (dict(ok, acceptance_org_ids=[0]), "/acceptance_org_ids/0"),
                (dict(ok, stage_targets=[{"target": "x", "due": "2024-13-01"}]), "/stage_targets/0/due"),
                (dict(ok, stage_targets=[{"target": "x", "due": day(1), "extra": 1}]), "/stage_targets/0/extra"),
                (dict(ok, problem_id=55555), "/problem_id"),
                (dict(ok, lead_org_id=55555), "/lead_org_id"),
                (dict(ok, status="closed"), "/status"),
                (dict(ok, deadline_kind="someday"), "/deadline_kind")):
            doc = assert_problem(self, self.call("POST", "/api/v1/tasks", "office", body), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], (body, doc))
        t = self.make_task()
        doc = assert_problem(self, self.call("POST", "/api/v1/tasks", "office", dict(ok, code=t["code"])),
                             409, "conflict")
        self.assertEqual(doc["errors"][0]["pointer"], "/code")
        assert_problem(self, self.call("POST", "/api/v1/tasks", "chengguan", ok), 403, "forbidden")
        r = self.call("POST", "/api/v1/tasks", "office", dict(ok, code="E-2", deadline_kind="immediate_then_ongoing",
                                                              deadline=None))
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json["effective_deadline"])
        self.assertEqual(int(self.sql("SELECT count(*) FROM tasks WHERE code = 'E-1'")), 0)

    def test_patch_if_match(self):
        t = self.make_task()
        path = "/api/v1/tasks/%d" % t["id"]
        assert_problem(self, self.call("PATCH", path, "office", {"title": "新"}), 428, "precondition_required")
        assert_problem(self, self.call("PATCH", path, "office", {"title": "新"}, {"If-Match": "*"}),
                       428, "precondition_required")
        assert_problem(self, self.call("PATCH", path, "office", {"title": "新"}, {"If-Match": '"2"'}),
                       412, "precondition_failed")
        assert_problem(self, self.call("PATCH", path, "office", {"title": "新"}, {"If-Match": 'W/"1"'}),
                       412, "precondition_failed")
        r = self.call("PATCH", path, "office", {"title": "完成尾矿库闭库治理", "measures": ["闭库", "复绿"],
                                                "co_org_ids": [self.org["GS-EE"]]}, {"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"2"')
        self.assertEqual(r.json["measures"], ["闭库", "复绿"])
        assert_problem(self, self.call("PATCH", path, "office", {"deadline_kind": "ongoing"}, {"If-Match": '"2"'}),
                       422, "validation_failed")
        r = self.call("PATCH", path, "office", {"deadline_kind": "ongoing", "deadline": None}, {"If-Match": '"2"'})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["effective_deadline"])
        assert_problem(self, self.call("PATCH", path, "office", {"co_org_ids": [123456]}, {"If-Match": '"3"'}),
                       422, "validation_failed")
        assert_problem(self, self.call("PATCH", path, "office", {"percent": 50}, {"If-Match": '"3"'}),
                       422, "validation_failed")
        assert_problem(self, self.call("PATCH", path, "chengguan", {"title": "x"}, {"If-Match": '"3"'}),
                       403, "forbidden")
        assert_problem(self, self.call("PATCH", "/api/v1/tasks/987654", "office", {"title": "x"},
                                       {"If-Match": '"1"'}), 404, "not_found")
        self.assertEqual(self.audit_count("tasks", t["id"]), 3)      # insert + two updates

    def test_db_refuses_invalid_status_change(self):
        t = self.make_task()
        with self.assertRaisesRegex(RuntimeError, "cannot go from pending to closed"):
            self.sql("UPDATE tasks SET status = 'closed' WHERE id = %d" % t["id"])
        self.sql("UPDATE tasks SET status = 'in_progress' WHERE id = %d" % t["id"])   # a valid move passes


class Workflow(Ledger):
    def test_full_path_and_history(self):
        t = self.make_task()
        r = self.move(t, "start", "chengguan", comment="已部署")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "in_progress")
        self.assertIsNotNone(r.json["started_at"])
        self.assertEqual(r.header("etag"), '"2"')
        r = self.move(t, "complete", "lanzhou")                      # parent org of the lead
        self.assertEqual(r.json["status"], "completed")
        self.assertIsNotNone(r.json["completed_at"])
        # a request for acceptance needs a self-assessment and evidence (test_acceptance.py)
        r = self.move(t, "request_acceptance", "chengguan")
        assert_problem(self, r, 422, "evidence_required")
        self.assertIn("/acceptance/requests", r.json["detail"])
        h = self.get_task(t)["transitions"]
        self.assertEqual([(x["action"], x["from_status"], x["to_status"]) for x in h],
                         [("start", "pending", "in_progress"), ("complete", "in_progress", "completed")])
        self.assertEqual(h[0]["comment"], "已部署")
        self.assertEqual(h[0]["user_id"], self.uid["chengguan"])
        self.assertEqual(int(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'task_transitions'"
                                      " AND after->>'task_id' = '%d'" % t["id"])), 2)
        # reopen: office and leader only, with a reason
        assert_problem(self, self.move(t, "reopen", "chengguan", reason="rebound"), 403, "forbidden")
        assert_problem(self, self.move(t, "reopen", "office"), 422, "validation_failed")
        assert_problem(self, self.move(t, "reopen", "office", reason="lazy"), 422, "validation_failed")
        assert_problem(self, self.move(t, "start", "office", reason="rebound"), 422, "validation_failed")
        r = self.move(t, "reopen", "leader", reason="spot_check_failed", comment="抽查发现问题反弹")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "in_progress")
        self.assertTrue(r.json["reopened"])
        self.assertEqual(r.json["reopen_count"], 1)
        self.assertIsNone(r.json["completed_at"])
        self.assertEqual(r.json["transitions"][-1]["reason"], "spot_check_failed")
        self.move(t, "complete", "chengguan")
        r = self.move(t, "reopen", "office", reason="faked")
        self.assertEqual(r.json["reopen_count"], 2)
        self.assertIn(t["id"], self.ids(reopened="true"))
        self.assertNotIn(t["id"], self.ids(reopened="false"))

    def test_invalid_transition_names_state_and_actions(self):
        t = self.make_task()
        r = self.move(t, "complete", "chengguan")
        doc = assert_problem(self, r, 409, "invalid_transition")
        self.assertEqual(doc["current_state"], "pending")
        self.assertEqual(doc["allowed_actions"], ["start"])
        self.assertIn("pending", doc["detail"])
        self.assertIn("start", doc["detail"])
        r = self.move(t, "request_acceptance", "office")
        doc = assert_problem(self, r, 409, "invalid_transition")
        self.assertEqual(doc["allowed_actions"], ["start"])
        assert_problem(self, self.move(t, "close", "office"), 422, "validation_failed")
        assert_problem(self, self.move(t, "start", "office", etag=""), 428, "precondition_required")
        assert_problem(self, self.move(t, "start", "office", etag='"9"'), 412, "precondition_failed")
        # roles: a viewer or an admin has no workflow permission at all
        assert_problem(self, self.move(t, "start", "viewer1"), 403, "forbidden")
        assert_problem(self, self.move(t, "start", "admin1"), 403, "forbidden")
        # a co-operating org sees the task but does not move it
        t2 = self.make_task(co_org_ids=[self.org["GS-EE"]])
        assert_problem(self, self.move(t2, "start", "ee_dept"), 403, "forbidden")
        # another county: the task does not exist for it
        assert_problem(self, self.move(t2, "start", "qilihe", etag='"1"'), 404, "not_found")
        self.assertEqual(self.get_task(t2)["status"], "pending")
        # a closed task: a unit may not reopen, the leader may
        self.sql("SET session_replication_role = replica; UPDATE tasks SET status = 'closed' WHERE id = %d" % t2["id"])
        doc = assert_problem(self, self.move(t2, "start", "chengguan"), 409, "invalid_transition")
        self.assertEqual(doc["current_state"], "closed")
        self.assertEqual(doc["allowed_actions"], [])
        self.assertEqual(self.move(t2, "reopen", "leader", reason="rebound").status, 200)

    def test_concurrent_transitions_one_wins(self):
        t = self.make_task()
        results = []

        def go():
            results.append(self.move(t, "start", "chengguan", etag='"1"').status)
        threads = [threading.Thread(target=go) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(sorted(results), [200, 412, 412, 412])
        self.assertEqual(len(self.get_task(t)["transitions"]), 1)


class Warnings(Ledger):
    """Rules of rectify.task_warning (0011_ledger.sql)."""

    def test_levels(self):
        overdue = self.make_task(deadline=day(-1))
        soon = self.make_task(deadline=day(5))
        fine = self.make_task(deadline=day(300))
        behind = self.make_task(deadline=day(100))
        silent = self.make_task(deadline=day(300))
        ongoing = self.make_task(deadline_kind="ongoing", deadline=None)
        ongoing_silent = self.make_task(deadline_kind="immediate_then_ongoing", deadline=None)
        done_late = self.make_task(deadline=day(-10))
        for t in (behind, silent, done_late):
            self.assertEqual(self.move(t, "start").status, 200)
        self.move(done_late, "complete")
        # behind a linear schedule: started 100 days ago, half the time gone, 10 % done, reported yesterday
        self.sql("UPDATE tasks SET started_at = now() - interval '100 days', percent = 10,"
                 " last_reported_at = now() - interval '1 day' WHERE id = %d" % behind["id"])
        self.sql("UPDATE tasks SET started_at = now() - interval '40 days', percent = 30"
                 " WHERE id = %d" % silent["id"])
        self.sql("SET session_replication_role = replica;"
                 " UPDATE tasks SET created_at = now() - interval '31 days' WHERE id = %d" % ongoing_silent["id"])
        expect = {overdue["id"]: "red", soon["id"]: "yellow", fine["id"]: "green", behind["id"]: "yellow",
                  silent["id"]: "red", ongoing["id"]: "green", ongoing_silent["id"]: "red",
                  done_late["id"]: "green"}
        for tid, level in expect.items():
            self.assertEqual(self.get_task({"id": tid})["warning"], level, tid)
        for level in ("red", "yellow", "green"):
            got = set(self.ids(warning=level)) & set(expect)
            self.assertEqual(got, {k for k, v in expect.items() if v == level}, level)
        self.assertEqual(set(self.ids(overdue="true")) & set(expect), {overdue["id"]})
        self.assertIn(done_late["id"], self.ids(overdue="false"))
        # the settings row moves the thresholds
        self.sql("UPDATE ledger_settings SET due_soon_days = 2, report_interval_days = 60")
        try:
            self.assertEqual(self.get_task(soon)["warning"], "green")
            self.assertEqual(self.get_task(silent)["warning"], "green")
        finally:
            self.sql("UPDATE ledger_settings SET due_soon_days = 15, report_interval_days = 30")


class Extensions(Ledger):
    def test_request_approve_reject(self):
        t = self.make_task(deadline=day(-5))
        self.move(t, "start", "chengguan")
        self.assertTrue(self.get_task(t)["overdue"])
        path = "/api/v1/tasks/%d/extensions" % t["id"]
        doc = assert_problem(self, self.call("POST", path, "chengguan", {"new_deadline": day(-6), "reason": "x"}),
                             422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/new_deadline")
        assert_problem(self, self.call("POST", path, "chengguan", {"new_deadline": "soon", "reason": "x"}),
                       422, "validation_failed")
        assert_problem(self, self.call("POST", path, "qilihe", {"new_deadline": day(60), "reason": "x"}),
                       404, "not_found")
        assert_problem(self, self.call("POST", path, "leader", {"new_deadline": day(60), "reason": "x"}),
                       403, "forbidden")
        r = self.call("POST", path, "chengguan", {"new_deadline": day(60), "reason": "受冬季施工条件限制"})
        self.assertEqual(r.status, 201, r)
        ext = r.json
        self.assertEqual(ext["status"], "requested")
        self.assertEqual(ext["previous_deadline"], day(-5))
        assert_problem(self, self.call("POST", path, "chengguan", {"new_deadline": day(90), "reason": "再次"}),
                       409, "extension_pending")
        decide = "%s/%d/decision" % (path, ext["id"])
        assert_problem(self, self.call("POST", decide, "chengguan", {"decision": "approve"}), 403, "forbidden")
        assert_problem(self, self.call("POST", decide, "office", {"decision": "maybe"}), 422, "validation_failed")
        assert_problem(self, self.call("POST", "%s/99999/decision" % path, "office", {"decision": "approve"}),
                       404, "not_found")
        r = self.call("POST", decide, "office", {"decision": "approve", "comment": "同意延期"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "approved")
        self.assertEqual(r.json["decided_by"], self.uid["office"])
        task = self.get_task(t)
        self.assertEqual(task["deadline"], day(-5))                 # the planned one is kept
        self.assertEqual(task["extended_deadline"], day(60))
        self.assertEqual(task["effective_deadline"], day(60))
        self.assertFalse(task["overdue"])
        self.assertNotEqual(task["warning"], "red")
        self.assertNotIn(t["id"], self.ids(overdue="true"))
        assert_problem(self, self.call("POST", decide, "office", {"decision": "reject"}), 409, "already_decided")
        # a second request, rejected: the deadline stays
        r = self.call("POST", path, "chengguan", {"new_deadline": day(120), "reason": "资金未到位"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["previous_deadline"], day(60))
        r = self.call("POST", "%s/%d/decision" % (path, r.json["id"]), "office", {"decision": "reject"})
        self.assertEqual(r.json["status"], "rejected")
        self.assertEqual(self.get_task(t)["effective_deadline"], day(60))
        items = self.list(path, "chengguan")["items"]
        self.assertEqual([e["status"] for e in items], ["approved", "rejected"])
        assert_problem(self, self.call("GET", path, "pingliang"), 404, "not_found")
        self.assertEqual(self.audit_count("task_extensions", ext["id"]), 2)

    def test_not_extendable(self):
        t = self.make_task(deadline_kind="ongoing", deadline=None)
        r = self.call("POST", "/api/v1/tasks/%d/extensions" % t["id"], "office",
                      {"new_deadline": day(10), "reason": "x"})
        assert_problem(self, r, 409, "not_extendable")
        t = self.make_task()
        self.move(t, "start")
        self.move(t, "complete")
        r = self.call("POST", "/api/v1/tasks/%d/extensions" % t["id"], "office",
                      {"new_deadline": day(400), "reason": "x"})
        assert_problem(self, r, 409, "not_extendable")


class Reports(Ledger):
    def test_reports_follow_percent(self):
        t = self.make_task(co_org_ids=[self.org["GS-EE"]], acceptance_org_ids=[self.org["GS-FG"]])
        path = "/api/v1/tasks/%d/reports" % t["id"]
        r = self.call("POST", path, "chengguan", {"period": "2024-03", "narrative": "已完成整改方案编制",
                                                  "percent": 30, "measures_done": [1]})
        self.assertEqual(r.status, 201, r)
        first = r.json
        self.assertEqual(first["percent"], 30)
        self.assertEqual(first["measures_done"], [1])
        self.assertEqual(first["attachment_ids"], [])
        self.assertEqual(first["org"]["code"], "620102")
        task = self.get_task(t)
        self.assertEqual(task["percent"], 30)
        self.assertIsNotNone(task["last_reported_at"])
        r = self.call("POST", path, "ee_dept", {"period": "2024-04", "narrative": "配合开展现场核查",
                                                "percent": 55, "measures_done": [1, 2]})
        self.assertEqual(r.status, 201, r)                           # a co-operating org reports
        self.assertEqual(self.get_task(t)["percent"], 55)
        assert_problem(self, self.call("POST", path, "forestry", {"period": "p", "narrative": "n", "percent": 1}),
                       403, "forbidden")                             # acceptance org: reads only
        assert_problem(self, self.call("POST", path, "qilihe", {"period": "p", "narrative": "n", "percent": 1}),
                       404, "not_found")
        assert_problem(self, self.call("POST", path, "leader", {"period": "p", "narrative": "n", "percent": 1}),
                       403, "forbidden")
        doc = assert_problem(self, self.call("POST", path, "chengguan", {"period": "p", "narrative": "n",
                                                                         "percent": 1, "measures_done": [4]}),
                             422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/measures_done")
        doc = assert_problem(self, self.call("POST", path, "chengguan", {"period": "", "narrative": "n",
                                                                         "percent": 101, "measures_done": [1, 1]}),
                             422, "validation_failed")
        self.assertEqual({e["pointer"] for e in doc["errors"]}, {"/period", "/percent", "/measures_done/1"})
        doc = assert_problem(self, self.call("POST", path, "chengguan", {"period": "p", "narrative": "n",
                                                                         "percent": 1, "attachment_ids": [424242]}),
                             422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/attachment_ids")
        self.assertEqual(self.get_task(t)["percent"], 55)            # refused reports wrote nothing
        self.assertEqual(int(self.sql("SELECT count(*) FROM task_reports WHERE task_id = %d" % t["id"])), 2)
        page = self.list(path, "forestry", limit=1)
        self.assertEqual(page["items"][0]["period"], "2024-04")       # newest first
        page = self.list(path, "forestry", limit=1, cursor=page["next_cursor"])
        self.assertEqual(page["items"][0]["id"], first["id"])
        self.assertIsNone(page["next_cursor"])
        assert_problem(self, self.call("GET", path, "pingliang"), 404, "not_found")
        self.assertEqual(self.audit_count("task_reports", first["id"]), 1)

    def test_evidence_attachments(self):
        t = self.make_task()
        own = self.attachment("chengguan")
        foreign = self.attachment("pingliang")
        path = "/api/v1/tasks/%d/reports" % t["id"]
        assert_problem(self, self.call("POST", path, "chengguan", {"period": "p", "narrative": "n", "percent": 5,
                                                                   "attachment_ids": [own, foreign]}),
                       422, "validation_failed")
        r = self.call("POST", path, "chengguan", {"period": "2024-05", "narrative": "现场照片", "percent": 5,
                                                  "attachment_ids": [own]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["attachment_ids"], [own])
        self.assertEqual(self.audit_count("report_attachments", "%d:%d" % (r.json["id"], own)), 1)

    def test_report_on_closed_task(self):
        t = self.make_task()
        self.sql("SET session_replication_role = replica; UPDATE tasks SET status = 'closed' WHERE id = %d" % t["id"])
        r = self.call("POST", "/api/v1/tasks/%d/reports" % t["id"], "chengguan",
                      {"period": "p", "narrative": "n", "percent": 5})
        assert_problem(self, r, 409, "invalid_state")

    @classmethod
    def attachment(cls, who):
        org = {"chengguan": "620102", "pingliang": "620800"}[who]
        return int(cls.sql(
            "INSERT INTO attachments (filename, content_type, size_bytes, sha256, uploaded_by, owner_org_id)"
            " VALUES ('现场照片.jpg', 'image/jpeg', 3, sha256('abc'), %d, %d) RETURNING id"
            % (cls.uid[who], cls.org[org])).splitlines()[0])


class Lists(Ledger):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p3 = cls.make_problem("L-3", "沙化土地治理", "macro_common", cls.org["620000"])
        cls.t = [
            cls.make_task(lead="620102", title="黄河兰州段岸线整治", deadline=day(20), responsible_name="李明"),
            cls.make_task(lead="620103", title="七里河区餐饮油烟治理", deadline=day(-2),
                          measures=["安装油烟净化设施", "开展联合执法检查"]),
            cls.make_task(lead="620800", problem=cls.problem2, title="泾河流域水质提升", deadline=day(400)),
            cls.make_task(lead="GS-FG", problem=p3, title="三北工程防沙治沙", deadline_kind="ongoing",
                          deadline=None, responsible_name="李明"),
            cls.make_task(lead="620102", title="城关区建筑工地扬尘管控", deadline=day(90)),
        ]
        for i in range(12):     # bulk for pagination
            cls.make_task(lead="620100", title="批量任务 %02d" % i, deadline=day(30 + (i % 4)))

    def test_filters(self):
        t = self.t
        ids = self.ids
        self.assertEqual(set(ids(lead_org=self.org["620100"])) & {x["id"] for x in t},
                         {t[0]["id"], t[1]["id"], t[4]["id"]})         # subtree of Lanzhou
        self.assertEqual(set(ids(lead_org=self.org["620102"])) & {x["id"] for x in t}, {t[0]["id"], t[4]["id"]})
        self.assertEqual(ids(problem=self.problem2["id"]), [t[2]["id"]])
        self.assertEqual(ids(category="macro_common"), [t[3]["id"]])
        self.assertEqual(ids(q="油烟"), [t[1]["id"]])                   # 2 characters: no trigram, still found
        self.assertEqual(ids(q="油烟净化设施"), [t[1]["id"]])            # a measure
        self.assertEqual(ids(q="黄河兰州段"), [t[0]["id"]])
        self.assertEqual(ids(q=t[2]["code"]), [t[2]["id"]])
        self.assertEqual(ids(q="100%"), [])
        self.assertEqual(set(ids(official="李")), {t[0]["id"], t[3]["id"]})
        self.assertEqual(ids(overdue="true"), [t[1]["id"]])
        self.assertEqual(set(ids(due_before=day(20))), {t[0]["id"], t[1]["id"]})
        self.assertEqual(ids(due_after=day(100)), [t[2]["id"]])
        self.assertEqual(ids(due_after=day(10), due_before=day(25)), [t[0]["id"]])
        self.move(t[4], "start")
        self.assertEqual(ids(status="in_progress"), [t[4]["id"]])
        self.assertEqual(len(ids(status="pending,in_progress")), 17)
        self.assertEqual(ids(status="in_progress", lead_org=self.org["620800"]), [])
        self.assertEqual(ids(campaign=self.campaign["id"], q="泾河", warning="green"), [t[2]["id"]])
        self.assertEqual(ids(campaign=424242), [])
        # scope: Chengguan sees only its own; the Lanzhou prefecture its subtree
        self.assertEqual(set(ids("chengguan")), {t[0]["id"], t[4]["id"]})
        self.assertEqual(len(ids("lanzhou")), 15)
        self.assertEqual(len(ids("viewer1")), 17)                      # province org: the whole tree
        for bad in ("overdue=yes", "warning=blue", "due_before=2024-02-30", "lead_org=-1", "status=done",
                    "limit=501", "sort=title", "q=", "reopened=1", "campaign=x"):
            r = self.call("GET", "/api/v1/tasks?" + bad, "office")
            doc = assert_problem(self, r, 400, "invalid_parameter")
            self.assertEqual(doc["errors"][0]["parameter"], bad.split("=")[0])

    def test_sorts_and_keyset_pagination(self):
        everything = self.list("/api/v1/tasks", limit=500)["items"]
        keyfns = {
            "deadline": lambda x: (x["effective_deadline"] or "9999-99-99", x["id"]),
            "code": lambda x: (x["code"], x["id"]),
            "updated_at": lambda x: (x["updated_at"], x["id"]),
        }
        for name, fn in keyfns.items():
            for sort, rev in ((name, False), ("-" + name, True)):
                want = [x["id"] for x in sorted(everything, key=fn, reverse=rev)]
                got, cursor = [], None
                while True:
                    params = {"sort": sort, "limit": 4}
                    if cursor:
                        params["cursor"] = cursor
                    page = self.list("/api/v1/tasks", **params)
                    got += [x["id"] for x in page["items"]]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                if name != "updated_at":     # updated_at text has the same order only within one offset
                    self.assertEqual(got, want, sort)
                self.assertEqual(sorted(got), sorted(want), sort)
                self.assertEqual(len(got), len(set(got)), sort)
        # the default sort is deadline; ongoing tasks (no deadline) come last
        self.assertIsNone(self.list("/api/v1/tasks", limit=500)["items"][-1]["effective_deadline"])
        page = self.list("/api/v1/tasks", limit=2, q="批量")
        nxt = self.list("/api/v1/tasks", limit=2, q="批量", cursor=page["next_cursor"])
        self.assertTrue(set(x["id"] for x in page["items"]).isdisjoint(x["id"] for x in nxt["items"]))
        assert_problem(self, self.call("GET", "/api/v1/tasks?sort=code&cursor=" + page["next_cursor"], "office"),
                       400, "invalid_parameter")
        forged = "eyJzIjoiZGVhZGxpbmUiLCJrIjoiMjAyNC0xMy0wMSIsImkiOjF9"   # {"s":"deadline","k":"2024-13-01","i":1}
        assert_problem(self, self.call("GET", "/api/v1/tasks?cursor=" + forged, "office"), 400, "invalid_parameter")

    def test_trigram_index_is_used(self):
        # q= searches the lower-cased copy with LIKE (0012: rectify.task_search_ids)
        plan = self.sql("SET enable_seqscan = off; EXPLAIN SELECT id FROM tasks"
                        " WHERE search_folded LIKE lower('%%防沙治沙%%')")
        self.assertIn("tasks_search_folded_trgm", plan)
        self.assertEqual(self.ids(q="ABC-not-there"), [])
        self.assertEqual(self.ids(q=self.t[2]["code"].lower()), [self.t[2]["id"]])   # case-insensitive


class Officials(Ledger):
    """official= (0035): the name or its beginning, after normalisation (lower
    case, no white space, no name dots), on tasks, problems and the export;
    an index condition under row-level security."""

    NAMES = ["王建军", "王 建军", "王建国", "欧阳建军", "阿卜杜·热合曼", "Zhang Wei", None]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.p = p = cls.make_problem("O-1", "领导包抓筛选", "local_specific", cls.org["620100"])
        cls.t = {}
        for i, name in enumerate(cls.NAMES):
            cls.t[name] = cls.make_task(lead="620102" if i % 2 == 0 else "620800", problem=p,
                                        responsible_name=name, title="官员筛选 %d" % i,
                                        deadline=day(10 + i))

    def names(self, who="office", **params):
        by_id = {t["id"]: n for n, t in self.t.items()}
        return {by_id[i] for i in self.ids(who, **params) if i in by_id}

    def test_prefix_of_the_normalised_name(self):
        self.assertEqual(self.names(official="王建军"), {"王建军", "王 建军"})
        self.assertEqual(self.names(official="王 建 军"), {"王建军", "王 建军"})
        self.assertEqual(self.names(official="王建"), {"王建军", "王 建军", "王建国"})
        self.assertEqual(self.names(official="王"), {"王建军", "王 建军", "王建国"})
        self.assertEqual(self.names(official="王建军同志"), set())
        self.assertEqual(self.names(official="建军"), set())             # not a part inside the name
        self.assertEqual(self.names(official="欧阳"), {"欧阳建军"})
        self.assertEqual(self.names(official="阿卜杜热合曼"), {"阿卜杜·热合曼"})
        self.assertEqual(self.names(official="阿卜杜・热"), {"阿卜杜·热合曼"})   # another dot
        self.assertEqual(self.names(official="zhang"), {"Zhang Wei"})
        self.assertEqual(self.names(official="ZHANGW"), {"Zhang Wei"})
        self.assertEqual(self.names(official="　Zhang　Wei"), {"Zhang Wei"})   # full-width spaces
        for literal in ("%", "_", "\\", "王%"):
            self.assertEqual(self.names(official=literal), set(), literal)
        # with other filters, sorts and keyset pages
        self.assertEqual(self.names(official="王", lead_org=self.org["620102"]), {"王建军", "王建国"})
        got, cursor = [], None
        while True:
            params = {"official": "王", "sort": "-deadline", "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = self.list("/api/v1/tasks", **params)
            got += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(got, [self.t[n]["id"] for n in ("王建国", "王 建军", "王建军")])

    def test_scope_and_errors(self):
        self.assertEqual(self.names("chengguan", official="王"), {"王建军", "王建国"})
        self.assertEqual(self.names("pingliang", official="王"), {"王 建军"})
        self.assertEqual(self.names("lanzhou", official="欧阳"), set())     # led by Pingliang
        for bad in ("official=", "official=%20%20", "official=" + urllib.parse.quote("王" * 101)):
            doc = assert_problem(self, self.call("GET", "/api/v1/tasks?" + bad, "office"), 400,
                                 "invalid_parameter")
            self.assertEqual(doc["errors"][0]["parameter"], "official")
            doc = assert_problem(self, self.call("GET", "/api/v1/problems?" + bad, "office"), 400,
                                 "invalid_parameter")
            self.assertEqual(doc["errors"][0]["parameter"], "official")

    def test_export_and_problems(self):
        r = self.call("GET", "/api/v1/tasks/export?format=csv&official=" + urllib.parse.quote("王建"), "office")
        self.assertEqual(r.status, 200, r)
        rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"))))
        self.assertEqual(sorted(x["责任人"] for x in rows), sorted(["王建军", "王 建军", "王建国"]))
        ids = {}
        for code, name in (("O-P1", "李建华"), ("O-P2", "欧阳 李明"), ("O-P3", None)):
            r = self.call("POST", "/api/v1/problems", "office", {
                "campaign_id": self.campaign["id"], "code": code, "title": "问题 " + code,
                "category": "macro_common", "lead_org_id": self.org["620800"], "responsible_name": name})
            self.assertEqual(r.status, 201, r)
            ids[code] = r.json["id"]

        def problems(who="office", **params):
            return {x["id"] for x in self.list("/api/v1/problems", who, limit=500, **params)["items"]}
        self.assertEqual(problems(official="李"), {ids["O-P1"]})
        self.assertEqual(problems(official="欧阳李明"), {ids["O-P2"]})
        self.assertEqual(problems(official="李明"), set())
        self.assertEqual(problems(official="王伟"), {self.problem["id"], self.problem2["id"],
                                                     self.p["id"]})               # make_problem's official
        self.assertEqual(problems("chengguan", official="李"), set())        # a Pingliang problem
        self.assertEqual(problems("pingliang", official="李"), {ids["O-P1"]})
        r = self.call("GET", "/api/v1/problems/export?format=csv&official=" + urllib.parse.quote("欧阳"), "office")
        self.assertEqual(r.status, 200, r)
        rows = list(csv.DictReader(io.StringIO(r.body.decode("utf-8-sig"))))
        self.assertEqual([x["编号"] for x in rows], ["O-P2"])

    def test_index_condition_under_rls(self):
        # As the api role (row-level security applies): the filter is an index
        # condition of tasks_official_key_idx / problems_official_key_idx.
        for table in ("tasks", "problems"):
            plan = self.sql(
                "SET enable_seqscan = off; SET enable_bitmapscan = off; SET role rectify_api;"
                " SELECT set_config('rectify.scope_key', '0', false);"
                " EXPLAIN SELECT id FROM %s t WHERE t.official_key >= rectify.official_key('王')"
                " AND t.official_key < rectify.official_key('王') || chr(1114111)" % table)
            self.assertIn("%s_official_key_idx" % table, plan)
            self.assertIn("Index Cond: ((official_key >=", plan)


class ProblemLists(Ledger):
    """GET /problems: visibility (0035: lead org subtree, regions concerned,
    through a visible task) under every filter, incl. q= and region= (SECURITY
    DEFINER functions returning ids) and the search's two strategies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

        def problem(code, title, lead, regions, deadline):
            r = cls.call("POST", "/api/v1/problems", "office", {
                "campaign_id": cls.campaign["id"], "code": code, "title": title,
                "category": "local_specific", "lead_org_id": cls.org[lead],
                "region_org_ids": [cls.org[x] for x in regions], "deadline": deadline})
            assert r.status == 201, r
            return r.json["id"]
        cls.a = problem("PL-A", "七里河区尾矿库渗漏", "620103", ["620800"], "2026-06-30")
        cls.b = problem("PL-B", "崆峒区尾矿库整治", "620800", ["620103"], "2027-03-31")
        cls.c = problem("PL-C", "林草尾矿库生态修复", "GS-FG", [], None)
        cls.d = problem("PL-D", "城关区餐饮油烟", "620102", [], "2025-12-31")
        # Pingliang and the environment department (acceptance) see C through its task.
        cls.make_task(lead="620800", problem={"id": cls.c}, acceptance_org_ids=[cls.org["GS-EE"]])

    def pids(self, who="office", **params):
        ours = {self.problem["id"], self.problem2["id"], self.a, self.b, self.c, self.d}
        return {x["id"] for x in self.list("/api/v1/problems", who, limit=500, **params)["items"]} & ours

    def test_visibility_under_filters(self):
        p1, p2, a, b, c, d = self.problem["id"], self.problem2["id"], self.a, self.b, self.c, self.d
        seen = {
            "office": {p1, p2, a, b, c, d},
            "chengguan": {p1, d},                 # p1: region concerned; d: lead
            "lanzhou": {p1, a, d},                # its subtree leads them
            "qilihe": {a, b},                     # a: lead; b: region concerned
            "pingliang": {a, b, c},               # a: region; b: lead; c: its task
            "ee_dept": {p2, c},                   # p2: lead; c: acceptance org of its task
            "forestry": {c},
        }
        for who, want in seen.items():
            self.assertEqual(self.pids(who), want, who)
            self.assertEqual(self.pids(who, q="尾矿库"), want & {a, b, c}, who)
            self.assertEqual(self.pids(who, q="尾矿库", sort="-updated_at", status="pending,in_progress"),
                             want & {a, b, c}, who)
            self.assertEqual(self.pids(who, region=self.org["620103"]), want & {b}, who)
            self.assertEqual(self.pids(who, region=self.org["620800"]), want & {a}, who)
            self.assertEqual(self.pids(who, lead_org=self.org["620100"]), want & {p1, a, d}, who)
            self.assertEqual(self.pids(who, status="pending"), want, who)          # no task started
            for pid in {p1, p2, a, b, c, d}:
                r = self.call("GET", "/api/v1/problems/%d" % pid, who)
                self.assertEqual(r.status, 200 if pid in want else 404, (who, pid))

    def test_filters(self):
        p1, p2, a, b, c, d = self.problem["id"], self.problem2["id"], self.a, self.b, self.c, self.d
        self.assertEqual(self.pids(due_before="2026-06-30"), {a, d})
        self.assertEqual(self.pids(due_after="2026-07-01"), {p1, p2, b})      # make_problem: 2026-12-31
        self.assertEqual(self.pids(due_after="2026-01-01", due_before="2026-12-31"), {p1, p2, a})
        self.assertEqual(self.pids(q="尾矿库", region=self.org["620103"]), {b})
        self.assertEqual(self.pids(q="PL-"), {a, b, c, d})
        self.assertEqual(self.pids(q="pl-a"), {a})                              # case-insensitive
        self.assertEqual(self.pids(q="100%"), set())
        self.assertEqual(self.pids(status="in_progress"), set())
        self.assertEqual(self.pids(status="pending,in_progress"), {p1, p2, a, b, c, d})
        self.assertEqual(self.pids(campaign=self.campaign["id"], q="尾矿库", lead_org=self.org["620800"]), {b})
        got, cursor = [], None
        while True:
            params = {"q": "尾矿库", "sort": "-code", "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = self.list("/api/v1/problems", **params)
            got += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(got, [c, b, a])


class SearchStrategies(Ledger):
    """q= over more rows than the bounded walk reads (tasks.c TASK_LIST_Q,
    2000): a common term is found by walking the order, a rare one through
    the trigram search; both give the same pages as for a caller that always
    uses the search (a county)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 2 400 tasks of Chengguan in deadline order; every 40th says 常见词,
        # only the last one says 罕见词 (beyond the walk's 2000 rows).
        cls.sql(
            "INSERT INTO tasks (campaign_id, problem_id, code, title, owner_org_id, deadline)"
            " SELECT %d, %d, 'S-' || g, CASE WHEN g = 2400 THEN '罕见词任务'"
            "   WHEN g %% 40 = 0 THEN '常见词任务 ' || g ELSE '批量任务 ' || g END, %d,"
            "   DATE '2030-01-01' + g FROM generate_series(1, 2400) AS g"
            % (cls.campaign["id"], cls.problem["id"], cls.org["620102"]))
        cls.sql("ANALYZE tasks")

    def pages(self, who, **params):
        got, cursor = [], None
        while True:
            q = dict(params, limit=25)
            if cursor:
                q["cursor"] = cursor
            page = self.list("/api/v1/tasks", who, **q)
            got += [x["code"] for x in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return got

    def test_common_and_rare_terms(self):
        common = ["S-%d" % g for g in range(40, 2400, 40)]      # S-2400 is the rare one
        self.assertEqual(self.pages("office", q="常见词"), common)
        self.assertEqual(self.pages("chengguan", q="常见词"), common)
        self.assertEqual(self.pages("office", q="常见词", sort="-deadline"), common[::-1])
        self.assertEqual(self.pages("office", q="罕见词"), ["S-2400"])
        self.assertEqual(self.pages("chengguan", q="罕见词"), ["S-2400"])
        self.assertEqual(self.pages("office", q="罕见词", sort="code"), ["S-2400"])
        self.assertEqual(self.pages("office", q="任务 7", sort="code"),
                         sorted("S-%d" % g for g in range(1, 2400) if str(g).startswith("7")))
        self.assertEqual(self.pages("pingliang", q="常见词"), [])


if __name__ == "__main__":
    harness.main()
