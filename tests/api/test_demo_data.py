"""The demo data of scripts/seed-demo (users + sql/seed/demo_ledger.sql): run
twice against a fresh database, it loads the demo ledger once — the campaign,
25 problems, 87 tasks in every status and every warning level, reports,
extensions, re-opened tasks — and the demo accounts see it through the API."""
import os
import subprocess
import urllib.parse

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PASSWORD = "Demo-Passw0rd-2026"
STATUSES = {"pending", "in_progress", "completed", "acceptance_requested", "acceptance_review",
            "approved", "announced", "closed"}


class DemoData(harness.ServiceTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()            # fresh, migrated database + service
        cls.runs = [cls.seed() for _ in range(2)]

    @classmethod
    def seed(cls):
        env = dict(os.environ, RECTIFY_DATABASE_URL=cls.db_url, RECTIFY_BIN=harness.BIN,
                   RECTIFY_DEMO_PASSWORD=DEMO_PASSWORD)
        env.pop("RECTIFY_DEMO_LEDGER", None)
        p = subprocess.run([os.path.join(ROOT, "scripts", "seed-demo")], env=env,
                           capture_output=True, text=True, timeout=120 * harness.SLOW)
        if p.returncode != 0:
            raise RuntimeError("seed-demo failed:\n%s\n%s" % (p.stdout, p.stderr))
        return p.stderr, cls.counts()

    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    @classmethod
    def counts(cls):
        return {t: int(cls.sql("SELECT count(*) FROM %s" % t))
                for t in ("users", "campaigns", "problems", "tasks", "task_transitions",
                          "task_reports", "task_extensions", "audit_log")}

    def call(self, who, path):
        token = self.svc.login(who, DEMO_PASSWORD)
        r = self.svc.get(path, token=token)
        self.assertEqual(r.status, 200, r)
        return r.json

    def campaign_id(self):
        return int(self.sql("SELECT id FROM campaigns WHERE name = '中央第三轮生态环境保护督察 甘肃'"))

    def test_second_run_changes_nothing(self):
        (first_log, first), (second_log, second) = self.runs
        self.assertIn("demo ledger: loaded", first_log)
        self.assertIn("already loaded", second_log)
        self.assertEqual(first, second)

    def test_counts(self):
        c = self.runs[1][1]
        self.assertEqual(c["campaigns"], 1)
        self.assertEqual(c["problems"], 25)
        self.assertEqual(c["tasks"], 87)
        self.assertGreater(c["task_reports"], 150)
        self.assertGreater(c["task_transitions"], 100)
        row = self.sql("SELECT round, stay_start, stay_end, feedback_date FROM campaigns")
        self.assertEqual(row, "3|2023-11-22|2023-12-22|2024-02-28")
        cats = set(self.sql("SELECT DISTINCT category FROM problems").split())
        self.assertEqual(cats, {"macro_common", "provincial_sector", "local_specific"})
        sources = set(self.sql("SELECT DISTINCT source FROM problems").split())
        self.assertEqual(sources, {"report", "warning_film", "clue_transfer"})
        ext = dict(x.split("|") for x in self.sql(
            "SELECT status, count(*) FROM task_extensions GROUP BY 1").splitlines())
        self.assertGreaterEqual(int(ext["approved"]), 2)
        self.assertGreaterEqual(int(ext["requested"]), 1)
        self.assertGreaterEqual(int(self.sql("SELECT count(*) FROM tasks WHERE reopened")), 2)
        kinds = set(self.sql("SELECT DISTINCT deadline_kind FROM tasks").split())
        self.assertEqual(kinds, {"date", "immediate_then_ongoing", "ongoing"})
        # spread over prefectures, counties and provincial departments
        kinds = set(self.sql("SELECT DISTINCT o.kind FROM tasks t JOIN orgs o ON o.id = t.owner_org_id").split())
        self.assertTrue({"prefecture", "county", "department"} <= kinds, kinds)
        self.assertGreaterEqual(int(self.sql(
            "SELECT count(DISTINCT split_part(o.path::text, '.', 2)) FROM tasks t JOIN orgs o"
            " ON o.id = t.owner_org_id WHERE o.kind IN ('prefecture', 'county')")), 12)
        # the report of a task carries its percent
        self.assertEqual(self.sql(
            "SELECT count(*) FROM tasks t WHERE t.last_reported_at IS NOT NULL AND t.percent <> "
            " (SELECT r.percent FROM task_reports r WHERE r.task_id = t.id ORDER BY r.created_at DESC, r.id DESC LIMIT 1)"),
            "0")

    def test_dispatch_and_supervision(self):
        rounds = self.call("office", "/api/v1/dispatch-rounds?limit=500")["items"]
        self.assertGreaterEqual(len(rounds), 3)
        self.assertEqual({r["status"] for r in rounds}, {"open", "closed"})
        closed = [r for r in rounds if r["status"] == "closed"][0]
        board = self.call("office", "/api/v1/dispatch-rounds/%d/board" % closed["id"])
        t = board["totals"]
        self.assertTrue(t["on_time"] and t["late"] and t["missing"], t)
        sups = self.call("office", "/api/v1/supervisions?limit=500")["items"]
        self.assertEqual({s["kind"] for s in sups}, {"reminder", "notice", "interview", "listed", "onsite"})
        self.assertTrue({"proposed", "issued", "signed", "responded", "closed"} <= {s["status"] for s in sups})
        self.assertEqual(self.sql("SELECT count(*) FROM dispatch_schedules"), "1")

    def test_office_sees_every_status_and_warning_level(self):
        cid = self.campaign_id()
        page = self.call("office", "/api/v1/tasks?campaign=%d&limit=500" % cid)
        items = page["items"]
        self.assertEqual(len(items), 87)
        self.assertIsNone(page["next_cursor"])
        self.assertEqual({t["status"] for t in items}, STATUSES)
        levels = {}
        for t in items:
            levels[t["warning"]] = levels.get(t["warning"], 0) + 1
        self.assertEqual(set(levels), {"red", "yellow", "green"})
        for level, n in levels.items():
            got = self.call("office", "/api/v1/tasks?campaign=%d&warning=%s&limit=500" % (cid, level))
            self.assertEqual(len(got["items"]), n, level)
        self.assertTrue(any(t["overdue"] for t in items))
        self.assertTrue(any(t["reopened"] for t in items))
        self.assertTrue(any(t["extended_deadline"] for t in items))
        problems = self.call("office", "/api/v1/problems?campaign=%d&limit=500" % cid)["items"]
        self.assertEqual(len(problems), 25)
        one = [t for t in items if t["code"] == "10-1"][0]
        detail = self.call("office", "/api/v1/tasks/%d" % one["id"])
        self.assertEqual(detail["lead_org"]["code"], "620102")
        self.assertEqual(detail["transitions"][0]["action"], "start")
        reports = self.call("office", "/api/v1/tasks/%d/reports" % one["id"])["items"]
        self.assertGreaterEqual(len(reports), 1)
        self.assertEqual(reports[0]["percent"], detail["percent"])
        found = self.call("office", "/api/v1/tasks?" + urllib.parse.urlencode({"q": "尾矿库", "limit": 500}))
        self.assertGreaterEqual(len(found["items"]), 3)

    def test_demo_units_see_their_tasks(self):
        cid = self.campaign_id()
        mine = self.call("chengguan", "/api/v1/tasks?campaign=%d&limit=500" % cid)["items"]
        self.assertGreaterEqual(len(mine), 4)
        self.assertEqual({t["lead_org"]["code"] for t in mine}, {"620102"})
        lanzhou = self.call("lanzhou", "/api/v1/tasks?campaign=%d&limit=500" % cid)["items"]
        self.assertGreater(len(lanzhou), len(mine))
        self.assertTrue(all(t["lead_org"]["code"].startswith("6201") for t in lanzhou))
        self.assertGreaterEqual(len(self.call("pingliang", "/api/v1/tasks?campaign=%d&limit=500" % cid)["items"]), 3)
        ee = self.call("ee_dept", "/api/v1/tasks?campaign=%d&limit=500" % cid)["items"]
        ee_id = int(self.sql("SELECT id FROM orgs WHERE code = 'GS-EE'"))
        self.assertTrue(any(ee_id in t["co_org_ids"] and t["lead_org"]["code"] != "GS-EE" for t in ee))
        self.assertTrue(any(ee_id in t["acceptance_org_ids"] and t["lead_org"]["code"] != "GS-EE" for t in ee))


    def test_acceptance_records(self):
        """demo_acceptance.sql: every stage of 验收销号 is on show."""
        stages = set(self.sql("SELECT DISTINCT status FROM acceptance_requests").split())
        self.assertEqual(stages, {"awaiting_check", "awaiting_opinions", "awaiting_approval", "rejected",
                                  "approved"})
        self.assertEqual(set(self.sql("SELECT DISTINCT status FROM objections").split()), {"received", "dismissed"})
        self.assertEqual(set(self.sql("SELECT DISTINCT result FROM spot_check_items").split()),
                         {"pending", "consolidated", "rebounded"})
        tid = int(self.sql("SELECT id FROM tasks WHERE code = '11-4'"))
        d = self.call("office", "/api/v1/tasks/%d/acceptance" % tid)
        self.assertEqual(d["rejected_count"], 1)
        self.assertEqual([q["status"] for q in d["requests"]], ["rejected", "approved"])
        # one opinion of two is in on 17-3: the missing one is GS-EE's, which ee_dept gives
        tid = int(self.sql("SELECT id FROM tasks WHERE code = '17-3'"))
        d = self.call("ee_dept", "/api/v1/tasks/%d/acceptance" % tid)
        self.assertEqual([o["code"] for o in d["requests"][0]["missing_opinions"]], ["GS-EE"])
        pub = self.svc.get("/public/v1/announcements")
        self.assertEqual(pub.status, 200, pub)
        self.assertEqual([a["status"] for a in pub.json["items"]], ["published", "finished"])


if __name__ == "__main__":
    harness.main()
