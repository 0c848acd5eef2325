"""Complaints beyond the import and the workflow: editing (PATCH, by role, If-Match,
merge), deadline extensions (request, decision, the effective deadline and
overdue) and the acknowledgement of a hand-over batch; org scoping and audit."""
import csv
import io

import harness
from harness import assert_problem

HEADER = ["交办编号", "交办批次", "受理时间", "来源渠道", "举报内容", "污染类型", "所在县区",
          "详细地址", "被举报对象", "件别", "责任单位", "办理时限", "举报人姓名", "联系电话"]


def csv_body(rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow(r)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def row(no, county="城关区", resp="", deadline=""):
    base = {"交办编号": no, "交办批次": "1", "受理时间": "2023-11-24 09:12", "来源渠道": "电话",
            "举报内容": "河边有工厂夜间偷排污水，气味刺鼻", "污染类型": "水", "所在县区": county,
            "详细地址": "某路1号", "被举报对象": "某化工有限公司", "件别": "一般件", "责任单位": resp,
            "办理时限": deadline, "举报人姓名": "王小明", "联系电话": "13912345678"}
    return [base[h] for h in HEADER]


class ComplaintsMore(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = cls.db_name
        harness.psql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                     "('第三轮中央生态环境保护督察', 3, (SELECT id FROM orgs WHERE code = '620000'))", db)
        cls.campaign = int(harness.psql("SELECT max(id) FROM campaigns", db))
        for user, org, roles in (("office1", "GS-OFFICE", ["office"]), ("cg_unit", "620102", ["unit"]),
                                 ("qlh_unit", "620103", ["unit"]), ("viewer1", "620000", ["viewer"]),
                                 ("platform1", "620000", ["integration"]), ("leader1", "GS-LG", ["leader"])):
            harness.create_user(cls.db_url, user, org, roles)
        cls.tok = {u: cls.svc.login(u) for u in ("office1", "cg_unit", "qlh_unit", "viewer1", "platform1",
                                                  "leader1")}

    def q(self, sql):
        return harness.psql(sql, self.db_name)

    def imp(self, rows):
        r = self.svc.post("/api/v1/complaints/import?campaign_id=%d" % self.campaign, body=csv_body(rows),
                          headers={"Content-Type": "text/csv; charset=utf-8"}, token=self.tok["office1"])
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["failed"], 0, r.json)

    def cid(self, handover):
        return int(self.q("SELECT id FROM complaints WHERE handover_no = '%s'" % handover))

    def audit_count(self, table, row_id, action="update"):
        return int(self.q("SELECT count(*) FROM audit_log WHERE table_name = '%s' AND row_id = '%s'"
                          " AND action = '%s'" % (table, row_id, action)))

    def patch(self, cid, body, user="office1", version=None):
        if version is None:
            version = self.q("SELECT version FROM complaints WHERE id = %d" % cid)
        return self.svc.patch("/api/v1/complaints/%d" % cid, body, token=self.tok[user],
                              headers={"If-Match": '"%s"' % version})

    # --- PATCH -------------------------------------------------------------------------

    def test_01_patch_by_the_responsible_unit(self):
        self.imp([row("P-1", resp="620102", deadline="2024-01-31")])
        cid = self.cid("P-1")
        url = "/api/v1/complaints/%d" % cid
        etag = self.svc.get(url, token=self.tok["cg_unit"]).header("etag")
        self.assertEqual(etag, '"1"')
        body = {"verdict": "partly_true", "result": "已责令整改",
                "enforcement": {"ordered_rectify": 1, "fines_yuan": 20000}}
        assert_problem(self, self.svc.patch(url, body, token=self.tok["cg_unit"]), 428, "precondition_required")
        assert_problem(self, self.patch(cid, body, "cg_unit", version="7"), 412, "precondition_failed")
        before = self.audit_count("complaints", cid)
        r = self.patch(cid, body, "cg_unit")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("etag"), '"2"')
        self.assertEqual((r.json["verdict"], r.json["result"], r.json["version"]), ("partly_true", "已责令整改", 2))
        self.assertEqual(r.json["enforcement"]["ordered_rectify"], 1)
        self.assertEqual(r.json["enforcement"]["fines_yuan"], 20000)
        self.assertEqual(r.json["status"], "assigned")
        self.assertEqual(self.audit_count("complaints", cid), before + 1)
        # merge: members left out keep their values, also inside enforcement
        r = self.patch(cid, {"enforcement": {"cases_filed": 2}}, "cg_unit")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["enforcement"], {"ordered_rectify": 1, "cases_filed": 2, "fines_yuan": 20000,
                                                 "people_interviewed": 0, "people_accountable": 0})
        self.assertEqual(r.json["verdict"], "partly_true")
        # nothing changed: no write, no audit entry, same version
        n = self.audit_count("complaints", cid)
        r = self.patch(cid, {"verdict": "partly_true"}, "cg_unit")
        self.assertEqual((r.status, r.json["version"]), (200, 3), r)
        self.assertEqual(self.audit_count("complaints", cid), n)
        # office-only fields, other orgs, roles
        assert_problem(self, self.patch(cid, {"grade": "key"}, "cg_unit"), 403, "forbidden")
        assert_problem(self, self.patch(cid, {"public_summary": "x"}, "cg_unit"), 403, "forbidden")
        assert_problem(self, self.patch(cid, {"verdict": "true"}, "qlh_unit"), 404, "not_found")
        assert_problem(self, self.patch(cid, {"verdict": "true"}, "viewer1"), 403, "forbidden")
        assert_problem(self, self.patch(cid, {"verdict": "true"}, "leader1"), 403, "forbidden")
        assert_problem(self, self.patch(999999, {"verdict": "true"}, "office1", version="1"), 404, "not_found")
        # a resolved complaint is no longer the unit's to edit
        t = "/api/v1/complaints/%d/transitions" % cid
        self.assertEqual(self.svc.post(t, {"action": "start"}, token=self.tok["cg_unit"]).status, 200)
        self.assertEqual(self.svc.post(t, {"action": "resolve", "verdict": "true", "result": "已办结"},
                                       token=self.tok["cg_unit"]).status, 200)
        assert_problem(self, self.patch(cid, {"result": "补充"}, "cg_unit"), 409, "not_editable")
        # the office still may
        r = self.patch(cid, {"public_summary": "经查属实，已责令整改。"})
        self.assertEqual((r.status, r.json["public_summary"]), (200, "经查属实，已责令整改。"), r)

    def test_02_patch_by_the_office_and_validation(self):
        self.imp([row("P-2")])
        cid = self.cid("P-2")
        body = {"grade": "key", "pollution_types": ["air", "noise"], "address": "城关区某路2号",
                "latitude": 36.061089, "longitude": 103.834304, "entity_name": "兰州某化工有限公司",
                "entity_credit_code": "91620100MA71234567", "public_summary": "已核查",
                "verdict": "true"}
        r = self.patch(cid, body)
        self.assertEqual(r.status, 200, r)
        for k in ("grade", "pollution_types", "address", "entity_name", "entity_credit_code", "public_summary",
                  "verdict"):
            self.assertEqual(r.json[k], body[k], k)
        self.assertAlmostEqual(float(r.json["latitude"]), 36.061089)
        self.assertEqual(r.json["status"], "received")
        r = self.patch(cid, {"verdict": None, "latitude": None, "longitude": None})
        self.assertEqual((r.status, r.json["verdict"], r.json["latitude"]), (200, None, None), r)
        for bad, pointer in (({"status": "closed"}, "/status"), ({"content": "x"}, "/content"),
                             ({"verdict": "maybe"}, "/verdict"), ({"grade": None}, "/grade"),
                             ({"pollution_types": ["light"]}, "/pollution_types/0"),
                             ({"pollution_types": []}, "/pollution_types"),
                             ({"entity_credit_code": "123"}, "/entity_credit_code"),
                             ({"result": "   "}, "/result"), ({"latitude": 100, "longitude": 1}, "/latitude"),
                             ({"latitude": "36"}, "/latitude"),
                             ({"enforcement": {"fines_yuan": -1}}, "/enforcement/fines_yuan"),
                             ({"enforcement": {"bribes": 1}}, "/enforcement/bribes"), ({"enforcement": 3}, "/enforcement")):
            doc = assert_problem(self, self.patch(cid, bad), 422, "validation_failed")
            self.assertIn(pointer, [e["pointer"] for e in doc["errors"]], (bad, doc))
        # one coordinate alone when the row has none
        doc = assert_problem(self, self.patch(cid, {"latitude": 36.0}), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/longitude")
        # the unit of the county cannot edit before assignment (not responsible yet: the
        # county owns it, but only open complaints are the unit's)
        assert_problem(self, self.patch(cid, {"verdict": "true"}, "cg_unit"), 409, "not_editable")
        self.assertEqual(self.audit_count("complaints", cid), 2)

    # --- extensions ----------------------------------------------------------------------

    def test_03_extension_request_and_approval(self):
        self.imp([row("E-1", resp="620102", deadline="2024-01-31")])
        cid = self.cid("E-1")
        base = "/api/v1/complaints/%d/extensions" % cid
        self.assertTrue(self.svc.get("/api/v1/complaints/%d" % cid, token=self.tok["office1"]).json["overdue"])
        ask = {"new_deadline": "2099-12-31", "reason": "需第三方检测，周期较长"}
        doc = assert_problem(self, self.svc.post(base, {"new_deadline": "2024-01-01", "reason": "x"},
                                                 token=self.tok["cg_unit"]), 422, "validation_failed")
        self.assertEqual(doc["errors"][0]["pointer"], "/new_deadline")
        assert_problem(self, self.svc.post(base, {"new_deadline": "2099-02-30", "reason": "x"},
                                           token=self.tok["cg_unit"]), 422, "validation_failed")
        assert_problem(self, self.svc.post(base, dict(ask, extra=1), token=self.tok["cg_unit"]), 422,
                       "validation_failed")
        assert_problem(self, self.svc.post(base, ask, token=self.tok["qlh_unit"]), 404, "not_found")
        assert_problem(self, self.svc.get(base, token=self.tok["qlh_unit"]), 404, "not_found")
        assert_problem(self, self.svc.post(base, ask, token=self.tok["viewer1"]), 403, "forbidden")
        r = self.svc.post(base, ask, token=self.tok["cg_unit"])
        self.assertEqual(r.status, 201, r)
        ext = r.json
        self.assertEqual((ext["status"], ext["previous_deadline"], ext["new_deadline"]),
                         ("requested", "2024-01-31", "2099-12-31"))
        self.assertEqual(self.audit_count("complaint_extensions", ext["id"], "insert"), 1)
        assert_problem(self, self.svc.post(base, ask, token=self.tok["office1"]), 409, "extension_pending")
        items = self.svc.get(base, token=self.tok["viewer1"]).json["items"]
        self.assertEqual([x["id"] for x in items], [ext["id"]])
        dec = "%s/%d/decision" % (base, ext["id"])
        assert_problem(self, self.svc.post(dec, {"decision": "approve"}, token=self.tok["cg_unit"]), 403, "forbidden")
        assert_problem(self, self.svc.post(dec, {"decision": "maybe"}, token=self.tok["office1"]), 422,
                       "validation_failed")
        assert_problem(self, self.svc.post("%s/999999/decision" % base, {"decision": "approve"},
                                           token=self.tok["office1"]), 404, "not_found")
        r = self.svc.post(dec, {"decision": "approve", "comment": "同意延期"}, token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["decision_comment"]), ("approved", "同意延期"))
        self.assertIsNotNone(r.json["decided_at"])
        assert_problem(self, self.svc.post(dec, {"decision": "reject"}, token=self.tok["office1"]), 409,
                       "already_decided")
        # the new deadline is in force, the complaint is no longer overdue, the old one is kept
        c = self.svc.get("/api/v1/complaints/%d" % cid, token=self.tok["cg_unit"]).json
        self.assertEqual((c["deadline"], c["overdue"]), ("2099-12-31", False))
        self.assertEqual(c["history"][-1]["action"], "extend")
        self.assertEqual(c["history"][-1]["deadline"], "2099-12-31")
        items = self.svc.get("/api/v1/complaints?overdue=true&limit=500", token=self.tok["office1"]).json["items"]
        self.assertNotIn(cid, [x["id"] for x in items])
        self.assertEqual(self.svc.get(base, token=self.tok["cg_unit"]).json["items"][0]["previous_deadline"],
                         "2024-01-31")
        self.assertEqual(self.audit_count("complaint_extensions", ext["id"]), 1)
        self.assertEqual(self.audit_count("complaints", cid), 1)
        # the extension of another complaint is not found under this one
        self.imp([row("E-2", resp="620102", deadline="2024-02-28")])
        other = "/api/v1/complaints/%d/extensions" % self.cid("E-2")
        e2 = self.svc.post(other, ask, token=self.tok["cg_unit"]).json
        assert_problem(self, self.svc.post("%s/%d/decision" % (base, e2["id"]), {"decision": "approve"},
                                           token=self.tok["office1"]), 404, "not_found")
        # rejected: the deadline stays
        r = self.svc.post("%s/%d/decision" % (other, e2["id"]), {"decision": "reject", "comment": "理由不充分"},
                          token=self.tok["office1"])
        self.assertEqual((r.status, r.json["status"]), (200, "rejected"), r)
        c = self.svc.get("/api/v1/complaints/%d" % self.cid("E-2"), token=self.tok["office1"]).json
        self.assertEqual((c["deadline"], c["overdue"]), ("2024-02-28", True))

    def test_04_extension_refusals(self):
        ee = self.q("SELECT code FROM orgs WHERE code = 'GS-EE'")
        self.imp([row("E-3"), row("E-4", resp=ee, deadline="2024-01-31")])
        # not assigned yet: no deadline to extend
        assert_problem(self, self.svc.post("/api/v1/complaints/%d/extensions" % self.cid("E-3"),
                                           {"new_deadline": "2099-01-01", "reason": "x"},
                                           token=self.tok["office1"]), 409, "not_extendable")
        # the county sees a complaint a provincial department handles, but does not ask
        url = "/api/v1/complaints/%d/extensions" % self.cid("E-4")
        self.assertEqual(self.svc.get(url, token=self.tok["cg_unit"]).status, 200)
        assert_problem(self, self.svc.post(url, {"new_deadline": "2099-01-01", "reason": "x"},
                                           token=self.tok["cg_unit"]), 403, "forbidden")
        # nor edits its handling data (PATCH)
        assert_problem(self, self.patch(self.cid("E-4"), {"verdict": "true"}, "cg_unit"), 403, "forbidden")
        # a request left open while the complaint is rejected cannot be approved, only rejected
        r = self.svc.post(url, {"new_deadline": "2099-01-01", "reason": "x"}, token=self.tok["office1"])
        self.assertEqual(r.status, 201, r)
        t = "/api/v1/complaints/%d/transitions" % self.cid("E-4")
        self.assertEqual(self.svc.post(t, {"action": "reject", "reason": "不属于环保问题"},
                                       token=self.tok["office1"]).status, 200)
        dec = "%s/%d/decision" % (url, r.json["id"])
        assert_problem(self, self.svc.post(dec, {"decision": "approve"}, token=self.tok["office1"]), 409,
                       "not_extendable")
        self.assertEqual(self.svc.post(dec, {"decision": "reject"}, token=self.tok["office1"]).status, 200)

    # --- batch acknowledgement -------------------------------------------------------------

    def test_05_batch_acknowledgement(self):
        r = self.svc.post("/api/v1/complaint-batches", {"campaign_id": self.campaign, "batch_no": 30,
                                                        "handed_over_on": "2023-12-10"}, token=self.tok["office1"])
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json["acknowledged_at"])
        bid = r.json["id"]
        url = "/api/v1/complaint-batches/%d/acknowledgement" % bid
        assert_problem(self, self.svc.post(url, token=self.tok["cg_unit"]), 403, "forbidden")
        assert_problem(self, self.svc.post(url, token=self.tok["viewer1"]), 403, "forbidden")
        assert_problem(self, self.svc.post("/api/v1/complaint-batches/999999/acknowledgement",
                                           token=self.tok["office1"]), 404, "not_found")
        r = self.svc.post(url, token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.json["acknowledged_at"])
        self.assertEqual(r.json["acknowledged_by"],
                         int(self.q("SELECT id FROM users WHERE username = 'office1'")))
        self.assertEqual((r.json["version"], r.header("etag")), (2, '"2"'))
        doc = assert_problem(self, self.svc.post(url, token=self.tok["office1"]), 409, "already_acknowledged")
        self.assertIn("acknowledged", doc["detail"])
        self.assertEqual(self.audit_count("complaint_batches", bid), 1)
        items = self.svc.get("/api/v1/complaint-batches?campaign_id=%d" % self.campaign,
                             token=self.tok["viewer1"]).json["items"]
        self.assertIsNotNone([b for b in items if b["id"] == bid][0]["acknowledged_at"])

    def test_06_audit_chain_still_verifies(self):
        r = self.svc.get("/api/v1/audit/verify", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r.json)


if __name__ == "__main__":
    harness.main()
