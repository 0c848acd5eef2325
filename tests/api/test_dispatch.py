"""Dispatch rounds (清单化调度): a round over 20 open tasks of three counties,
answered partly on time, partly late and partly not; the inbox, the board,
the item list and the 调度表 export; scope kinds; recurring rounds opened by
rectify.dispatch_open_due(); every error; org scoping and the audit trail —
against the real service."""
import csv
import datetime
import io
import time
import urllib.parse

import harness
from harness import assert_problem


def later(hours):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return t.replace(microsecond=0).isoformat()


class DispatchBase(harness.ServiceTestCase):
    """A campaign with two problems and open tasks led by 620102 (8), 620103
    (7) and 620800 (5), plus a completed task (never an item)."""

    users = {
        "office": ("GS-OFFICE", ["office"]),
        "leader": ("GS-LG", ["leader"]),
        "viewer1": ("620000", ["viewer"]),
        "lanzhou": ("620100", ["unit"]),
        "chengguan": ("620102", ["unit"]),
        "qilihe": ("620103", ["unit"]),
        "pingliang": ("620800", ["unit"]),
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, (org, roles) in cls.users.items():
            harness.create_user(cls.db_url, name, org, roles)
        cls.tok = {name: cls.svc.login(name) for name in cls.users}
        cls.org = {code: int(cls.sql("SELECT id FROM orgs WHERE code = '%s'" % code))
                   for code in ("620000", "620100", "620102", "620103", "620800", "GS-EE")}
        r = cls.call("POST", "/api/v1/campaigns", "office", {
            "name": "第三轮督察整改", "round": 3, "province_org_id": cls.org["620000"]})
        assert r.status == 201, r
        cls.campaign = r.json
        cls.problems = [cls.make_problem(str(n)) for n in (1, 2)]
        cls.tasks = {"620102": [], "620103": [], "620800": []}
        n = 0
        for org, count in (("620102", 8), ("620103", 7), ("620800", 5)):
            for _ in range(count):
                n += 1
                cls.tasks[org].append(cls.make_task(org, cls.problems[n % 2], n))
        done = cls.make_task("620102", cls.problems[0], 99)
        for action in ("start", "complete"):
            v = cls.call("GET", "/api/v1/tasks/%d" % done["id"], "office").json["version"]
            r = cls.call("POST", "/api/v1/tasks/%d/transitions" % done["id"], "office",
                         {"action": action}, headers={"If-Match": '"%d"' % v})
            assert r.status == 200, r
        cls.done = done

    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    @classmethod
    def call(cls, method, path, who, body=None, headers=None):
        return cls.svc.request(method, path, body=body, headers=headers,
                               token=cls.tok[who] if who else None)

    @classmethod
    def make_problem(cls, code):
        r = cls.call("POST", "/api/v1/problems", "office", {
            "campaign_id": cls.campaign["id"], "code": code, "title": "问题 " + code,
            "category": "local_specific", "lead_org_id": cls.org["620100"]})
        assert r.status == 201, r
        return r.json

    @classmethod
    def make_task(cls, org, problem, n):
        r = cls.call("POST", "/api/v1/tasks", "office", {
            "problem_id": problem["id"], "code": "T-%03d" % n, "title": "整改任务 %d" % n,
            "measures": ["制定方案"], "lead_org_id": cls.org[org], "responsible_name": "张三",
            "responsible_post": "区长", "deadline": "2027-06-30"})
        assert r.status == 201, r
        return r.json

    @classmethod
    def open_round(cls, who="office", **over):
        body = {"campaign_id": cls.campaign["id"], "name": "2026年11月整改进展调度",
                "period": "2026-11", "due_at": later(2), "scope": {"kind": "all_open"},
                "requirements": "报送本月整改进展、完成百分比和佐证材料"}
        body.update(over)
        return cls.call("POST", "/api/v1/dispatch-rounds", who, body)

    def answer(self, task, who, round_id, percent=50):
        return self.call("POST", "/api/v1/tasks/%d/reports" % task["id"], who, {
            "period": "2026-11", "narrative": "本月完成现场核查", "percent": percent,
            "round_id": round_id})

    def get(self, path, who="office", **params):
        r = self.call("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""), who)
        self.assertEqual(r.status, 200, r)
        return r.json

    def count(self, table):
        return int(self.sql("SELECT count(*) FROM %s" % table))


class Rounds(DispatchBase):

    def test_round_answered_on_time_late_and_not(self):
        r = self.open_round(name="主流程调度")
        self.assertEqual(r.status, 201, r)
        rd = r.json
        self.assertEqual(r.header("location"), "/api/v1/dispatch-rounds/%d" % rd["id"])
        self.assertEqual(r.header("etag"), '"1"')
        self.assertEqual(rd["status"], "open")
        self.assertEqual(rd["counts"], {"items": 20, "on_time": 0, "late": 0, "pending": 20,
                                        "missing": 0})

        # Each unit's inbox lists what it owes, soonest first; a parent org sees its subtree.
        inbox = self.get("/api/v1/me/inbox", "chengguan")
        mine = [i for i in inbox["dispatch_items"] if i["round"]["id"] == rd["id"]]
        self.assertEqual(len(mine), 8)
        self.assertEqual(mine[0]["state"], "pending")
        self.assertEqual(mine[0]["round"]["requirements"], "报送本月整改进展、完成百分比和佐证材料")
        self.assertEqual({i["org"]["code"] for i in mine}, {"620102"})
        lz = [i for i in self.get("/api/v1/me/inbox", "lanzhou")["dispatch_items"]
              if i["round"]["id"] == rd["id"]]
        self.assertEqual(len(lz), 15)

        # On time: 6 of 620102, 3 of 620103.
        for t in self.tasks["620102"][:6]:
            r = self.answer(t, "chengguan", rd["id"])
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["round_id"], rd["id"])
        for t in self.tasks["620103"][:3]:
            self.assertEqual(self.answer(t, "qilihe", rd["id"]).status, 201)
        # A second answer does not count twice.
        self.assertEqual(self.answer(self.tasks["620102"][0], "chengguan", rd["id"], 60).status, 201)
        self.assertEqual(len([i for i in self.get("/api/v1/me/inbox", "chengguan")["dispatch_items"]
                              if i["round"]["id"] == rd["id"]]), 2)

        # The due time passes; 620103 answers two more, late; 620800 never answers.
        self.sql("UPDATE dispatch_rounds SET due_at = (SELECT max(reported_at) FROM dispatch_items"
                 " WHERE round_id = %d) + interval '1 millisecond' WHERE id = %d" % (rd["id"], rd["id"]))
        for t in self.tasks["620103"][3:5]:
            self.assertEqual(self.answer(t, "qilihe", rd["id"]).status, 201)

        board = self.get("/api/v1/dispatch-rounds/%d/board" % rd["id"])
        tot = board["totals"]
        self.assertEqual((tot["items"], tot["on_time"], tot["late"], tot["missing"], tot["pending"]),
                         (20, 9, 2, 9, 0))
        self.assertEqual((tot["on_time_pct"], tot["late_pct"], tot["missing_pct"], tot["reported_pct"]),
                         (45.0, 10.0, 45.0, 55.0))
        orgs = {o["org"]["code"]: o for o in board["orgs"]}
        self.assertEqual([o["org"]["code"] for o in board["orgs"]], ["620102", "620103", "620800"])
        self.assertEqual((orgs["620102"]["on_time"], orgs["620102"]["missing"]), (6, 2))
        self.assertEqual((orgs["620103"]["on_time"], orgs["620103"]["late"], orgs["620103"]["missing"]),
                         (3, 2, 2))
        self.assertEqual((orgs["620800"]["missing"], orgs["620800"]["missing_pct"]), (5, 100.0))
        self.assertEqual(board["round"]["counts"]["late"], 2)

        # Items, filtered and paged.
        late = self.get("/api/v1/dispatch-rounds/%d/items" % rd["id"], state="late")["items"]
        self.assertEqual(sorted(i["task"]["id"] for i in late),
                         sorted(t["id"] for t in self.tasks["620103"][3:5]))
        self.assertTrue(all(i["report_id"] and i["reported_at"] for i in late))
        first = self.get("/api/v1/dispatch-rounds/%d/items" % rd["id"], limit=15)
        self.assertEqual(len(first["items"]), 15)
        rest = self.get("/api/v1/dispatch-rounds/%d/items" % rd["id"], limit=15,
                        cursor=first["next_cursor"])
        self.assertEqual(len(rest["items"]), 5)
        self.assertIsNone(rest["next_cursor"])
        again = [i for i in first["items"] if i["task"]["id"] == self.tasks["620102"][0]["id"]]
        self.assertEqual(again[0]["answers"], 2)
        pl = self.get("/api/v1/dispatch-rounds/%d/items" % rd["id"], org=self.org["620800"])
        self.assertEqual({i["state"] for i in pl["items"]}, {"missing"})

        # Scoping: a county sees its own items on the board, nothing of the others.
        qb = self.get("/api/v1/dispatch-rounds/%d/board" % rd["id"], "qilihe")
        self.assertEqual(qb["totals"]["items"], 7)
        self.assertEqual([o["org"]["code"] for o in qb["orgs"]], ["620103"])
        qi = self.get("/api/v1/dispatch-rounds/%d/items" % rd["id"], "qilihe", limit=500)
        self.assertEqual({i["org"]["code"] for i in qi["items"]}, {"620103"})

        # The 调度表 as CSV: Chinese headers, one row per item, by org code.
        r = self.call("GET", "/api/v1/dispatch-rounds/%d/export?format=csv" % rd["id"], "office")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("text/csv"))
        self.assertIn("filename*=UTF-8''", r.header("content-disposition"))
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        self.assertEqual(rows[0], ["单位代码", "牵头单位", "任务编号", "任务名称", "责任人",
                                   "报送截止时间", "报送情况", "报送时间", "报送进度(%)",
                                   "报送内容", "报送次数"])
        self.assertEqual(len(rows), 21)
        self.assertEqual([x[0] for x in rows[1:]], sorted(x[0] for x in rows[1:]))
        states = [x[6] for x in rows[1:]]
        self.assertEqual((states.count("按时报送"), states.count("逾期报送"), states.count("未报送")),
                         (9, 2, 9))
        # XLSX, and a unit's export holds only its own items.
        r = self.call("GET", "/api/v1/dispatch-rounds/%d/export" % rd["id"], "office",
                      headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body[:2], b"PK")
        r = self.call("GET", "/api/v1/dispatch-rounds/%d/export?format=csv" % rd["id"], "pingliang")
        self.assertEqual(len(list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))), 6)

        # Closing: If-Match, then answers are refused with 409 and nothing is written.
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "office",
                      {"action": "close"}, headers={"If-Match": '"9"'})
        assert_problem(self, r, 412, "precondition_failed")
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "office",
                      {"action": "close"})
        assert_problem(self, r, 428, "precondition_required")
        v = self.get("/api/v1/dispatch-rounds/%d" % rd["id"])["version"]
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "office",
                      {"action": "close"}, headers={"If-Match": '"%d"' % v})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "closed")
        self.assertEqual(r.header("etag"), '"%d"' % (v + 1))
        reports = self.count("task_reports")
        r = self.answer(self.tasks["620800"][0], "pingliang", rd["id"])
        assert_problem(self, r, 409, "round_closed")
        self.assertEqual(self.count("task_reports"), reports)
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "office",
                      {"action": "close"}, headers={"If-Match": '"%d"' % (v + 1)})
        assert_problem(self, r, 409, "invalid_transition")
        self.assertEqual([i for i in self.get("/api/v1/me/inbox", "pingliang")["dispatch_items"]
                          if i["round"]["id"] == rd["id"]], [])
        board = self.get("/api/v1/dispatch-rounds/%d/board" % rd["id"])
        self.assertEqual(board["totals"]["missing"], 9)

        # Lists.
        closed = self.get("/api/v1/dispatch-rounds", status="closed",
                          campaign=self.campaign["id"])["items"]
        self.assertIn(rd["id"], [x["id"] for x in closed])
        self.assertNotIn(rd["id"], [x["id"] for x in
                                    self.get("/api/v1/dispatch-rounds", status="open")["items"]])

        # Audit: the round, its items and the answers.
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'dispatch_rounds'"
                                  " AND row_id = '%d'" % rd["id"]), "3")   # open, due time, close
        self.assertEqual(int(self.sql(
            "SELECT count(DISTINCT row_id) FROM audit_log WHERE table_name = 'dispatch_items'"
            " AND row_id IN (SELECT id::text FROM dispatch_items WHERE round_id = %d)" % rd["id"])), 20)
        self.assertEqual(self.sql(
            "SELECT count(*) FROM audit_log WHERE table_name = 'dispatch_items' AND action = 'update'"
            " AND row_id IN (SELECT id::text FROM dispatch_items WHERE round_id = %d)" % rd["id"]), "12")

    def test_scope_kinds(self):
        r = self.open_round(name="兰州市调度", scope={"kind": "orgs", "org_ids": [self.org["620100"]]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["counts"]["items"], 15)           # the subtree of 620100
        r = self.open_round(name="问题1调度", scope={"kind": "problems",
                                                  "problem_ids": [self.problems[1]["id"]]})
        self.assertEqual(r.status, 201, r)
        items = self.get("/api/v1/dispatch-rounds/%d/items" % r.json["id"], limit=500)["items"]
        self.assertEqual(len(items), 10)
        self.assertNotIn(self.done["id"], [i["task"]["id"] for i in items])
        # The list is fixed when the round opens: a later task is not added.
        self.make_task("620800", self.problems[1], 50)
        self.assertEqual(self.get("/api/v1/dispatch-rounds/%d" % r.json["id"])["counts"]["items"], 10)
        # A ten-day period.
        r = self.open_round(name="旬调度", period="2026-11上旬")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["period"], "2026-11上旬")

    def test_open_errors_write_nothing(self):
        before = (self.count("dispatch_rounds"), self.count("dispatch_items"))
        self.assertEqual(self.open_round(who=None).status, 401)
        for who in ("chengguan", "leader", "viewer1"):
            assert_problem(self, self.open_round(who=who), 403, "forbidden")
        cases = [
            ({"period": "2026-13"}, "/period"),
            ({"period": "2026-11旬"}, "/period"),
            ({"due_at": "2026-11-25"}, "/due_at"),
            ({"due_at": "2026-11-25T18:00:00"}, "/due_at"),
            ({"name": "  "}, "/name"),
            ({"scope": {"kind": "some"}}, "/scope/kind"),
            ({"scope": {"kind": "orgs"}}, "/scope/org_ids"),
            ({"scope": {"kind": "all_open", "problem_ids": [1]}}, "/scope/problem_ids"),
            ({"scope": {"kind": "orgs", "org_ids": [1, 1]}}, "/scope/org_ids/1"),
            ({"scope": {"kind": "all_open", "extra": 1}}, "/scope/extra"),
            ({"scope": []}, "/scope"),
            ({"requirements": None}, "/requirements"),
        ]
        for over, pointer in cases:
            r = self.open_round(**over)
            doc = assert_problem(self, r, 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], (over, doc))
        r = self.call("POST", "/api/v1/dispatch-rounds", "office", {"name": "x"})
        self.assertEqual(r.status, 422)
        # Rules of the database.
        assert_problem(self, self.open_round(due_at=later(-1)), 422, "validation_failed")
        assert_problem(self, self.open_round(campaign_id=999999), 422, "validation_failed")
        assert_problem(self, self.open_round(scope={"kind": "orgs", "org_ids": [999999]}), 422,
                       "validation_failed")
        r = self.call("POST", "/api/v1/campaigns", "office", {
            "name": "另一轮", "round": 2, "province_org_id": self.org["620000"]})
        other = r.json
        assert_problem(self, self.open_round(scope={"kind": "problems", "problem_ids": [999999]}),
                       422, "validation_failed")
        assert_problem(self, self.open_round(campaign_id=other["id"]), 422, "empty_scope")
        assert_problem(self, self.open_round(scope={"kind": "orgs", "org_ids": [self.org["GS-EE"]]}),
                       422, "empty_scope")
        self.assertEqual((self.count("dispatch_rounds"), self.count("dispatch_items")), before)
        # The same name in the same period twice.
        self.assertEqual(self.open_round(name="重复调度").status, 201)
        assert_problem(self, self.open_round(name="重复调度"), 409, "conflict")

    def test_answer_errors_and_not_found(self):
        rd = self.open_round(name="报送校验", scope={"kind": "orgs", "org_ids": [self.org["620800"]]}).json
        reports = self.count("task_reports")
        # A task that is not an item of the round; a round that does not exist.
        doc = assert_problem(self, self.answer(self.tasks["620102"][0], "chengguan", rd["id"]), 422,
                             "validation_failed")
        self.assertEqual(self.count("task_reports"), reports)
        assert_problem(self, self.answer(self.tasks["620800"][0], "pingliang", 999999), 422,
                       "invalid_reference")
        doc = assert_problem(self, self.answer(self.tasks["620800"][0], "pingliang", "x"), 422,
                             "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/round_id")
        # Another org's task: the report resource answers 404 as before.
        assert_problem(self, self.answer(self.tasks["620800"][0], "chengguan", rd["id"]), 404,
                       "not_found")
        self.assertEqual(self.count("task_reports"), reports)
        for path in ("/api/v1/dispatch-rounds/999999", "/api/v1/dispatch-rounds/999999/board",
                     "/api/v1/dispatch-rounds/999999/items", "/api/v1/dispatch-rounds/abc",
                     "/api/v1/dispatch-rounds/999999/export"):
            assert_problem(self, self.call("GET", path, "office"), 404, "not_found")
        r = self.call("POST", "/api/v1/dispatch-rounds/999999/transitions", "office",
                      {"action": "close"}, headers={"If-Match": '"1"'})
        assert_problem(self, r, 404, "not_found")
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "office",
                      {"action": "reopen"}, headers={"If-Match": '"1"'})
        assert_problem(self, r, 422, "validation_failed")
        r = self.call("POST", "/api/v1/dispatch-rounds/%d/transitions" % rd["id"], "chengguan",
                      {"action": "close"}, headers={"If-Match": '"1"'})
        assert_problem(self, r, 403, "forbidden")
        for q in ("state=done", "org=x", "limit=0", "cursor=zz"):
            r = self.call("GET", "/api/v1/dispatch-rounds/%d/items?%s" % (rd["id"], q), "office")
            assert_problem(self, r, 400, "invalid_parameter")
        assert_problem(self, self.call("GET", "/api/v1/dispatch-rounds?status=x", "office"), 400,
                       "invalid_parameter")
        r = self.call("GET", "/api/v1/dispatch-rounds/%d/export?format=pdf" % rd["id"], "office")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.call("GET", "/api/v1/me/inbox", None).status, 401)
        self.assertEqual(self.call("GET", "/api/v1/dispatch-rounds", None).status, 401)


