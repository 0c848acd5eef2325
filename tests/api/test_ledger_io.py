"""Ledger exports (CSV / XLSX) and imports (CSV, NDJSON, JSON array) of tasks
and problems: content parsed back, filters and org scoping, negotiation,
per-row errors, idempotent re-import, dry run, malformed files, permissions
and the audit trail — against the real service."""
import csv
import datetime
import io
import json
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile

import harness
from harness import assert_problem

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
TASK_HEADERS = ["编号", "问题编号", "任务名称", "整改目标", "具体措施", "牵头单位", "配合单位",
                "验收单位", "责任人", "职务", "完成时限类型", "完成时限", "阶段性目标",
                "延期后时限", "进度(%)", "状态", "预警等级", "是否逾期", "是否重新整改",
                "重新整改次数", "最近报送时间", "更新时间"]
PROBLEM_HEADERS = ["编号", "问题名称", "问题描述", "问题类别", "问题来源", "涉及地区", "牵头单位",
                   "责任人", "职务", "整改目标", "完成时限", "状态", "任务数", "更新时间"]
TODAY = datetime.date.today()


def day(offset):
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def parse_csv(resp):
    assert resp.body.startswith(b"\xef\xbb\xbf"), resp.body[:20]
    rows = list(csv.reader(io.StringIO(resp.body.decode("utf-8-sig"), newline="")))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def parse_xlsx(body):
    """(rows as lists of cell values by column letter order, styles xml, sheet xml)."""
    z = zipfile.ZipFile(io.BytesIO(body))
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % NS["m"])))
    sheet = z.read("xl/worksheets/sheet1.xml")
    root = ET.fromstring(sheet)
    rows = []
    for row in root.find("m:sheetData", NS).findall("m:row", NS):
        cells = {}
        for c in row.findall("m:c", NS):
            ref = "".join(ch for ch in c.get("r") if ch.isalpha())
            col = 0
            for ch in ref:
                col = col * 26 + ord(ch) - 64
            t = c.get("t")
            if t == "inlineStr":
                val = "".join(x.text or "" for x in c.iter("{%s}t" % NS["m"]))
            elif t == "s":
                val = shared[int(c.find("m:v", NS).text)]
            else:
                v = c.find("m:v", NS)
                val = float(v.text) if v is not None else None
            cells[col - 1] = (val, c.get("s"))
        width = max(cells) + 1 if cells else 0
        rows.append([cells.get(i, (None, None)) for i in range(width)])
    return rows, z.read("xl/styles.xml").decode(), sheet.decode()


def excel_date(serial):
    return (datetime.datetime(1899, 12, 30) + datetime.timedelta(days=serial))


