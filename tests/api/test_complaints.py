"""Citizen complaints: the batch import (CSV, NDJSON, JSON; partial, atomic,
dry run; file vs row errors; Idempotency-Key), the workflow with roles,
org scoping, complainants' personal data (masked, clear for the office and
audited), similar-complaint suggestions, exports without personal data."""
import csv
import io
import json
import os
import zipfile

import harness
from harness import assert_problem

SOURCE = os.environ.get("RECTIFY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(SOURCE, "sql", "seed", "complaints-sample.csv")
HEADER = ["交办编号", "交办批次", "受理时间", "来源渠道", "举报内容", "污染类型", "所在县区",
          "详细地址", "被举报对象", "件别", "责任单位", "办理时限", "举报人姓名", "联系电话"]


def csv_body(rows, header=HEADER, bom=True):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def row(no, county="城关区", content="河边有工厂夜间偷排污水，气味刺鼻", **over):
    base = {"交办编号": no, "交办批次": "1", "受理时间": "2023-11-24 09:12", "来源渠道": "电话",
            "举报内容": content, "污染类型": "水、大气", "所在县区": county, "详细地址": "某路1号",
            "被举报对象": "某化工有限公司", "件别": "一般件", "责任单位": "", "办理时限": "",
            "举报人姓名": "王小明", "联系电话": "13912345678"}
    base.update(over)
    return [base[h] for h in HEADER]


class Complaints(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = cls.db_name
        harness.psql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                     "('第三轮中央生态环境保护督察', 3, (SELECT id FROM orgs WHERE code = '620000'))", db)
        cls.campaign = int(harness.psql("SELECT max(id) FROM campaigns", db))
        for user, org, roles in (("office1", "GS-OFFICE", ["office"]), ("cg_unit", "620102", ["unit"]),
                                 ("qlh_unit", "620103", ["unit"]), ("lz_unit", "620100", ["unit"]),
                                 ("viewer1", "620000", ["viewer"]), ("platform1", "620000", ["integration"]),
                                 ("leader1", "GS-LG", ["leader"])):
            harness.create_user(cls.db_url, user, org, roles)
        cls.tok = {u: cls.svc.login(u) for u in ("office1", "cg_unit", "qlh_unit", "lz_unit", "viewer1",
                                                  "platform1", "leader1")}

    def q(self, sql):
        return harness.psql(sql, self.db_name)

    def imp(self, body, ctype="text/csv; charset=utf-8", user="office1", query="", headers=None):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.svc.post("/api/v1/complaints/import?campaign_id=%d%s" % (self.campaign, query),
                             body=body, headers=h, token=self.tok[user])

    def cid(self, handover):
        return int(self.q("SELECT id FROM complaints WHERE handover_no = '%s'" % handover))

    # --- import --------------------------------------------------------------

    def test_01_sample_import_and_idempotent_reimport(self):
        with open(SAMPLE, "rb") as f:
            body = f.read()
        r = self.imp(body)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"], {"rows": 20, "inserted": 20, "updated": 0, "unchanged": 0,
                                             "failed": 0})
        audit_before = int(self.q("SELECT count(*) FROM audit_log"))
        self.assertGreaterEqual(int(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'complaints'"
                                           " AND action = 'insert'")), 20)
        r = self.imp(body)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["unchanged"], 20)
        self.assertEqual(r.json["summary"]["inserted"] + r.json["summary"]["updated"], 0)
        self.assertEqual(int(self.q("SELECT count(*) FROM audit_log")), audit_before, "re-import wrote nothing")
        # batches were created from the file, with their hand-over dates
        self.assertEqual(self.q("SELECT count(*) FROM complaint_batches WHERE campaign_id = %d" % self.campaign), "5")
        # a complaint with a responsible org and a deadline starts assigned
        self.assertEqual(self.q("SELECT status FROM complaints WHERE handover_no = 'X620000202311250001'"),
                         "assigned")
        # personal data is encrypted at rest: no clear value in the row
        raw = self.q("SELECT encode(name_enc, 'escape') || encode(phone_enc, 'hex') FROM complainants"
                     " WHERE id = %d" % self.cid("X620000202311250001"))
        self.assertNotIn("13812345678", raw)
        self.assertNotIn(b"13812345678".hex(), raw)
        # and never in the audit log either
        self.assertEqual(self.q("SELECT count(*) FROM audit_log WHERE after::text LIKE '%13812345678%'"
                                " OR after::text LIKE '%张三%'"), "0")
        self.assertEqual(self.q("SELECT redacted FROM audit_log WHERE table_name = 'complainants' AND row_id = '%d'"
                                % self.cid("X620000202311250001")),
                         "{address_enc,digest,id_number_enc,name_enc,phone_enc}")
        self.assertNotIn("13812345678", self.svc.read_log())

    def test_02_changed_row_updates_only_it_and_is_audited(self):
        rows = [row("U-1"), row("U-2")]
        self.assertEqual(self.imp(csv_body(rows)).json["summary"]["inserted"], 2)
        rows[1] = row("U-2", content="河边有工厂夜间偷排污水，已持续三个月")
        r = self.imp(csv_body(rows), query="&verbose=true")
        self.assertEqual(r.json["summary"], {"rows": 2, "inserted": 0, "updated": 1, "unchanged": 1, "failed": 0})
        self.assertEqual([(x["handover_no"], x["status"]) for x in r.json["results"]],
                         [("U-1", "unchanged"), ("U-2", "updated")])
        cid = self.cid("U-2")
        self.assertEqual(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'complaints' AND row_id = '%d'"
                                " AND action = 'update'" % cid), "1")
        # a changed phone number changes the complainant only
        rows[0] = row("U-1", **{"联系电话": "13900000000"})
        r = self.imp(csv_body(rows))
        self.assertEqual(r.json["summary"]["updated"], 1)
        self.assertEqual(self.q("SELECT phone_masked FROM complainants WHERE id = %d" % self.cid("U-1")),
                         "139****0000")

    def test_03_row_errors_are_precise_and_good_rows_go_in(self):
        # two counties of one name in different prefectures
        self.q("INSERT INTO orgs (code, name, kind, parent_id) SELECT '620599', '新城区', 'county', id"
               " FROM orgs WHERE code = '620500'")
        self.q("INSERT INTO orgs (code, name, kind, parent_id) SELECT '620699', '新城区', 'county', id"
               " FROM orgs WHERE code = '620600'")
        rows = [
            row("E-ok"),
            row("E-county", county="不存在县"),
            row("E-date", **{"受理时间": "2023-02-30"}),
            row("E-dup"),
            row("E-dup"),
            row("", content="x"),
            row("E-long", content="长" * 10001),
            row("E-amb", county="新城区"),
            row("E-amb-ok", county="天水市新城区"),
            row("E-code", county="620102"),
            row("E-type", **{"污染类型": "光污染"}),
        ]
        r = self.imp(csv_body(rows))
        self.assertEqual(r.status, 207, r)
        s = r.json["summary"]
        self.assertEqual((s["rows"], s["failed"]), (11, 7), r.json)
        by = {x["handover_no"]: x for x in r.json["results"]}
        codes = {k: [(e["field"], e["code"]) for e in v["errors"]] for k, v in by.items()}
        self.assertEqual(codes["E-county"], [("county", "unknown_county")])
        self.assertEqual(codes["E-date"], [("received_at", "invalid_date")])
        self.assertEqual(codes["E-dup"], [("handover_no", "duplicate_in_file")])
        self.assertIn("row 4", by["E-dup"]["errors"][0]["message"])
        self.assertEqual(by["E-dup"]["row"], 5)
        self.assertEqual(by["E-dup"]["line"], 6)
        self.assertIn(("handover_no", "required"), codes[None])
        self.assertEqual(codes["E-long"], [("content", "too_long")])
        self.assertEqual(codes["E-amb"], [("county", "ambiguous_county")])
        self.assertIn("620599", by["E-amb"]["errors"][0]["message"])
        self.assertEqual(codes["E-type"], [("pollution_types", "invalid")])
        for ok in ("E-ok", "E-amb-ok", "E-code"):
            self.assertNotIn(ok, by)
            self.cid(ok)
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no IN ('E-county', 'E-date')"), "0")

    def test_04_file_errors_reject_the_file_with_position(self):
        good = csv_body([row("F-1")]).decode("utf-8")
        r = self.imp((good + 'F-2,1,2023-11-24,电话,"bad "quote",水,城关区,,,,,,,\r\n').encode())
        doc = assert_problem(self, r, 400, "csv_quote")
        self.assertEqual((doc["line"], doc["column"]), (3, 27))   # the q after "bad "
        r = self.imp(good.encode() + b"F-3,1,2023-11-24,\xff\xfe,x,\xe6\xb0\xb4,620102\r\n")
        doc = assert_problem(self, r, 400, "csv_invalid_utf8")
        self.assertEqual((doc["line"], doc["column"]), (3, 18))
        r = self.imp((good + 'F-4,1,2023-11-24,电话,"never closed\r\n').encode())
        doc = assert_problem(self, r, 400, "csv_unterminated_quote")
        self.assertEqual(doc["line"], 3)
        r = self.imp(csv_body([row("F-5")], header=HEADER[:-1] + ["星座"]))
        doc = assert_problem(self, r, 400, "unknown_column")
        self.assertIn("星座", doc["detail"])
        r = self.imp(csv_body([], header=[h for h in HEADER if h != "所在县区"]))
        assert_problem(self, r, 400, "missing_column")
        assert_problem(self, self.imp(b""), 400, "empty_file")
        assert_problem(self, self.imp(b"x", ctype="text/plain"), 415, "unsupported_media_type")
        r = self.svc.post("/api/v1/complaints/import?campaign_id=999999", body=good.encode(),
                          headers={"Content-Type": "text/csv"}, token=self.tok["office1"])
        assert_problem(self, r, 422, "unknown_campaign")
        r = self.svc.post("/api/v1/complaints/import", body=good.encode(),
                          headers={"Content-Type": "text/csv"}, token=self.tok["office1"])
        assert_problem(self, r, 400, "invalid_parameter")
        # the rows before the malformed line were in the batch being collected: not written
        # (only batches of 1000 completed before a file error are, see the spec)
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no = 'F-1'"), "0")

    def test_05_atomic_and_dry_run(self):
        rows = [row("A-1"), row("A-2", county="火星区")]
        r = self.imp(csv_body(rows), query="&mode=atomic")
        doc = assert_problem(self, r, 422, "import_rejected")
        self.assertEqual(doc["summary"]["failed"], 1)
        self.assertEqual(doc["results"][0]["errors"][0]["code"], "unknown_county")
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'A-%'"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM complaint_import_chunks"), "0")
        rows = [row("A-%d" % i) for i in range(1, 2501)]          # three staged batches
        r = self.imp(csv_body(rows), query="&mode=atomic")
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["inserted"], 2500)
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'A-%'"), "2500")
        self.assertEqual(self.q("SELECT count(*) FROM complaint_import_chunks"), "0")
        # dry run: says what would happen, writes nothing
        rows = [row("A-1"), row("A-2", content="内容改了"), row("D-new"), row("D-bad", county="火星区")]
        audit = self.q("SELECT count(*) FROM audit_log")
        r = self.imp(csv_body(rows), query="&dry_run=true&verbose=true")
        self.assertEqual(r.status, 207, r)
        self.assertTrue(r.json["dry_run"])
        self.assertEqual([x["status"] for x in r.json["results"]], ["unchanged", "updated", "inserted", "failed"])
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no = 'D-new'"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM audit_log"), audit)

    def test_05b_partial_batches_written_side_by_side(self):
        # 4 500 rows = 5 batches; with RECTIFY_IMPORT_WORKERS=2 two are written at
        # once. Failed rows spread over the batches come back in row order with
        # their lines; every good row and its audit entries are written once.
        bad = {7, 1001, 2600, 4500}
        rows = [row("WK-%d" % i, county="火星区" if i in bad else "安宁区", 交办批次=str(1 + i // 1000))
                for i in range(1, 4501)]
        audit = int(self.q("SELECT count(*) FROM audit_log"))
        batches = int(self.q("SELECT count(*) FROM complaint_batches"))
        r = self.imp(csv_body(rows), query="&verbose=true")
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"], {"rows": 4500, "inserted": 4496, "updated": 0,
                                             "unchanged": 0, "failed": 4})
        self.assertEqual([x["row"] for x in r.json["results"]], list(range(1, 1001)), "first 1000 in order")
        failed = [(x["row"], x["line"]) for x in r.json["results"] if x["status"] == "failed"]
        self.assertEqual(failed, [(7, 8)])   # the other failures are past the 1000 listed results
        self.assertTrue(r.json.get("results_truncated"), r.json.keys())
        r = self.imp(csv_body(rows))
        self.assertEqual(r.json["summary"]["unchanged"], 4496)
        self.assertEqual([(x["row"], x["line"], x["errors"][0]["code"]) for x in r.json["results"]],
                         [(i, i + 1, "unknown_county") for i in sorted(bad)])
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'WK-%'"), "4496")
        # one entry per complaint, per complainant record and per batch created, chain intact
        created = int(self.q("SELECT count(*) FROM complaint_batches")) - batches
        self.assertEqual(int(self.q("SELECT count(*) FROM audit_log")) - audit, 2 * 4496 + created)
        self.assertEqual(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'complaints'"
                                " AND row_id IN (SELECT id::text FROM complaints WHERE handover_no LIKE 'WK-%')"),
                         "4496")
        self.assertEqual(self.q("SELECT rectify.audit_verify() ->> 'ok'"), "true")

    def test_06_ndjson_and_json_array(self):
        lines = [json.dumps({"handover_no": "N-1", "batch_no": 2, "received_at": "2023-11-25T10:00:00+08:00",
                             "channel": "online", "content": "噪声扰民", "pollution_types": ["noise"],
                             "county": "620103", "complainant_name": "刘一"}, ensure_ascii=False),
                 "",
                 "{not json",
                 json.dumps({"handover_no": "N-2", "batch_no": 2, "received_at": "2023-11-25", "channel": "letter",
                             "content": "扬尘", "pollution_types": "air", "county": "七里河区", "bogus": 1},
                            ensure_ascii=False)]
        r = self.imp("\n".join(lines).encode(), ctype="application/x-ndjson")
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["inserted"], 1)
        errs = {x["line"]: x["errors"][0]["code"] for x in r.json["results"]}
        self.assertEqual(errs, {3: "malformed_json", 4: "unknown_field"})
        arr = [{"handover_no": "J-1", "batch_no": "第2批", "received_at": "2023年11月25日", "channel": "12345",
                "content": "垃圾", "pollution_types": "固废", "county": "城关区"}, 42]
        r = self.imp(json.dumps(arr, ensure_ascii=False).encode(), ctype="application/json")
        self.assertEqual(r.json["summary"], {"rows": 2, "inserted": 1, "updated": 0, "unchanged": 0, "failed": 1})
        self.assertEqual(self.q("SELECT channel || ' ' || array_to_string(pollution_types, ',') FROM complaints"
                                " WHERE handover_no = 'J-1'"), "hotline_12345 solid_waste")

    def test_07_idempotency_key(self):
        body = csv_body([row("I-1")])
        h = {"Idempotency-Key": "clerk-2023-11-24-001"}
        r1 = self.imp(body, headers=h)
        self.assertEqual(r1.status, 207, r1)
        self.assertEqual(r1.json["summary"]["inserted"], 1)
        r2 = self.imp(body, headers=h)
        self.assertEqual(r2.status, 207)
        self.assertEqual(r2.body, r1.body)                      # the stored answer, not "unchanged"
        self.assertEqual(r2.header("idempotent-replayed"), "true")
        assert_problem(self, self.imp(csv_body([row("I-2")]), headers=h), 422, "idempotency_key_reused")
        # a key still running: 409
        self.q("INSERT INTO idempotency_keys (user_id, route, key) SELECT id, 'POST /api/v1/complaints/import',"
               " 'running-key' FROM users WHERE username = 'office1'")
        assert_problem(self, self.imp(body, headers={"Idempotency-Key": "running-key"}), 409,
                       "idempotency_in_progress")
        # keys are per user
        self.assertEqual(self.imp(body, user="platform1", headers=h).status, 207)

    def test_08_roles_may_import(self):
        body = csv_body([row("R-1")])
        assert_problem(self, self.imp(body, user="cg_unit"), 403, "forbidden")
        assert_problem(self, self.imp(body, user="viewer1"), 403, "forbidden")
        self.assertEqual(self.imp(body, user="platform1").status, 207)

    def test_09_streams_many_rows(self):
        rows = [row("S-%05d" % i, content="第%d号举报：某厂排放废气" % i) for i in range(5000)]
        body = csv_body(rows)
        r = self.imp(body)
        self.assertEqual(r.json["summary"]["inserted"], 5000, r)
        r = self.imp(body)
        self.assertEqual(r.json["summary"]["unchanged"], 5000, r)

    # --- reading, scoping, personal data -----------------------------------------

    def test_10_scoping_and_personal_data(self):
        self.imp(csv_body([row("P-cg", county="城关区"), row("P-qlh", county="七里河区")]))
        cg, qlh = self.cid("P-cg"), self.cid("P-qlh")
        r = self.svc.get("/api/v1/complaints/%d" % cg, token=self.tok["cg_unit"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["complainant"], {"name": "王**", "phone": "139****5678", "id_number": None,
                                                 "address": None, "masked": True})
        assert_problem(self, self.svc.get("/api/v1/complaints/%d" % qlh, token=self.tok["cg_unit"]), 404, "not_found")
        assert_problem(self, self.svc.get("/api/v1/complaints/%d?pii=true" % cg, token=self.tok["cg_unit"]),
                       403, "forbidden")
        # the prefecture sees both counties
        self.assertEqual(self.svc.get("/api/v1/complaints/%d" % qlh, token=self.tok["lz_unit"]).status, 200)
        items = self.svc.get("/api/v1/complaints?limit=500&q=P-", token=self.tok["cg_unit"]).json["items"]
        self.assertEqual([x["handover_no"] for x in items], ["P-cg"])
        # the office sees the clear values, and that read is audited
        reads = int(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'pii_reads'"))
        r = self.svc.get("/api/v1/complaints/%d?pii=true" % cg, token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["complainant"]["name"], "王小明")
        self.assertEqual(r.json["complainant"]["phone"], "13912345678")
        self.assertFalse(r.json["complainant"]["masked"])
        self.assertEqual(r.body.count(b'"complainant"'), 1)
        self.assertEqual(int(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'pii_reads'")), reads + 1)
        self.assertEqual(self.q("SELECT complaint_id || ' ' || purpose FROM pii_reads ORDER BY id DESC LIMIT 1"),
                         "%d view" % cg)
        self.assertNotIn("13912345678", self.svc.read_log())
        # a complaint assigned to the county is handled there; a province department
        # handling a county's complaint: the county still sees it
        ee = self.q("SELECT id FROM orgs WHERE code = 'GS-EE'")
        r = self.svc.post("/api/v1/complaints/%d/transitions" % qlh, {"action": "assign", "responsible_org_id": int(ee),
                                                                       "deadline": "2024-01-31"},
                          token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.svc.get("/api/v1/complaints/%d" % qlh, token=self.tok["qlh_unit"]).status, 200)
        assert_problem(self, self.svc.get("/api/v1/complaints/%d" % qlh, token=self.tok["cg_unit"]), 404, "not_found")

    def test_11_workflow(self):
        self.imp(csv_body([row("W-1", county="七里河区")]))
        cid = self.cid("W-1")
        qlh_org = int(self.q("SELECT id FROM orgs WHERE code = '620103'"))
        url = "/api/v1/complaints/%d/transitions" % cid

        def act(user, body, **kw):
            return self.svc.post(url, body, token=self.tok[user], **kw)

        doc = assert_problem(self, act("office1", {"action": "start"}), 409, "invalid_transition")
        self.assertIn("received", doc["detail"])
        self.assertIn("assign", doc["detail"])
        assert_problem(self, act("qlh_unit", {"action": "assign", "responsible_org_id": qlh_org,
                                              "deadline": "2024-01-31"}), 403, "forbidden")
        assert_problem(self, act("office1", {"action": "assign"}), 422, "validation_failed")
        assert_problem(self, act("office1", {"action": "fly"}), 422, "validation_failed")
        r = act("office1", {"action": "assign", "responsible_org_id": qlh_org, "deadline": "2024-01-31"})
        self.assertEqual((r.status, r.json["status"]), (200, "assigned"), r)
        assert_problem(self, act("office1", {"action": "start"}, headers={"If-Match": '"1"'}), 412,
                       "precondition_failed")
        self.assertEqual(act("qlh_unit", {"action": "start"}).json["status"], "investigating")
        assert_problem(self, act("cg_unit", {"action": "resolve", "verdict": "true", "result": "x"}), 404, "not_found")
        assert_problem(self, act("leader1", {"action": "resolve", "verdict": "true", "result": "x"}), 403, "forbidden")
        r = act("qlh_unit", {"action": "resolve", "verdict": "partly_true", "result": "已责令整改并立案",
                             "enforcement": {"ordered_rectify": 1, "cases_filed": 1, "fines_yuan": 50000}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["verdict"]), ("resolved", "partly_true"))
        self.assertEqual(r.json["enforcement"]["fines_yuan"], 50000)
        assert_problem(self, act("qlh_unit", {"action": "close"}), 403, "forbidden")
        self.assertEqual(act("office1", {"action": "close"}).json["status"], "closed")
        assert_problem(self, act("office1", {"action": "reopen", "reason": "bored"}), 422, "validation_failed")
        r = act("office1", {"action": "reopen", "reason": "spot_check_failed"})
        self.assertEqual(r.json["status"], "investigating")
        self.assertEqual([h["action"] for h in r.json["history"]], ["assign", "start", "resolve", "close", "reopen"])
        self.assertEqual(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'complaint_events'"
                                " AND after->>'complaint_id' = '%d'" % cid), "5")

    def test_12_similar_ranks_planted_repeats_first(self):
        base = "兰州市城关区雁滩工业园某化工厂夜间偷排刺激性废气，附近居民头晕恶心"
        rows = [row("SIM-0", content=base, **{"被举报对象": "兰州宏达化工有限公司"}),
                row("SIM-1", content=base + "，已多次反映", **{"被举报对象": "兰州宏达化工有限公司"}),
                row("SIM-2", content="雁滩工业园某化工厂夜间偷排刺激性废气，周边居民头晕",
                    **{"被举报对象": "兰州宏达化工公司", "所在县区": "兰州市城关区"}),
                row("SIM-3", content="广场舞音响声音太大影响休息", **{"被举报对象": "某小区广场"})]
        for i in range(40):
            rows.append(row("SIM-X%d" % i, content="第%d个小区的垃圾站清运不及时，夏天异味严重%d" % (i, i * 7),
                            **{"被举报对象": "物业公司%d" % i}))
        self.imp(csv_body(rows))
        r = self.svc.get("/api/v1/complaints/%d/similar" % self.cid("SIM-0"), token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        got = [x["complaint"]["handover_no"] for x in r.json["items"]]
        self.assertEqual(got[:2], ["SIM-1", "SIM-2"], r.json)
        self.assertNotIn("SIM-3", got)
        scores = [x["score"] for x in r.json["items"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        # link them: a repeat group with a case plan and a leading official
        r = self.svc.post("/api/v1/complaints/%d/links" % self.cid("SIM-1"),
                          {"repeat_of_id": self.cid("SIM-0"), "case_plan": "一件一策：停产整治", "leading_official": "张副市长"},
                          token=self.tok["office1"])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(r.json["repeat_group"]["complaints"]), 2)
        r = self.svc.post("/api/v1/complaints/%d/links" % self.cid("SIM-2"), {"repeat_of_id": self.cid("SIM-1")},
                          token=self.tok["office1"])
        self.assertEqual(r.json["repeat_group"]["case_plan"], "一件一策：停产整治")
        self.assertEqual(len(r.json["repeat_group"]["complaints"]), 3)
        items = self.svc.get("/api/v1/complaints?has_repeats=true&limit=500", token=self.tok["office1"]).json["items"]
        self.assertEqual(sorted(x["handover_no"] for x in items), ["SIM-0", "SIM-1", "SIM-2"])
        assert_problem(self, self.svc.post("/api/v1/complaints/%d/links" % self.cid("SIM-2"),
                                           {"repeat_of_id": self.cid("SIM-2")}, token=self.tok["office1"]),
                       422, "self_link")

    def test_12b_similar_among_many_alike_and_scoped(self):
        # The candidates are capped per branch (the 100 nearest texts and the 100
        # nearest entity names of the county, and the nearest within ~5 km, 0034):
        # with 150 alike complaints in the county, the planted repeats still come
        # first, a complaint about the same entity in other words is still found
        # (the entity branch), a similar one 1 km away in the next county too,
        # and only for callers who may see it.
        geo = HEADER + ["纬度", "经度"]

        def grow(no, county, content, entity, lat="", lon=""):
            return row(no, county=county, content=content, **{"被举报对象": entity}) + [lat, lon]

        base = "七里河区黄河北岸沙场夜间违规采砂，运砂车扬尘严重，附近居民无法开窗"
        rows = [grow("NB-0", "七里河区", base, "兰州金河砂石有限公司", "36.050000", "103.750000"),
                grow("NB-1", "七里河区", base + "，多次反映未解决", "兰州金河砂石有限公司", "36.051000", "103.751000"),
                grow("NB-2", "七里河区", "黄河北岸沙场夜里违规采砂，运砂车扬尘严重，居民无法开窗", "金河砂石公司"),
                grow("NB-E", "七里河区", "老板拒不整改，还威胁举报人", "兰州金河砂石有限公司"),
                # 城关区, about 1 km away: nearby; and one far away: not suggested
                grow("NB-N", "城关区", "黄河北岸沙场夜间违规采砂，扬尘严重", "黄河沿岸砂场", "36.055000", "103.760000"),
                grow("NB-F", "城关区", "黄河北岸沙场夜间违规采砂，扬尘严重", "黄河沿岸砂场", "36.900000", "104.500000")]
        for i in range(150):
            rows.append(grow("NB-A%03d" % i, "七里河区", "七里河区第%d号工地夜间施工噪声扰民，附近居民无法休息" % i,
                             "七里河区第%d建筑工程公司" % i))
        r = self.imp(csv_body(rows, header=geo))
        self.assertEqual(r.json["summary"]["inserted"], len(rows), r)
        nb0 = self.cid("NB-0")
        url = "/api/v1/complaints/%d/similar" % nb0

        r = self.svc.get(url + "?limit=50", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        items = r.json["items"]
        got = [x["complaint"]["handover_no"] for x in items]
        self.assertEqual(len(items), 50)
        self.assertEqual(got[:2], ["NB-1", "NB-2"], r.json)
        self.assertIn("NB-E", got[:5])
        self.assertIn("NB-N", got[:5])
        self.assertNotIn("NB-F", got)
        self.assertNotIn("NB-0", got)
        self.assertTrue(all(g.startswith(("NB-", "W-", "P-")) for g in got), got)
        scores = [x["score"] for x in items]
        self.assertEqual(scores, sorted(scores, reverse=True))
        near = items[got.index("NB-N")]
        self.assertFalse(near["same_county"])
        self.assertLess(near["distance_km"], 5)
        self.assertEqual(near["complaint"]["county"]["name"], "城关区")
        self.assertGreater(items[0]["text_similarity"], 0.5)
        self.assertEqual(items[0]["entity_similarity"], 1)
        # the default limit is 10; the best ten are the first ten of the 50
        r = self.svc.get(url, token=self.tok["office1"])
        self.assertEqual([x["complaint"]["handover_no"] for x in r.json["items"]], got[:10])

        # 七里河区 sees its own, not 城关区's neighbour; 城关区 cannot see NB-0 at all
        r = self.svc.get(url + "?limit=50", token=self.tok["qlh_unit"])
        self.assertEqual(r.status, 200, r)
        unit_got = [x["complaint"]["handover_no"] for x in r.json["items"]]
        self.assertEqual(unit_got[:2], ["NB-1", "NB-2"])
        self.assertNotIn("NB-N", unit_got)
        self.assertTrue(all(x["complaint"]["county"]["name"] == "七里河区" for x in r.json["items"]), unit_got)
        assert_problem(self, self.svc.get(url, token=self.tok["cg_unit"]), 404, "not_found")
        # 城关区's complaint: its unit sees 七里河区's complaints nowhere in the answer
        r = self.svc.get("/api/v1/complaints/%d/similar?limit=50" % self.cid("NB-N"), token=self.tok["cg_unit"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(all(x["complaint"]["county"]["name"] == "城关区" for x in r.json["items"]), r.json)
        r = self.svc.get("/api/v1/complaints/%d/similar?limit=50" % self.cid("NB-N"), token=self.tok["office1"])
        self.assertIn("NB-0", [x["complaint"]["handover_no"] for x in r.json["items"]])

        for bad in ("0", "51", "x"):
            assert_problem(self, self.svc.get(url + "?limit=" + bad, token=self.tok["office1"]), 400,
                           "invalid_parameter")
        assert_problem(self, self.svc.get("/api/v1/complaints/999999999/similar", token=self.tok["office1"]),
                       404, "not_found")

    # --- exports --------------------------------------------------------------------

    def test_13_exports_without_personal_data(self):
        self.imp(csv_body([row("X-1", **{"举报人姓名": "隐私姓名", "联系电话": "13711112222"}),
                           row("X-2", content="=HYPERLINK(\"http://evil\")")]))
        r = self.svc.get("/api/v1/complaints/export?format=csv&q=X-", token=self.tok["cg_unit"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("text/csv"))
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"))
        table = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        self.assertEqual(table[0][0], "交办编号")
        self.assertNotIn("举报人姓名", table[0])
        self.assertEqual(sorted(t[0] for t in table[1:]), ["X-1", "X-2"])
        self.assertNotIn(b"13711112222", r.body)
        self.assertNotIn("隐私".encode(), r.body)
        self.assertNotIn(b"711****", r.body)
        self.assertIn("'=HYPERLINK", [t[4] for t in table[1:] if t[0] == "X-2"][0])
        r = self.svc.get("/api/v1/complaints/export?q=X-", token=self.tok["viewer1"],
                         headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
        self.assertEqual(r.status, 200, r)
        z = zipfile.ZipFile(io.BytesIO(r.body))
        xml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
        self.assertIn("交办编号", xml)
        self.assertIn("X-1", xml)
        self.assertNotIn("13711112222", xml)
        self.assertNotIn("隐私", xml)
        self.assertNotIn("举报人姓名", xml)
        # the office may export them, recorded in the audit trail
        assert_problem(self, self.svc.get("/api/v1/complaints/export?pii=true", token=self.tok["cg_unit"]),
                       403, "forbidden")
        r = self.svc.get("/api/v1/complaints/export?format=csv&q=X-1&pii=true", token=self.tok["office1"])
        self.assertIn("13711112222".encode(), r.body)
        self.assertEqual(self.q("SELECT purpose || ' ' || row_count FROM pii_reads ORDER BY id DESC LIMIT 1"),
                         "export 1")

    def test_13b_exports_stream_in_batches_with_personal_data_per_row(self):
        # 1 500 rows: two batches of the shared exporter (export.c, 1000 each); the
        # office's clear values are opened row by row and must stay with their row
        n = 1500
        rows = [row("PX-%04d" % i, content="第%d件：砂石厂扬尘" % i, **{"举报人姓名": "赵%s" % "一二三四五六七八九十"[i % 10],
                                                                      "联系电话": "137%08d" % i})
                for i in range(n)]
        self.assertEqual(self.imp(csv_body(rows)).json["summary"]["inserted"], n)
        reads = int(self.q("SELECT count(*) FROM pii_reads WHERE purpose = 'export'"))
        r = self.svc.get("/api/v1/complaints/export?format=csv&q=PX-&pii=true", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertIn("attachment", r.header("content-disposition"))
        table = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"))))
        head = table[0]
        self.assertEqual(head[:3], ["交办编号", "交办批次", "受理时间"])
        self.assertEqual(head[-4:], ["举报人姓名", "联系电话", "身份证号", "举报人地址"])
        self.assertEqual(len(table), n + 1)
        by_id = self.q("SELECT string_agg(handover_no, ',' ORDER BY id) FROM complaints WHERE handover_no LIKE 'PX-%'")
        self.assertEqual([t[0] for t in table[1:]], by_id.split(","))  # each once, in id order
        for t in table[1:]:
            i = int(t[0][3:])
            self.assertEqual(t[head.index("联系电话")], "137%08d" % i)
            self.assertEqual(t[head.index("举报人姓名")], "赵%s" % "一二三四五六七八九十"[i % 10])
            self.assertEqual(t[head.index("身份证号")], "")
        first = table[1]
        self.assertEqual((first[head.index("来源渠道")], first[head.index("件别")], first[head.index("办理状态")]),
                         ("电话", "一般件", "已接收"))
        self.assertRegex(first[head.index("受理时间")], r"^2023-11-24 09:12$")
        # one audited read per batch
        self.assertEqual(int(self.q("SELECT count(*) FROM pii_reads WHERE purpose = 'export'")), reads + 2)
        self.assertEqual(self.q("SELECT string_agg(row_count::text, ',' ORDER BY id) FROM (SELECT * FROM pii_reads"
                                " WHERE purpose = 'export' ORDER BY id DESC LIMIT 2) x"), "1000,500")
        self.assertNotIn("13700000042", self.svc.read_log())
        # XLSX for the office: the clear values; for a unit and the viewer none, in either format
        r = self.svc.get("/api/v1/complaints/export?format=xlsx&q=PX-000&pii=true", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("application/vnd.openxmlformats"))
        xml = "".join(zipfile.ZipFile(io.BytesIO(r.body)).read(f).decode("utf-8")
                      for f in zipfile.ZipFile(io.BytesIO(r.body)).namelist() if f.endswith(".xml"))
        self.assertIn("13700000009", xml)
        self.assertIn("联系电话", xml)
        for user in ("cg_unit", "viewer1"):
            for fmt in ("csv", "xlsx"):
                r = self.svc.get("/api/v1/complaints/export?format=%s&q=PX-" % fmt, token=self.tok[user])
                self.assertEqual(r.status, 200, (user, fmt, r))
                body = r.body if fmt == "csv" else "".join(
                    zipfile.ZipFile(io.BytesIO(r.body)).read(f).decode("utf-8")
                    for f in zipfile.ZipFile(io.BytesIO(r.body)).namelist()).encode()
                self.assertIn(b"PX-0042", body, (user, fmt))
                for secret in (b"13700000042", "赵".encode(), "联系电话".encode(), b"137****0042"):
                    self.assertNotIn(secret, body, (user, fmt, secret))
        # formats: ?format wins; Accept picks XLSX only when it names it; never 406
        assert_problem(self, self.svc.get("/api/v1/complaints/export?format=pdf", token=self.tok["office1"]),
                       400, "invalid_parameter")
        r = self.svc.get("/api/v1/complaints/export?q=PX-0001", token=self.tok["office1"],
                         headers={"Accept": "application/json"})
        self.assertEqual((r.status, r.header("content-type")), (200, "text/csv; charset=utf-8"))
        self.assertEqual(int(self.q("SELECT count(*) FROM pii_reads WHERE purpose = 'export'")), reads + 3)

    def test_14_batches(self):
        r = self.svc.post("/api/v1/complaint-batches", {"campaign_id": self.campaign, "batch_no": 40,
                                                        "handed_over_on": "2023-12-20", "expected_count": 52,
                                                        "acknowledged": True}, token=self.tok["office1"])
        self.assertEqual(r.status, 201, r)
        self.assertIsNotNone(r.json["acknowledged_at"])
        assert_problem(self, self.svc.post("/api/v1/complaint-batches", {"campaign_id": self.campaign, "batch_no": 40,
                                                                         "handed_over_on": "2023-12-20"},
                                           token=self.tok["office1"]), 409, "duplicate")
        assert_problem(self, self.svc.post("/api/v1/complaint-batches", {"campaign_id": self.campaign, "batch_no": 41,
                                                                         "handed_over_on": "2023-12-20"},
                                           token=self.tok["cg_unit"]), 403, "forbidden")
        items = self.svc.get("/api/v1/complaint-batches?campaign_id=%d" % self.campaign,
                             token=self.tok["viewer1"]).json["items"]
        self.assertIn(40, [b["batch_no"] for b in items])

    def test_16_list_filters_search_and_pages(self):
        """Every list filter, alone and combined, for the office and a county unit,
        against a reference computed here from the rows (0038 moved the filters into
        rectify.complaint_list_ids); q= over the four fields; county= is a subtree."""
        rows = [
            row("LF-1", county="城关区", content="尾矿库渗漏，下游农田受污染", 污染类型="土壤、水",
                被举报对象="甲矿业有限公司", 详细地址="黄河北岸1号", 受理时间="2023-12-01 10:00"),
            row("LF-2", county="七里河区", content="工地夜间施工噪声扰民ZQ", 污染类型="噪声",
                被举报对象="WK TailingsCo 有限公司", 详细地址="滨河路88号", 受理时间="2023-12-02 23:30"),
            row("LF-3", county="城关区", content="洗车店污水直排", 污染类型="水", 被举报对象="",
                详细地址="滨河路9号", 件别="重点件", 受理时间="2023-12-03 00:10"),
            row("LF-4", county="安宁区", content="某厂排放废气，煤场扬尘100%覆盖不到", 污染类型="大气",
                详细地址="北山坡", 受理时间="2023-12-03 12:00"),
            row("LF-5", county="秦州区", content="私挖滥采破坏植被", 污染类型="生态",
                被举报对象="某砂石场", 详细地址="", 受理时间="2023-12-04 08:00"),
            row("LF-6", county="城关区", content="又一次反映尾矿库渗漏", 污染类型="土壤",
                详细地址="黄河北岸2号", 受理时间="2023-12-05 08:00"),
        ]
        r = self.imp(csv_body([x[:1] + ["9"] + x[2:] for x in rows]))
        self.assertEqual(r.json["summary"]["inserted"], 6, r)
        org = {c: int(self.q("SELECT id FROM orgs WHERE code = '%s'" % c))
               for c in ("620100", "620102", "620103", "620500", "GS-EE")}
        # varied states: assigned to a county (overdue), to the province (not), a
        # verdict, a repeat group
        self.q("UPDATE complaints SET status = 'assigned', responsible_org_id = %d, deadline = '2020-01-31'"
               " WHERE handover_no = 'LF-2'" % org["620103"])
        self.q("UPDATE complaints SET status = 'assigned', responsible_org_id = %d, deadline = '2099-01-31'"
               " WHERE handover_no = 'LF-3'" % org["GS-EE"])
        self.q("UPDATE complaints SET status = 'rejected', verdict = 'false' WHERE handover_no = 'LF-4'")
        # a complaint of another prefecture handled by 城关区: the county unit sees it
        self.q("UPDATE complaints SET status = 'assigned', responsible_org_id = %d, deadline = '2099-01-31'"
               " WHERE handover_no = 'LF-5'" % org["620102"])
        g = int(self.q("INSERT INTO complaint_repeat_groups (case_plan) VALUES ('并案') RETURNING id"))
        self.q("UPDATE complaints SET repeat_group_id = %d WHERE handover_no IN ('LF-1', 'LF-6')" % g)
        batch = int(self.q("SELECT batch_id FROM complaints WHERE handover_no = 'LF-1'"))
        ref = []
        for line in self.q(
                "SELECT c.handover_no, c.status, c.grade, array_to_string(c.pollution_types, ','),"
                " c.county_org_path::text, c.owner_org_path::text, coalesce(c.responsible_org_id, 0),"
                " rectify.complaint_overdue(c.status, c.deadline), coalesce(c.verdict, ''),"
                " c.repeat_group_id IS NOT NULL, (c.received_at AT TIME ZONE 'Asia/Shanghai')::date::text"
                " FROM complaints c WHERE c.batch_id = %d ORDER BY c.id" % batch).splitlines():
            f = line.split("|")
            ref.append({"no": f[0], "status": f[1], "grade": f[2], "types": f[3].split(","),
                        "county": f[4].split("."), "owner": f[5].split("."), "resp": int(f[6]),
                        "overdue": f[7] == "t", "verdict": f[8], "rep": f[9] == "t", "day": f[10]})
        self.assertEqual(len(ref), 6)
        path = {k: self.q("SELECT path FROM orgs WHERE id = %d" % v).split(".") for k, v in org.items()}

        def under(p, root):
            return p[:len(root)] == root

        texts = {x[0]: (x[HEADER.index("举报内容")], x[HEADER.index("被举报对象")], x[0],
                        x[HEADER.index("详细地址")]) for x in rows}

        def expect(who, f):
            out = []
            for c in ref:
                if who == "cg_unit" and not (under(c["county"], path["620102"]) or under(c["owner"], path["620102"])):
                    continue
                if "status" in f and c["status"] != f["status"] or "grade" in f and c["grade"] != f["grade"]:
                    continue
                if "type" in f and f["type"] not in c["types"] or "verdict" in f and c["verdict"] != f["verdict"]:
                    continue
                if "county" in f and not under(c["county"], path[f["county"]]):
                    continue
                if "responsible_org_id" in f and c["resp"] != org[f["responsible_org_id"]]:
                    continue
                if "overdue" in f and c["overdue"] != (f["overdue"] == "true"):
                    continue
                if "has_repeats" in f and c["rep"] != (f["has_repeats"] == "true"):
                    continue
                if "received_from" in f and c["day"] < f["received_from"]:
                    continue
                if "received_to" in f and c["day"] > f["received_to"]:
                    continue
                if "q" in f and not any(f["q"].lower() in t.lower() for t in texts[c["no"]] if t):
                    continue
                out.append(c["no"])
            return out

        cases = [{}, {"status": "assigned"}, {"grade": "key"}, {"type": "soil"}, {"type": "radiation"},
                 {"county": "620100"}, {"county": "620102"}, {"county": "620500"}, {"county": "620103", "status": "assigned"},
                 {"responsible_org_id": "620103"}, {"responsible_org_id": "GS-EE"},
                 {"overdue": "true"}, {"overdue": "false"}, {"verdict": "false"},
                 {"has_repeats": "true"}, {"has_repeats": "false", "type": "water"},
                 {"received_from": "2023-12-02", "received_to": "2023-12-03"}, {"received_to": "2023-12-01"},
                 {"q": "尾矿库"}, {"q": "tailingsco"}, {"q": "lf-5"}, {"q": "滨河路"}, {"q": "100%"},
                 {"q": "ZQWK"}, {"q": "zq\x1fwk"}, {"q": "没有这个词"},
                 # common terms (test_09's 5000 rows): the office's search walks the list
                 {"q": "排放废气"}, {"q": "s-0"}, {"q": "排放"}, {"q": "尾矿库", "county": "620102", "has_repeats": "true"},
                 {"q": "滨河路", "status": "assigned", "overdue": "false"}]
        import urllib.parse
        for who in ("office1", "cg_unit"):
            for f in cases:
                qs = dict(f, batch_id=str(batch), campaign_id=str(self.campaign), limit="500")
                for k in ("county", "responsible_org_id"):
                    if k in f:
                        qs[k] = str(org[f[k]])
                r = self.svc.get("/api/v1/complaints?" + urllib.parse.urlencode(qs), token=self.tok[who])
                self.assertEqual(r.status, 200, r)
                self.assertEqual([x["handover_no"] for x in r.json["items"]], expect(who, f), (who, f))
                self.assertIsNone(r.json["next_cursor"])
        # pages of 2 by cursor give the same rows, in id order
        for who, f in (("office1", {}), ("office1", {"q": "尾矿库"}), ("cg_unit", {}), ("office1", {"county": "620100"})):
            seen, cursor = [], None
            while True:
                qs = dict(f, batch_id=str(batch), limit="2")
                if "county" in f:
                    qs["county"] = str(org[f["county"]])
                if cursor:
                    qs["cursor"] = cursor
                r = self.svc.get("/api/v1/complaints?" + urllib.parse.urlencode(qs), token=self.tok[who])
                self.assertEqual(r.status, 200, r)
                seen += [x["handover_no"] for x in r.json["items"]]
                cursor = r.json["next_cursor"]
                if not cursor:
                    break
            self.assertEqual(seen, expect(who, f), (who, f))
        # the export applies the same filters
        r = self.svc.get("/api/v1/complaints/export?format=csv&batch_id=%d&county=%d&q=%s"
                         % (batch, org["620102"], urllib.parse.quote("滨河路")), token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        got = [x[0] for x in csv.reader(io.StringIO(r.body.decode("utf-8-sig")))][1:]
        self.assertEqual(got, expect("office1", {"county": "620102", "q": "滨河路"}))
        r = self.svc.get("/api/v1/complaints/export?format=csv&batch_id=%d" % batch, token=self.tok["cg_unit"])
        got = [x[0] for x in csv.reader(io.StringIO(r.body.decode("utf-8-sig")))][1:]
        self.assertEqual(got, expect("cg_unit", {}))

    def test_15_audit_chain_still_verifies(self):
        r = self.svc.get("/api/v1/audit/verify", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r.json)


if __name__ == "__main__":
    harness.main()