class Schedules(DispatchBase):

    def test_recurring_round_opens_once(self):
        body = {"campaign_id": self.campaign["id"], "name": "月度整改进展调度", "day_of_month": 25,
                "due_days": 5, "scope": {"kind": "orgs", "org_ids": [self.org["620800"]]},
                "requirements": "每月25日前报送进展", "first_run_at": later(-1)}
        assert_problem(self, self.call("POST", "/api/v1/dispatch-schedules", "chengguan", body),
                       403, "forbidden")
        r = self.call("POST", "/api/v1/dispatch-schedules", "office", body)
        self.assertEqual(r.status, 201, r)
        sched = r.json
        self.assertTrue(r.header("location").endswith("/dispatch-schedules/%d" % sched["id"]))
        bad = dict(body, day_of_month=31)
        doc = assert_problem(self, self.call("POST", "/api/v1/dispatch-schedules", "office", bad),
                             422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/day_of_month")
        bad = dict(body, scope={"kind": "orgs", "org_ids": [999999]})
        assert_problem(self, self.call("POST", "/api/v1/dispatch-schedules", "office", bad), 422,
                       "validation_failed")
        assert_problem(self, self.call("POST", "/api/v1/dispatch-schedules/open-due", "chengguan"),
                       403, "forbidden")

        r = self.call("POST", "/api/v1/dispatch-schedules/open-due", "office")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"opened": 1})
        # Twice (or by a second instance): nothing more, the schedule moved on.
        self.assertEqual(self.call("POST", "/api/v1/dispatch-schedules/open-due", "office").json,
                         {"opened": 0})
        rounds = [x for x in self.get("/api/v1/dispatch-rounds", limit=500)["items"]
                  if x["schedule_id"] == sched["id"]]
        self.assertEqual(len(rounds), 1)
        self.assertEqual(rounds[0]["counts"]["items"], 5)
        self.assertRegex(rounds[0]["period"], r"^\d{4}-\d{2}$")
        listed = self.get("/api/v1/dispatch-schedules")["items"]
        nxt = [s for s in listed if s["id"] == sched["id"]][0]["next_run_at"]
        self.assertGreater(datetime.datetime.fromisoformat(nxt),
                           datetime.datetime.now(datetime.timezone.utc))
        self.assertIn("-25T09:00:00+08:00", nxt)
        # A schedule has one round per period, whoever runs it again.
        self.sql("UPDATE dispatch_schedules SET next_run_at = now() - interval '1 day' WHERE id = %d"
                 % sched["id"])
        self.assertEqual(self.sql("SELECT rectify.dispatch_open_due()"), "0")
        # Two callers at once (two instances) open a due schedule's round once.
        body2 = dict(body, name="月度调度二", first_run_at=later(-1))
        self.assertEqual(self.call("POST", "/api/v1/dispatch-schedules", "office", body2).status, 201)
        runs = [harness.in_thread(self.call, "POST", "/api/v1/dispatch-schedules/open-due", "office")
                for _ in range(2)]
        for t, _ in runs:
            t.join()
        self.assertEqual(sorted(res[0].json["opened"] for _, res in runs), [0, 1])


