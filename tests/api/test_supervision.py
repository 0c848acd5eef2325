"""Supervision (督办): every kind issued by the office, signed for and answered
by the unit concerned, closed (办结 / 摘牌) by the office; the escalation
rules as data and the scan issuing reminders and proposing a notice that the
office confirms (and an interview after it); lists and filters, a task's
supervision history, every error, org scoping and the audit trail."""
import datetime

import harness
from harness import assert_problem
from test_dispatch import DispatchBase, later

PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
       b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")
TODAY = datetime.date.today()


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


class SupervisionBase(DispatchBase):

    def issue(self, kind="reminder", org="620102", who="office", **over):
        body = {"kind": kind, "org_id": self.org[org], "title": "关于加快整改进度的督办",
                "content": "请于期限内反馈整改情况", "response_due": day(7),
                "task_ids": [self.tasks[org][0]["id"]]}
        body.update(over)
        return self.call("POST", "/api/v1/supervisions", who, body)

    def move(self, sup, action, who="office", version=None, **extra):
        if version is None:
            version = self.get("/api/v1/supervisions/%d" % sup["id"])["version"]
        body = {"action": action}
        body.update(extra)
        return self.call("POST", "/api/v1/supervisions/%d/transitions" % sup["id"], who, body,
                         headers={"If-Match": '"%d"' % version})

    def upload(self, who):
        r = self.svc.post("/api/v1/attachments", body=PDF, token=self.tok[who], headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": 'attachment; filename="evidence.pdf"'})
        self.assertEqual(r.status, 201, r)
        return r.json["id"]


class Supervision(SupervisionBase):

    def test_every_kind_signed_answered_closed(self):
        minutes = self.upload("office")
        kinds = {
            "reminder": {},
            "notice": {"doc_number": "甘整改办通报〔2026〕3号",
                       "circulated_org_ids": [self.org["620100"], self.org["620800"]]},
            "interview": {"interviewee": "城关区区长", "interviewer": "省整改办主任",
                          "interview_date": day(-1), "minutes_attachment_id": minutes},
            "listed": {"removal_conditions": "整改完成并通过验收，群众满意"},
            "onsite": {"onsite_date": day(-2), "onsite_place": "城关区某尾矿库"},
        }
        made = {}
        for kind, extra in kinds.items():
            r = self.issue(kind, **extra)
            self.assertEqual(r.status, 201, (kind, r))
            self.assertEqual(r.header("location"), "/api/v1/supervisions/%d" % r.json["id"])
            self.assertEqual(r.header("etag"), '"1"')
            self.assertEqual((r.json["kind"], r.json["status"]), (kind, "issued"))
            self.assertEqual(r.json["history"][0]["action"], "issue")
            made[kind] = r.json
        self.assertEqual(made["notice"]["doc_number"], "甘整改办通报〔2026〕3号")
        self.assertEqual(made["interview"]["minutes_attachment_id"], minutes)
        # The minutes are readable by the org interviewed, not by another.
        meta = "/api/v1/attachments/%d/meta" % minutes
        self.assertEqual(self.call("GET", meta, "chengguan").status, 200)
        assert_problem(self, self.call("GET", meta, "qilihe"), 404, "not_found")

        # The unit sees them in its inbox, signs for one and answers it with evidence.
        inbox = self.get("/api/v1/me/inbox", "chengguan")["supervisions"]
        self.assertEqual({s["id"] for s in inbox} >= {m["id"] for m in made.values()}, True)
        self.assertEqual({s["next_action"] for s in inbox}, {"sign"})
        lst = made["listed"]
        r = self.move(lst, "respond", "chengguan", response="已整改")
        assert_problem(self, r, 409, "invalid_transition")          # sign first
        r = self.move(lst, "sign", "chengguan")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "signed")
        self.assertIsNotNone(r.json["signed_at"])
        assert_problem(self, self.move(lst, "sign", "chengguan"), 409, "invalid_transition")
        doc = assert_problem(self, self.move(lst, "respond", "chengguan"), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/response")
        doc = assert_problem(self, self.move(lst, "respond", "chengguan", response="x",
                                             attachment_ids=[999999]), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/attachment_ids")
        evidence = self.upload("chengguan")
        r = self.move(lst, "respond", "chengguan", response="尾矿库已完成闭库治理",
                      attachment_ids=[evidence])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["response_attachment_ids"]),
                         ("responded", [evidence]))
        # The office closes it: 摘牌 on a date.
        assert_problem(self, self.move(lst, "close", "chengguan"), 403, "forbidden")
        r = self.move(lst, "close", delisted_on=day(0), comment="整改到位，予以摘牌")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["delisted_on"]), ("closed", day(0)))
        self.assertEqual([h["action"] for h in r.json["history"]],
                         ["issue", "sign", "respond", "close"])
        assert_problem(self, self.move(lst, "close"), 409, "invalid_transition")
        # A parent org's unit may sign for its county; the office may not sign.
        assert_problem(self, self.move(made["onsite"], "sign", "office"), 403, "forbidden")
        self.assertEqual(self.move(made["onsite"], "sign", "lanzhou").status, 200)
        # The office closes a reminder without an answer.
        self.assertEqual(self.move(made["reminder"], "close").status, 200)

        # Another org's supervision does not exist for a unit (404), read or write.
        itv = made["interview"]
        for who in ("qilihe", "pingliang"):
            assert_problem(self, self.call("GET", "/api/v1/supervisions/%d" % itv["id"], who), 404,
                           "not_found")
            assert_problem(self, self.move(itv, "sign", who, version=1), 404, "not_found")
        # A notice is also visible to the orgs it is circulated to, read-only.
        nt = made["notice"]
        self.assertEqual(self.call("GET", "/api/v1/supervisions/%d" % nt["id"], "pingliang").status, 200)
        assert_problem(self, self.move(nt, "sign", "pingliang"), 403, "forbidden")
        assert_problem(self, self.move(nt, "sign", "viewer1"), 403, "forbidden")
        # Stale If-Match, missing If-Match, unknown action, field of another action.
        assert_problem(self, self.move(nt, "sign", "chengguan", version=7), 412, "precondition_failed")
        r = self.call("POST", "/api/v1/supervisions/%d/transitions" % nt["id"], "chengguan",
                      {"action": "sign"})
        assert_problem(self, r, 428, "precondition_required")
        assert_problem(self, self.move(nt, "approve", "chengguan"), 422, "validation_failed")
        doc = assert_problem(self, self.move(nt, "sign", "chengguan", delisted_on=day(0)), 422,
                             "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/delisted_on")
        assert_problem(self, self.move({"id": 999999}, "sign", "chengguan", version=1), 404,
                       "not_found")

        # The task's supervision history, and the lists' filters.
        task = self.tasks["620102"][0]
        hist = self.get("/api/v1/tasks/%d/supervisions" % task["id"], "chengguan")["items"]
        self.assertEqual({h["kind"] for h in hist}, set(kinds))
        assert_problem(self, self.call("GET", "/api/v1/tasks/%d/supervisions" % task["id"], "qilihe"),
                       404, "not_found")
        ids = lambda **q: [s["id"] for s in self.get("/api/v1/supervisions", limit=500, **q)["items"]]
        self.assertEqual(ids(kind="listed", status="closed"), [lst["id"]])
        self.assertIn(made["onsite"]["id"], ids(status="signed,responded"))
        self.assertNotIn(lst["id"], ids(status="issued"))
        self.assertIn(itv["id"], ids(task=task["id"], org=self.org["620100"]))
        self.assertEqual(ids(org=self.org["620800"]), [])
        self.assertEqual(ids(kind="interview"), [itv["id"]])
        self.assertNotIn(itv["id"], [s["id"] for s in
                                     self.get("/api/v1/supervisions", "qilihe", limit=500)["items"]])
        # overdue: past the response deadline and not yet answered.
        self.sql("UPDATE supervisions SET response_due = current_date - 1 WHERE id = %d" % itv["id"])
        self.assertEqual(ids(overdue="true"), [itv["id"]])
        self.assertNotIn(itv["id"], ids(overdue="false"))
        self.assertTrue(self.get("/api/v1/supervisions/%d" % itv["id"])["overdue"])
        page = self.get("/api/v1/supervisions", limit=2)
        nxt = self.get("/api/v1/supervisions", limit=2, cursor=page["next_cursor"])
        self.assertEqual(len(page["items"]) + len(nxt["items"]), 4)
        for q in ("kind=x", "status=open", "overdue=maybe", "org=0", "task=-1", "limit=501"):
            assert_problem(self, self.call("GET", "/api/v1/supervisions?" + q, "office"), 400,
                           "invalid_parameter")

        # Audit: issue, sign, respond, close of the listed supervision.
        self.assertEqual(self.sql("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log"
                                  " WHERE table_name = 'supervisions' AND row_id = '%d'" % lst["id"]),
                         "insert,update,update,update")
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'supervision_events'"
                                  " AND after->>'supervision_id' = '%d'" % lst["id"]), "4")

    def test_issue_errors_write_nothing(self):
        before = self.count("supervisions")
        self.assertEqual(self.issue(who=None).status, 401)
        for who in ("chengguan", "viewer1"):
            assert_problem(self, self.issue(who=who), 403, "forbidden")
        self.assertEqual(self.issue(who="leader").status, 201)     # the leading group may issue
        before += 1
        cases = [
            ({"kind": "warning"}, "/kind"),
            ({"org_id": None}, "/org_id"),
            ({"title": ""}, "/title"),
            ({"response_due": "2026-02-30"}, "/response_due"),
            ({"task_ids": [1, 1]}, "/task_ids/1"),
            ({"doc_number": "甘整改办〔2026〕1号"}, "/doc_number"),        # reminders have none
            ({"kind": "onsite", "removal_conditions": "x"}, "/removal_conditions"),
            ({"surprise": 1}, "/surprise"),
        ]
        for over, pointer in cases:
            doc = assert_problem(self, self.issue(**over), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], (over, doc))
        refs = [
            ({"org_id": 999999}, "/org_id"),
            ({"task_ids": [999999]}, "/task_ids"),
            ({"complaint_ids": [999999]}, "/complaint_ids"),
            ({"kind": "notice", "doc_number": "1号", "circulated_org_ids": [999999]},
             "/circulated_org_ids"),
            ({"kind": "notice"}, "/doc_number"),
            ({"kind": "interview", "interviewer": "省整改办", "interview_date": day(0)}, "/interviewee"),
            ({"kind": "interview", "interviewee": "x", "interviewer": "y", "interview_date": day(0),
              "minutes_attachment_id": 999999}, "/minutes_attachment_id"),
            ({"kind": "listed"}, "/removal_conditions"),
        ]
        for over, pointer in refs:
            doc = assert_problem(self, self.issue(**over), 422, "validation_failed")
            self.assertEqual(doc["errors"][0]["pointer"], pointer, (over, doc))
        self.assertEqual(self.count("supervisions"), before)
        for path in ("/api/v1/supervisions/999999", "/api/v1/supervisions/x",
                     "/api/v1/tasks/999999/supervisions"):
            assert_problem(self, self.call("GET", path, "office"), 404, "not_found")