class LedgerIO(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {
            "office": ("GS-OFFICE", ["office"]),
            "admin1": ("620000", ["admin"]),
            "viewer1": ("620000", ["viewer"]),
            "lanzhou": ("620100", ["unit"]),
            "chengguan": ("620102", ["unit"]),
            "qilihe": ("620103", ["unit"]),
        }
        for name, (org, roles) in users.items():
            harness.create_user(cls.db_url, name, org, roles)
        cls.tok = {name: cls.svc.login(name) for name in users}
        cls.org = {}
        for code in ("620000", "620100", "620102", "620103", "GS-EE", "GS-FG", "CEEPI-4"):
            cls.org[code] = int(cls.sql("SELECT id FROM orgs WHERE code = '%s'" % code))
        cls.campaign = cls.make_campaign(3)
        cls.p1 = cls.make_problem(cls.campaign, "1", "祁连山自然保护区生态修复不到位",
                                  "local_specific", "620100")
        cls.p2 = cls.make_problem(cls.campaign, "2", "黄河流域水污染防治存在短板",
                                  "provincial_sector", "GS-EE")
        cls.t1 = cls.make_task(cls.p1, "T-1", "620102", deadline=day(100),
                               co_org_ids=[cls.org["GS-EE"], cls.org["GS-FG"]],
                               measures=["制定整改方案，明确责任", "开展\"回头看\"核查", "-1 风险"],
                               stage_targets=[{"target": "完成方案", "due": day(30)}])
        cls.t2 = cls.make_task(cls.p1, "T-2", "620103", deadline=day(50))
        cls.t3 = cls.make_task(cls.p2, "T-3", "GS-EE", deadline_kind="immediate_then_ongoing",
                               deadline=None)
        r = cls.call("POST", "/api/v1/tasks/%d/transitions" % cls.t2["id"], "office",
                     {"action": "start"}, {"If-Match": '"1"'})
        assert r.status == 200, r

    # ------------------------------------------------------------ helpers
    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    @classmethod
    def call(cls, method, path, who, body=None, headers=None):
        return cls.svc.request(method, path, body=body, headers=headers, token=cls.tok[who])

    @classmethod
    def make_campaign(cls, rnd):
        r = cls.call("POST", "/api/v1/campaigns", "office", {
            "name": "第%d轮督察整改" % rnd, "round": rnd, "province_org_id": cls.org["620000"],
            "team_org_id": cls.org["CEEPI-4"]})
        assert r.status == 201, r
        return r.json["id"]

    @classmethod
    def make_problem(cls, campaign, code, title, category, lead):
        r = cls.call("POST", "/api/v1/problems", "office", {
            "campaign_id": campaign, "code": code, "title": title, "category": category,
            "lead_org_id": cls.org[lead], "target": "整改到位", "deadline": "2026-12-31"})
        assert r.status == 201, r
        return r.json

    @classmethod
    def make_task(cls, problem, code, lead, **over):
        body = {"problem_id": problem["id"], "code": code, "title": "整改任务 " + code,
                "target": "完成生态修复", "measures": ["制定整改方案"],
                "lead_org_id": cls.org[lead], "responsible_name": "张三",
                "responsible_post": "区长", "deadline": day(200)}
        body.update(over)
        body = {k: v for k, v in body.items() if v is not None}
        r = cls.call("POST", "/api/v1/tasks", "office", body)
        assert r.status == 201, r
        return r.json

    def export(self, what, who="office", headers=None, **params):
        path = "/api/v1/%s/export" % what
        if params:
            path += "?" + urllib.parse.urlencode(params)
        return self.call("GET", path, who, headers=headers)

    def imp(self, what, body, ctype, who="office", campaign=None, **params):
        params["campaign"] = campaign or self.campaign
        path = "/api/v1/%s/import?%s" % (what, urllib.parse.urlencode(params))
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.call("POST", path, who, body=body, headers={"Content-Type": ctype})

    def count(self, table, campaign):
        return int(self.sql("SELECT count(*) FROM %s WHERE campaign_id = %d" % (table, campaign)))


class Exports(LedgerIO):
    def test_csv_export(self):
        r = self.export("tasks", campaign=self.campaign, headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type").startswith("text/csv"), r.headers)
        self.assertEqual(r.header("transfer-encoding"), "chunked")
        cd = r.header("content-disposition")
        self.assertTrue(cd.startswith("attachment;"), cd)
        self.assertIn("filename*=UTF-8''" + urllib.parse.quote("整改任务台账"), cd)
        self.assertIn(b"\r\n", r.body)
        header, rows = parse_csv(r)
        self.assertEqual(header, TASK_HEADERS)
        self.assertEqual([x["编号"] for x in rows], ["T-2", "T-1", "T-3"])  # deadline order
        t1 = rows[1]
        self.assertEqual(t1["问题编号"], "1")
        self.assertEqual(t1["任务名称"], "整改任务 T-1")
        self.assertEqual(t1["具体措施"].split("\n"),
                         ["制定整改方案，明确责任", "开展\"回头看\"核查", "-1 风险"])
        self.assertEqual(t1["牵头单位"], "城关区")
        self.assertEqual(t1["配合单位"], "甘肃省生态环境厅、甘肃省林业和草原局")
        self.assertEqual(t1["完成时限类型"], "限期完成")
        self.assertEqual(t1["完成时限"], day(100))
        self.assertEqual(t1["阶段性目标"], day(30) + " 完成方案")
        self.assertEqual(t1["状态"], "待启动")
        self.assertEqual(t1["进度(%)"], "0")
        self.assertIn(t1["预警等级"], ("绿色", "黄色", "红色"))
        self.assertEqual(t1["是否重新整改"], "否")
        self.assertEqual(rows[0]["状态"], "整改中")
        self.assertEqual(rows[2]["完成时限类型"], "立行立改、长期坚持")
        self.assertEqual(rows[2]["完成时限"], "")
        # Accept absent or */*: CSV
        r = self.export("tasks", campaign=self.campaign, headers={"Accept": "*/*"})
        self.assertTrue(r.header("content-type").startswith("text/csv"))

    def test_xlsx_export(self):
        r = self.export("tasks", campaign=self.campaign, headers={"Accept": XLSX})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), XLSX)
        self.assertIn(".xlsx", urllib.parse.unquote(r.header("content-disposition")))
        rows, styles, sheet = parse_xlsx(r.body)
        self.assertEqual([v for v, _ in rows[0]], TASK_HEADERS)
        self.assertIn("<b/>", styles)                        # a bold font for the header
        self.assertIsNotNone(rows[0][0][1])                  # header cells carry a style
        self.assertIn("<col ", sheet)                        # column widths
        self.assertIn("pane", sheet)                         # frozen header row
        self.assertEqual([row[0][0] for row in rows[1:]], ["T-2", "T-1", "T-3"])
        t1 = rows[2]
        deadline = t1[TASK_HEADERS.index("完成时限")]
        self.assertIsInstance(deadline[0], float)            # a date, not text
        self.assertIsNotNone(deadline[1])
        self.assertEqual(excel_date(deadline[0]).date().isoformat(), day(100))
        self.assertEqual(t1[TASK_HEADERS.index("进度(%)")][0], 0.0)
        self.assertEqual(t1[TASK_HEADERS.index("具体措施")][0].split("\n")[0], "制定整改方案，明确责任")
        updated = t1[TASK_HEADERS.index("更新时间")][0]
        self.assertIsInstance(updated, float)
        self.assertLess(abs(excel_date(updated).date() - TODAY), datetime.timedelta(days=2))
        # format= wins over Accept
        r = self.export("tasks", campaign=self.campaign, format="xlsx", headers={"Accept": "text/csv"})
        self.assertEqual(r.header("content-type"), XLSX)
        r = self.export("problems", campaign=self.campaign, format="xlsx")
        self.assertEqual(r.status, 200, r)
        rows, _, _ = parse_xlsx(r.body)
        self.assertEqual([v for v, _ in rows[0]], PROBLEM_HEADERS)
        self.assertEqual([row[0][0] for row in rows[1:]], ["1", "2"])

    def test_filters_and_scope(self):
        _, rows = parse_csv(self.export("tasks", campaign=self.campaign,
                                        lead_org=self.org["620103"]))
        self.assertEqual([x["编号"] for x in rows], ["T-2"])
        _, rows = parse_csv(self.export("tasks", campaign=self.campaign, status="pending"))
        self.assertEqual(sorted(x["编号"] for x in rows), ["T-1", "T-3"])
        _, rows = parse_csv(self.export("tasks", campaign=self.campaign, q="回头看"))
        self.assertEqual([x["编号"] for x in rows], ["T-1"])
        _, rows = parse_csv(self.export("tasks", campaign=self.campaign, problem=self.p2["id"]))
        self.assertEqual([x["编号"] for x in rows], ["T-3"])
        # a county exports only what it sees
        _, rows = parse_csv(self.export("tasks", "qilihe", campaign=self.campaign))
        self.assertEqual([x["编号"] for x in rows], ["T-2"])
        _, rows = parse_csv(self.export("tasks", "chengguan", campaign=self.campaign))
        self.assertEqual([x["编号"] for x in rows], ["T-1"])
        _, rows = parse_csv(self.export("tasks", "lanzhou", campaign=self.campaign))
        self.assertEqual(sorted(x["编号"] for x in rows), ["T-1", "T-2"])
        _, rows = parse_csv(self.export("tasks", "viewer1", campaign=self.campaign))
        self.assertEqual(len(rows), 3)
        header, rows = parse_csv(self.export("problems", campaign=self.campaign,
                                             category="provincial_sector"))
        self.assertEqual(header, PROBLEM_HEADERS)
        self.assertEqual([x["编号"] for x in rows], ["2"])
        self.assertEqual(rows[0]["问题类别"], "省级行业主管领域")
        self.assertEqual(rows[0]["任务数"], "1")
        _, rows = parse_csv(self.export("problems", "qilihe", campaign=self.campaign))
        self.assertEqual([x["编号"] for x in rows], ["1"])    # seen through its task

    def test_negotiation_and_parameters(self):
        r = self.export("tasks", headers={"Accept": "application/pdf"})
        assert_problem(self, r, 406, "not_acceptable")
        r = self.export("tasks", headers={"Accept": "text/csv;q=0.5, " + XLSX})
        self.assertEqual(r.header("content-type"), XLSX)
        r = self.export("tasks", headers={"Accept": "application/pdf"}, format="csv")
        self.assertEqual(r.status, 200)
        doc = assert_problem(self, self.export("tasks", format="pdf"), 400, "invalid_parameter")
        self.assertEqual(doc["errors"][0]["parameter"], "format")
        doc = assert_problem(self, self.export("tasks", status="nope"), 400, "invalid_parameter")
        self.assertEqual(doc["errors"][0]["parameter"], "status")
        r = self.svc.request("GET", "/api/v1/tasks/export")
        assert_problem(self, r, 401, "unauthorized")