class Runner(DispatchBase):
    """The recurring round and the daily scan on the jobs runner of the service."""
    service_env = {"RECTIFY_JOB_POLL_MS": "50"}

    def wait_for(self, fn, timeout=30):
        deadline = time.time() + timeout * harness.SLOW
        while time.time() < deadline:
            got = fn()
            if got:
                return got
            time.sleep(0.2)
        self.fail("timed out")

    def test_runner_opens_rounds_and_scans(self):
        r = self.call("POST", "/api/v1/dispatch-schedules", "office", {
            "campaign_id": self.campaign["id"], "name": "月度调度（自动）", "day_of_month": 1,
            "due_days": 3, "scope": {"kind": "orgs", "org_ids": [self.org["620103"]]},
            "requirements": "报送整改进展", "first_run_at": later(-2)})
        self.assertEqual(r.status, 201, r)
        sched = r.json
        # The job's next occurrence is now (it runs every 10 minutes).
        self.sql("UPDATE job_schedules SET next_run = now() WHERE name = 'dispatch.open_due'")
        rounds = self.wait_for(lambda: [x for x in self.get("/api/v1/dispatch-rounds")["items"]
                                        if x["schedule_id"] == sched["id"]])
        self.assertEqual(len(rounds), 1)
        self.assertEqual(rounds[0]["counts"]["items"], 7)
        self.assertEqual(self.wait_for(lambda: self.sql(
            "SELECT state FROM jobs WHERE kind = 'dispatch.open_due' AND state = 'done' LIMIT 1")), "done")
        self.assertEqual(self.sql("SELECT request_id LIKE 'job-%%' FROM audit_log WHERE table_name ="
                                  " 'dispatch_rounds' AND row_id = '%d' AND action = 'insert'"
                                  % rounds[0]["id"]), "t")
        # The daily escalation scan: a task without a report for 40 days gets its reminder.
        task = self.tasks["620103"][0]
        self.sql("UPDATE tasks SET last_reported_at = now() - interval '40 days' WHERE id = %d" % task["id"])
        self.sql("UPDATE job_schedules SET next_run = now() WHERE name = 'supervision.escalation_scan'")
        rem = self.wait_for(lambda: self.get("/api/v1/supervisions", kind="reminder")["items"])
        self.assertEqual([s["task_ids"] for s in rem], [[task["id"]]])
        # and the schedule moved on to the next 06:00 China time
        self.assertEqual(self.sql("SELECT next_run > now() AND to_char(next_run AT TIME ZONE"
                                  " 'Asia/Shanghai', 'HH24:MI') = '06:00' FROM job_schedules"
                                  " WHERE name = 'supervision.escalation_scan'"), "t")


if __name__ == "__main__":
    harness.main()