class Escalation(SupervisionBase):

    def test_rules_are_data(self):
        rules = self.get("/api/v1/escalation-rules")
        conditions = ["red_days", "missed_rounds", "red_after_notice", "round_due_soon",
                      "round_overdue"]
        self.assertEqual([r["condition"] for r in rules["items"]], conditions)
        self.assertEqual([r["action"] for r in rules["items"]],
                         ["issue", "propose", "propose", "issue", "issue"])
        self.assertEqual({c["code"] for c in rules["conditions"]}, set(conditions))
        body = {"name": "红灯满14日提请挂牌", "condition": "red_days", "params": {"days": 14},
                "kind": "listed", "response_days": 30, "active": False}
        n = self.count("escalation_rules")
        doc = assert_problem(self, self.call("POST", "/api/v1/escalation-rules", "office",
                                             dict(body, condition="moon_phase")), 422,
                             "unknown_condition")
        self.assertEqual(doc["errors"][0]["pointer"], "/condition")
        for params in ({}, {"days": 0}, {"days": 1.5}, {"days": "7"}, {"days": 7, "count": 2},
                       {"count": 2}):
            doc = assert_problem(self, self.call("POST", "/api/v1/escalation-rules", "office",
                                                 dict(body, params=params)), 422, "validation_failed")
            self.assertEqual(doc["errors"][0]["pointer"], "/params", params)
        for over, pointer in (({"params": [7]}, "/params"), ({"kind": "fine"}, "/kind"),
                              ({"response_days": 0}, "/response_days"), ({"name": None}, "/name")):
            doc = assert_problem(self, self.call("POST", "/api/v1/escalation-rules", "office",
                                                 dict(body, **over)), 422, "validation_failed")
            self.assertEqual(doc["errors"][0]["pointer"], pointer)
        assert_problem(self, self.call("POST", "/api/v1/escalation-rules", "chengguan", body), 403,
                       "forbidden")
        self.assertEqual(self.count("escalation_rules"), n)
        r = self.call("POST", "/api/v1/escalation-rules", "office", body)
        self.assertEqual(r.status, 201, r)
        rule = r.json
        self.assertEqual((rule["action"], rule["active"]), ("propose", False))
        path = "/api/v1/escalation-rules/%d" % rule["id"]
        r = self.call("PATCH", path, "office", {"params": {"days": 21}}, headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["params"], r.json["version"]), ({"days": 21}, 2))
        assert_problem(self, self.call("PATCH", path, "office", {"active": True},
                                       headers={"If-Match": '"1"'}), 412, "precondition_failed")
        assert_problem(self, self.call("PATCH", path, "office", {"condition": "missed_rounds"},
                                       headers={"If-Match": '"2"'}), 422, "validation_failed")
        assert_problem(self, self.call("PATCH", path, "office", {"condition": "x"},
                                       headers={"If-Match": '"2"'}), 422, "unknown_condition")
        assert_problem(self, self.call("PATCH", "/api/v1/escalation-rules/999999", "office",
                                       {"active": True}, headers={"If-Match": '"1"'}), 404, "not_found")
        assert_problem(self, self.call("PATCH", path, "office", {"active": True}), 428,
                       "precondition_required")
        self.assertEqual(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'escalation_rules'"
                                  " AND row_id = '%d'" % rule["id"]), "2")

    def test_scan_issues_reminders_and_proposes_a_notice(self):
        office = "office"
        assert_problem(self, self.call("POST", "/api/v1/supervisions/escalation-scan", "chengguan"),
                       403, "forbidden")
        # Nothing is red yet, no round missed.
        self.assertEqual(self.call("POST", "/api/v1/supervisions/escalation-scan", office).json,
                         {"issued": 0, "proposed": 0})
        # Two tasks of 620102 without a report for 40 days (red for 10 > 7), one for 35 (red for 5).
        red = self.tasks["620102"][:2]
        self.sql("UPDATE tasks SET last_reported_at = now() - interval '40 days' WHERE id IN (%d, %d)"
                 % (red[0]["id"], red[1]["id"]))
        self.sql("UPDATE tasks SET last_reported_at = now() - interval '35 days' WHERE id = %d"
                 % self.tasks["620102"][2]["id"])
        # 620800 misses two rounds (still open, past due by a day and two).
        for n in (1, 2):
            rd = self.open_round(name="第%d次调度" % n,
                                 scope={"kind": "orgs", "org_ids": [self.org["620800"]]}).json
            self.sql("UPDATE dispatch_rounds SET due_at = now() - interval '%d days' WHERE id = %d"
                     % (n, rd["id"]))
        # A third round due in 12 hours: 620800 is reminded before the due time.
        soon = self.open_round(name="第3次调度", due_at=later(12),
                               scope={"kind": "orgs", "org_ids": [self.org["620800"]]}).json
        r = self.call("POST", "/api/v1/supervisions/escalation-scan", office)
        self.assertEqual(r.status, 200, r)
        # reminders: 2 red tasks, 2 overdue rounds, 1 round due soon; a notice proposed
        self.assertEqual(r.json, {"issued": 5, "proposed": 1})
        # Run again (tomorrow's job, or a second instance): nothing twice.
        self.assertEqual(self.call("POST", "/api/v1/supervisions/escalation-scan", office).json,
                         {"issued": 0, "proposed": 0})

        rules = {}                                  # the seeded rule of each condition
        for x in self.get("/api/v1/escalation-rules")["items"]:
            rules.setdefault(x["condition"], x)
        all_reminders = self.get("/api/v1/supervisions", kind="reminder")["items"]
        self.assertTrue(all(s["status"] == "issued" for s in all_reminders))
        reminders = [s for s in all_reminders if s["rule_id"] == rules["red_days"]["id"]]
        self.assertEqual(sorted(s["task_ids"][0] for s in reminders), sorted(t["id"] for t in red))
        self.assertTrue(all(s["org"]["code"] == "620102" for s in reminders))
        rounds = [s for s in all_reminders if s["rule_id"] in (rules["round_overdue"]["id"],
                                                               rules["round_due_soon"]["id"])]
        self.assertEqual(len(rounds), 3)
        self.assertTrue(all(s["org"]["code"] == "620800" and len(s["task_ids"]) == 5 for s in rounds))
        self.assertEqual(len([s for s in rounds if "将于" in s["reason"]]), 1)
        self.assertIn(soon["name"], [s for s in rounds if "将于" in s["reason"]][0]["reason"])
        self.assertEqual(len([s for s in self.get("/api/v1/me/inbox", "chengguan")["supervisions"]
                              if s["kind"] == "reminder"]), 2)
        prop = self.get("/api/v1/supervisions", kind="notice", status="proposed")["items"]
        self.assertEqual(len(prop), 1)
        prop = prop[0]
        self.assertEqual(prop["org"]["code"], "620800")
        self.assertEqual(len(prop["task_ids"]), 5)
        self.assertIn("2次调度未按时报送", prop["reason"])
        # A proposal is the office's business: the unit cannot see it.
        assert_problem(self, self.call("GET", "/api/v1/supervisions/%d" % prop["id"], "pingliang"),
                       404, "not_found")
        self.assertEqual({s["kind"] for s in self.get("/api/v1/me/inbox", "pingliang")["supervisions"]},
                         {"reminder"})
        # Confirming a notice needs its document number.
        doc = assert_problem(self, self.move(prop, "confirm"), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/doc_number")
        assert_problem(self, self.move(prop, "confirm", "pingliang", version=1), 404, "not_found")
        r = self.move(prop, "confirm", doc_number="甘整改办通报〔2026〕9号",
                      circulated_org_ids=[self.org["620000"]], comment="经研究同意通报")
        self.assertEqual(r.status, 200, r)
        notice = r.json
        self.assertEqual((notice["status"], notice["doc_number"]), ("issued", "甘整改办通报〔2026〕9号"))
        self.assertEqual([h["action"] for h in notice["history"]], ["propose", "confirm"])
        self.assertEqual(self.call("GET", "/api/v1/supervisions/%d" % prop["id"], "pingliang").status, 200)
        assert_problem(self, self.move(notice, "dismiss"), 409, "invalid_transition")

        # Still red 30 days after the notice → an interview is proposed; the office dismisses it.
        self.sql("UPDATE tasks SET last_reported_at = now() - interval '60 days' WHERE id = %d"
                 % self.tasks["620800"][0]["id"])
        self.sql("UPDATE supervisions SET issued_at = now() - interval '31 days' WHERE id = %d"
                 % notice["id"])
        # (and the red_days rule reminds the task's org, red for 30 days)
        self.assertEqual(self.call("POST", "/api/v1/supervisions/escalation-scan", office).json,
                         {"issued": 1, "proposed": 1})
        itv = self.get("/api/v1/supervisions", kind="interview", status="proposed")["items"][0]
        self.assertEqual(itv["task_ids"], [self.tasks["620800"][0]["id"]])
        r = self.move(itv, "dismiss", comment="已约谈分管领导，暂不提请")
        self.assertEqual((r.status, r.json["status"]), (200, "dismissed"))
        # A dismissed proposal is not proposed again; a closed reminder is issued again —
        # once, also by two scans at the same time (two instances).
        self.move(reminders[0], "close")
        runs = [harness.in_thread(self.call, "POST", "/api/v1/supervisions/escalation-scan", office)
                for _ in range(2)]
        for t, _ in runs:
            t.join()
        answers = [res[0].json for _, res in runs]
        self.assertEqual(sum(a["issued"] for a in answers), 1, answers)
        self.assertEqual(sum(a["proposed"] for a in answers), 0, answers)
        # An inactive rule does nothing.
        red_rule = rules["red_days"]
        r = self.call("PATCH", "/api/v1/escalation-rules/%d" % red_rule["id"], office,
                      {"active": False}, headers={"If-Match": '"%d"' % red_rule["version"]})
        self.assertEqual(r.status, 200, r)
        self.move([s for s in self.get("/api/v1/supervisions", kind="reminder", status="issued")["items"]
                   if s["rule_id"] == red_rule["id"]][0], "close")
        self.assertEqual(self.call("POST", "/api/v1/supervisions/escalation-scan", office).json,
                         {"issued": 0, "proposed": 0})
        self.assertGreater(int(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'supervisions'"
                                        " AND after->>'rule_id' IS NOT NULL")), 4)


if __name__ == "__main__":
    harness.main()