class Imports(LedgerIO):
    CSV_HEADER = "编号,问题编号,任务名称,整改目标,具体措施,牵头单位,配合单位,责任人,职务,完成时限类型,完成时限,阶段性目标\r\n"

    def test_csv_import_idempotent_and_audited(self):
        c = self.make_campaign(11)
        self.make_problem(c, "A", "工业园区污水处理设施不完善", "macro_common", "620100")
        body = ("\ufeff" + self.CSV_HEADER +
                'X-1,A,污水管网改造,"管网全覆盖,雨污分流","制定方案\n完成改造",城关区,'
                '"甘肃省生态环境厅、GS-FG",李四,副区长,,2026/6/30,"2026-01-31 完成设计\n2026-03-31：开工"\r\n'
                "X-2,A,在线监测,,,620103,,,,立行立改、长期坚持,,\r\n"
                "X-3,A,执法检查,,,兰州市七里河区,,,,,长期坚持,\r\n")
        r = self.imp("tasks", body, "text/csv", campaign=c)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"], {"rows": 3, "inserted": 3, "updated": 0,
                                             "unchanged": 0, "failed": 0}, r.json)
        self.assertEqual(r.json["failed"], [])
        t = json.loads(self.sql(
            "SELECT row_to_json(t) FROM tasks t WHERE campaign_id = %d AND code = 'X-1'" % c))
        self.assertEqual(t["measures"], ["制定方案", "完成改造"])
        self.assertEqual(t["target"], "管网全覆盖,雨污分流")
        self.assertEqual(t["owner_org_id"], self.org["620102"])
        self.assertEqual(t["co_org_ids"], [self.org["GS-EE"], self.org["GS-FG"]])
        self.assertEqual(t["deadline"], "2026-06-30")
        self.assertEqual(t["stage_targets"], [{"target": "完成设计", "due": "2026-01-31"},
                                              {"target": "开工", "due": "2026-03-31"}])
        kinds = self.sql("SELECT string_agg(code || ':' || deadline_kind, ',' ORDER BY code)"
                         " FROM tasks WHERE campaign_id = %d" % c)
        self.assertEqual(kinds, "X-1:date,X-2:immediate_then_ongoing,X-3:ongoing")
        ids = self.sql("SELECT string_agg(id::text, ',') FROM tasks WHERE campaign_id = %d" % c)
        self.assertEqual(int(self.sql("SELECT count(*) FROM audit_log WHERE table_name = 'tasks'"
                                      " AND row_id IN (%s)" % ",".join("'%s'" % i for i in ids.split(",")))), 3)
        # the same file again: nothing changes
        r = self.imp("tasks", body, "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["unchanged"], 3, r.json)
        self.assertEqual(r.json["summary"]["inserted"] + r.json["summary"]["updated"], 0)
        audit_before = int(self.sql("SELECT count(*) FROM audit_log"))
        # one changed cell: one update, audited
        r = self.imp("tasks", body.replace("李四", "王五"), "text/csv", campaign=c)
        self.assertEqual(r.json["summary"], {"rows": 3, "inserted": 0, "updated": 1,
                                             "unchanged": 2, "failed": 0}, r.json)
        self.assertEqual(int(self.sql("SELECT count(*) FROM audit_log")), audit_before + 1)
        # a file without a column leaves that field alone
        r = self.imp("tasks", "编号,任务名称\nX-1,污水管网改造（二期）\n", "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["updated"], 1, r.json)
        self.assertEqual(self.sql("SELECT responsible_name || '|' || title FROM tasks WHERE"
                                  " campaign_id = %d AND code = 'X-1'" % c), "王五|污水管网改造（二期）")

    def test_export_imports_back_unchanged(self):
        for what, n in (("problems", 2), ("tasks", 3)):
            r = self.export(what, campaign=self.campaign, format="csv")
            self.assertEqual(r.status, 200)
            r = self.imp(what, r.body, "text/csv; charset=utf-8")
            self.assertEqual(r.status, 207, r)
            self.assertEqual(r.json["summary"], {"rows": n, "inserted": 0, "updated": 0,
                                                 "unchanged": n, "failed": 0}, r.json)

    def test_ndjson_and_json_array(self):
        c = self.make_campaign(12)
        p = self.make_problem(c, "B", "尾矿库环境风险隐患突出", "local_specific", "620100")
        rows = [
            {"code": "N-1", "problem_id": p["id"], "title": "尾矿库闭库", "lead_org_id": self.org["620102"],
             "co_org_ids": [self.org["GS-EE"]], "measures": ["排查", "闭库"], "deadline": "2026-05-01",
             "stage_targets": [{"target": "排查完成", "due": "2026-02-01"}]},
            {"code": "N-2", "problem_code": "B", "title": "渗滤液治理", "lead_org": "GS-EE",
             "co_orgs": ["城关区"], "deadline_kind": "ongoing", "responsible_name": "赵六"},
        ]
        body = "\n".join(json.dumps(x, ensure_ascii=False) for x in rows) + "\n\n"
        r = self.imp("tasks", body, "application/x-ndjson", campaign=c)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["inserted"], 2, r.json)
        r = self.imp("tasks", body, "application/x-ndjson", campaign=c)
        self.assertEqual(r.json["summary"]["unchanged"], 2, r.json)
        # the task API's own output is importable as a JSON array
        items = self.call("GET", "/api/v1/tasks?campaign=%d" % c, "office").json["items"]
        for it in items:
            it["problem_id"] = it.pop("problem_id")
        r = self.imp("tasks", json.dumps(items), "application/json", campaign=c)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"]["unchanged"], 2, r.json)
        rows[1]["title"] = "渗滤液治理（提标）"
        rows.append({"code": "N-3", "problem_code": "B", "title": "新任务", "lead_org": "城关区",
                     "deadline": "2026年9月30日"})
        r = self.imp("tasks", json.dumps(rows), "application/json", campaign=c)
        self.assertEqual(r.json["summary"], {"rows": 3, "inserted": 1, "updated": 1,
                                             "unchanged": 1, "failed": 0}, r.json)
        self.assertEqual(self.sql("SELECT deadline FROM tasks WHERE campaign_id = %d AND code = 'N-3'" % c),
                         "2026-09-30")

    def test_row_errors(self):
        c = self.make_campaign(13)
        self.make_problem(c, "C", "荒漠化治理滞后", "local_specific", "620100")
        body = (self.CSV_HEADER +
                "E-1,C,好任务,,,城关区,,,,,2026-01-01,\n"
                "E-2,C,坏单位,,,不存在的单位,,,,,2026-01-01,\n"
                "E-3,C,坏日期,,,城关区,,,,,2026-02-30,\n"
                ",C,没有编号,,,城关区,,,,,2026-01-01,\n"
                "E-1,C,重复编号,,,城关区,,,,,2026-01-01,\n"
                "E-5,Z,未知问题,,,城关区,,,,,2026-01-01,\n"
                "E-6,C,坏配合,,,城关区,火星办,,,,2026-01-01,\n"
                "E-7,C,缺时限,,,城关区,,,,,,\n"
                "E-8,C,,,,城关区,,,,长期坚持,2026-01-01,\n")
        r = self.imp("tasks", body, "text/csv", campaign=c)
        self.assertEqual(r.status, 207, r)
        s = r.json["summary"]
        self.assertEqual((s["rows"], s["inserted"], s["failed"]), (9, 1, 8), r.json)
        failed = {f["row"]: f for f in r.json["failed"]}
        self.assertEqual(sorted(failed), [2, 3, 4, 5, 6, 7, 8, 9])

        def only(row, pointer, words):
            f = failed[row]
            self.assertEqual(f["line"], row + 1)
            self.assertIn(pointer, [e["pointer"] for e in f["errors"]], f)
            msg = " ".join(e["message"] for e in f["errors"] if e["pointer"] == pointer)
            self.assertIn(words, msg, f)
        only(2, "/lead_org", "no organisation")
        self.assertEqual(failed[2]["code"], "E-2")
        self.assertEqual(failed[2]["errors"][0]["column"], "牵头单位")
        only(3, "/deadline", "date")
        only(4, "/code", "required")
        self.assertIsNone(failed[4]["code"])
        only(5, "/code", "repeats the code of row 1")
        only(6, "/problem_code", "no problem")
        only(7, "/co_orgs", "火星办")
        only(8, "/deadline", "required")
        only(9, "/title", "required")
        self.assertEqual(self.count("tasks", c), 1)

    def test_dry_run_writes_nothing(self):
        c = self.make_campaign(14)
        self.make_problem(c, "D", "大气污染防治不力", "macro_common", "620100")
        body = self.CSV_HEADER + "D-1,D,任务,,,城关区,,,,,2026-01-01,\nD-2,D,任务,,,火星,,,,,2026-01-01,\n"
        audit = int(self.sql("SELECT count(*) FROM audit_log"))
        r = self.imp("tasks", body, "text/csv", campaign=c, dry_run="true")
        self.assertEqual(r.status, 207, r)
        self.assertTrue(r.json["dry_run"])
        self.assertEqual(r.json["summary"], {"rows": 2, "inserted": 1, "updated": 0,
                                             "unchanged": 0, "failed": 1}, r.json)
        self.assertEqual(self.count("tasks", c), 0)
        self.assertEqual(int(self.sql("SELECT count(*) FROM audit_log")), audit)
        r = self.imp("tasks", body, "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["inserted"], 1)
        r = self.imp("tasks", body.replace(",任务,", ",新任务,", 1), "text/csv", campaign=c, dry_run="true")
        self.assertEqual(r.json["summary"]["updated"], 1, r.json)
        self.assertEqual(self.sql("SELECT title FROM tasks WHERE campaign_id = %d" % c), "任务")

    def test_malformed_files(self):
        c = self.make_campaign(15)
        self.make_problem(c, "F", "问题", "macro_common", "620100")
        good = self.CSV_HEADER + "F-1,F,任务,,,城关区,,,,,2026-01-01,\n"
        cases = [
            (good + 'F-2,F,任"务,,,城关区,,,,,2026-01-01,\n', "text/csv", "csv_quote", 3, 8),
            (good + 'F-2,F,"未闭合,,,城关区\n', "text/csv", "csv_unterminated_quote", 3, 7),
            ((good + "F-2,F,任务,,,城关区\n").encode() + b"F-3,\xff\n", "text/csv", "csv_invalid_utf8", 4, 5),
            # cJSON points just past the character it could not take ("o" is column 17)
            ('{"code": "F-1", "problem_code": "F", "title": "t", "lead_org": "城关区", "deadline": "2026-01-01"}\n'
             '{"code": "F-2", oops}\n', "application/x-ndjson", "malformed_json", 2, 18),
            (b'{"code": "F-1"}\n{"code": "\xc3("}\n', "application/x-ndjson", "invalid_utf8", 2, 11),
            ('[{"code": "F-1"},\n {"code": }]', "application/json", "malformed_json", 2, 11),
            (b'[{"code": "\xe5\x9f\x8e\xff"}]', "application/json", "invalid_utf8", 1, 13),
        ]
        for body, ctype, code, line, col in cases:
            with self.subTest(code=code, ctype=ctype):
                r = self.imp("tasks", body, ctype, campaign=c)
                doc = assert_problem(self, r, 400, code)
                self.assertEqual((doc["line"], doc["column"]), (line, col), doc)
        self.assertEqual(self.count("tasks", c), 0)          # the valid first rows were not written
        doc = assert_problem(self, self.imp("tasks", "编号,任务名称,颜色,尺寸\nF-1,x,红,大\n", "text/csv",
                                            campaign=c), 400, "unknown_column")
        self.assertEqual(doc["columns"], ["颜色", "尺寸"])
        self.assertIn("颜色", doc["detail"])
        assert_problem(self, self.imp("tasks", "任务名称\nx\n", "text/csv", campaign=c), 400, "missing_column")
        assert_problem(self, self.imp("tasks", "编号,编号\n", "text/csv", campaign=c), 400, "duplicate_column")
        assert_problem(self, self.imp("tasks", "", "text/csv", campaign=c), 400, "empty_file")
        assert_problem(self, self.imp("tasks", '{"code": "x"}', "application/json", campaign=c),
                       400, "malformed_json")
        assert_problem(self, self.imp("tasks", "a", "text/plain", campaign=c), 415, "unsupported_media_type")
        assert_problem(self, self.imp("tasks", good, "text/csv", campaign=999999), 422, "unknown_campaign")
        r = self.call("POST", "/api/v1/tasks/import", "office", body=good.encode(),
                      headers={"Content-Type": "text/csv"})
        doc = assert_problem(self, r, 400, "invalid_parameter")
        self.assertEqual(doc["errors"][0]["parameter"], "campaign")
        self.assertEqual(self.count("tasks", c), 0)

    def test_permissions(self):
        body = self.CSV_HEADER
        for who in ("chengguan", "lanzhou", "viewer1"):
            assert_problem(self, self.imp("tasks", body, "text/csv", who=who), 403, "forbidden")
            assert_problem(self, self.imp("problems", "编号\n", "text/csv", who=who), 403, "forbidden")
        r = self.imp("tasks", body, "text/csv", who="admin1")
        self.assertEqual(r.status, 207, r)

    def test_problem_import(self):
        c = self.make_campaign(16)
        body = ("编号,问题名称,问题描述,问题类别,问题来源,涉及地区,牵头单位,责任人,职务,整改目标,完成时限\n"
                "1,祁连山生态破坏,\"描述，含逗号\",辖区具体,督察报告,\"城关区、620103\",兰州市,王伟,副市长,全面修复,2026-12-31\n"
                "2,黄河水污染,,provincial_sector,警示片,,GS-EE,,,,\n"
                "3,坏类别,,不知道,,,GS-EE,,,,\n"
                "4,没有类别,,,,,GS-EE,,,,\n")
        r = self.imp("problems", body, "text/csv", campaign=c)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"], {"rows": 4, "inserted": 2, "updated": 0,
                                             "unchanged": 0, "failed": 2}, r.json)
        pointers = {f["row"]: f["errors"][0]["pointer"] for f in r.json["failed"]}
        self.assertEqual(pointers, {3: "/category", 4: "/category"})
        p = json.loads(self.sql("SELECT row_to_json(p) FROM problems p WHERE campaign_id = %d"
                                " AND code = '1'" % c))
        self.assertEqual(p["region_org_ids"], [self.org["620102"], self.org["620103"]])
        self.assertEqual(p["source"], "report")
        self.assertEqual(p["category"], "local_specific")
        r = self.imp("problems", body, "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["unchanged"], 2, r.json)
        # tasks of the imported problems, then their export imports back unchanged
        r = self.imp("tasks", "编号,问题编号,任务名称,牵头单位,完成时限\nQ-1,1,修复,620102,2026-01-01\n",
                     "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["inserted"], 1, r.json)
        exp = self.export("problems", campaign=c, format="csv")
        _, rows = parse_csv(exp)
        self.assertEqual(rows[0]["涉及地区"], "城关区、七里河区")
        self.assertEqual(rows[0]["任务数"], "1")
        r = self.imp("problems", exp.body, "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["unchanged"], 2, r.json)


class LargeExport(LedgerIO):
    def test_batches(self):
        """More rows than one batch: every row once, in order."""
        c = self.make_campaign(20)
        self.make_problem(c, "L", "批量", "macro_common", "620100")
        n = 2345
        lines = ["编号,问题编号,任务名称,牵头单位,完成时限"]
        for i in range(n):
            lines.append("L-%05d,L,任务%d,%s,%s" % (i, i, "城关区" if i % 3 else "七里河区",
                                                  day(i % 400)))
        r = self.imp("tasks", "\n".join(lines), "text/csv", campaign=c)
        self.assertEqual(r.json["summary"]["inserted"], n, r.json)
        _, rows = parse_csv(self.export("tasks", campaign=c))
        self.assertEqual(len(rows), n)
        self.assertEqual(len({x["编号"] for x in rows}), n)
        keys = [(x["完成时限"], x["编号"]) for x in rows]
        self.assertEqual([k[0] for k in keys], sorted(k[0] for k in keys))
        _, rows = parse_csv(self.export("tasks", "qilihe", campaign=c))
        self.assertEqual(len(rows), len(range(0, n, 3)))
        xrows, _, _ = parse_xlsx(self.export("tasks", campaign=c, format="xlsx").body)
        self.assertEqual(len(xrows), n + 1)


if __name__ == "__main__":
    harness.main()
