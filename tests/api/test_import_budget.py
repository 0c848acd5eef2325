"""Large complaint imports and their time budget (issue 10, item 5), a dry run
that predicts the real run (item 7), and a %00 in a query value (refused).

- A 20 000-row atomic import succeeds on a service whose database connections
  have flushed the audit trail many times before (the audit flush was O(n²)
  there: a cached plan scanned the whole queue in every step of the chain).
- RECTIFY_IMPORT_TIMEOUT bounds an import; past it the answer is 503 `timeout`
  and an atomic import has written nothing.
- A client that goes away mid-upload leaves nothing written (atomic).
- A 城关区 integration user importing a hand-over number that 崆峒区 already
  uses: the dry run and the real run give the same per-row answer (that row
  fails with `conflict`, the others go on), and the answer does not say
  where the number is used."""
import csv
import io
import json
import socket
import time

import harness
from harness import assert_problem

HEADER = ["交办编号", "交办批次", "受理时间", "来源渠道", "举报内容", "污染类型", "所在县区", "详细地址",
          "举报人姓名", "联系电话"]
COUNTIES = ["城关区", "七里河区", "西固区", "安宁区", "崆峒区", "甘州区", "肃州区", "秦州区"]


def csv_body(rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(HEADER)
    for r in rows:
        w.writerow(r)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def row(no, county="城关区", i=0):
    return [no, str(i // 4000 + 1), "2023-11-%02d 09:%02d" % (1 + i % 28, i % 60), "电话",
            "%s某企业夜间偷排污水，群众多次反映（第%d件）" % (county, i), "水、大气", county,
            "%s某路%d号" % (county, i % 997), "王小明", "139%08d" % i]


def many(prefix, n):
    return [row("%s%06d" % (prefix, i), COUNTIES[i % len(COUNTIES)], i) for i in range(n)]


def http_head(port, path, token, length):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: text/csv\r\nContent-Length: %d\r\n\r\n"
            % (path, port, token, length)).encode("ascii")


class ImportBudget(harness.ServiceTestCase):
    # Two connections: each has flushed the audit queue many times before the
    # big import (the state in which the old flush was quadratic).
    service_env = {"RECTIFY_DB_POOL": "2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        db = cls.db_name
        harness.psql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                     "('第三轮中央生态环境保护督察', 3, (SELECT id FROM orgs WHERE code = '620000'))", db)
        cls.campaign = int(harness.psql("SELECT max(id) FROM campaigns", db))
        for user, org, roles in (("office1", "GS-OFFICE", ["office"]),
                                 ("cg_platform", "620102", ["integration"])):
            harness.create_user(cls.db_url, user, org, roles)
        cls.tok = {u: cls.svc.login(u) for u in ("office1", "cg_platform")}

    def q(self, sql):
        return harness.psql(sql, self.db_name)

    def path(self, query=""):
        return "/api/v1/complaints/import?campaign_id=%d%s" % (self.campaign, query)

    def imp(self, body, user="office1", query="", timeout=60):
        conn = self.svc.connection(timeout=timeout)
        try:
            return self.svc.post(self.path(query), body=body, conn=conn, token=self.tok[user],
                                 headers={"Content-Type": "text/csv; charset=utf-8"})
        finally:
            conn.close()

    def wait_for_access_log(self, path_prefix, count, timeout=30):
        """Waits until `count` access-log lines for paths starting with path_prefix exist."""
        deadline = time.time() + timeout * harness.SLOW
        while time.time() < deadline:
            lines = [l for l in self.svc.log_lines()
                     if str(l.get("path", "")).startswith(path_prefix) and "status" in l]
            if len(lines) >= count:
                return lines
            time.sleep(0.2)
        self.fail("no access log line for %s:\n%s" % (path_prefix, self.svc.read_log()[-3000:]))

    def import_lines(self):
        return len([l for l in self.svc.log_lines()
                    if str(l.get("path", "")) == "/api/v1/complaints/import" and "status" in l])

    # --- item 5 ------------------------------------------------------------------

    def test_01_atomic_20000_rows_on_warm_connections(self):
        # autovacuum empties audit_pending; small writes then leave a plan made for an
        # empty queue in each connection's cache
        self.q("VACUUM ANALYZE audit_pending")
        for i in range(16):
            r = self.imp(csv_body([row("W-%02d" % i, "城关区", i)]))
            self.assertEqual(r.status, 207, r)
        body = csv_body(many("B", 20000))
        t0 = time.time()
        r = self.imp(body, query="&mode=atomic", timeout=240)
        elapsed = time.time() - t0
        print("20 000-row atomic complaint import: %.1f s" % elapsed)
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json["summary"], {"rows": 20000, "inserted": 20000, "updated": 0,
                                             "unchanged": 0, "failed": 0})
        self.assertLess(elapsed, 120 * harness.SLOW, "it took %.1f s" % elapsed)
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'B%'"), "20000")
        self.assertEqual(self.q("SELECT count(*) FROM audit_log WHERE table_name = 'complaints'"
                                " AND action = 'insert' AND row_id IN (SELECT id::text FROM complaints"
                                " WHERE handover_no LIKE 'B%')"), "20000")
        self.assertEqual(self.q("SELECT count(*) FROM audit_pending"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM complaint_import_chunks"), "0")
        r = self.svc.get("/api/v1/audit/verify", token=self.tok["office1"])
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r.json)

    def test_02_time_budget_bounds_an_atomic_import(self):
        svc = harness.Service(self.db_url, extra_env={"RECTIFY_IMPORT_TIMEOUT": "1"})
        try:
            token = svc.login("office1")
            rows = many("T", 1500)
            first, rest = csv_body(rows[:1200]), csv_body(rows[1200:]).split(b"\r\n", 1)[1]
            s = socket.create_connection(("127.0.0.1", svc.port), timeout=30 * harness.SLOW)
            try:
                s.sendall(http_head(svc.port, self.path("&mode=atomic"), token, len(first) + len(rest)))
                s.sendall(first)          # the first batch goes to the database at once
                time.sleep(2)             # the budget (1 s) runs out
                s.sendall(rest)
                s.shutdown(socket.SHUT_WR)
                out = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            finally:
                s.close()
            head, _, body = out.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 503"), out[:300])
            doc = json.loads(body)
            self.assertEqual(doc["code"], "timeout", doc)
            self.assertIn("RECTIFY_IMPORT_TIMEOUT", doc["detail"])
        finally:
            svc.stop()
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'T%'"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM complaint_import_chunks"), "0")

    def test_03_client_gone_mid_import_leaves_nothing_atomic(self):
        body = csv_body(many("D", 6000))
        before = self.import_lines()
        s = socket.create_connection(("127.0.0.1", self.svc.port), timeout=30)
        s.sendall(http_head(self.svc.port, self.path("&mode=atomic"), self.tok["office1"], len(body)))
        s.sendall(body[:len(body) // 2])       # three batches staged, then the client is gone
        time.sleep(0.5)
        s.close()
        deadline = time.time() + 30 * harness.SLOW
        while self.import_lines() <= before and time.time() < deadline:
            time.sleep(0.2)
        self.assertGreater(self.import_lines(), before, "the import never ended")
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'D%'"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM complaint_import_chunks"), "0")

    # --- item 7 ------------------------------------------------------------------

    def test_04_dry_run_predicts_a_number_used_outside_the_scope(self):
        r = self.imp(csv_body([row("KT-0001", "崆峒区")]))
        self.assertEqual(r.json["summary"]["inserted"], 1, r)
        kt = self.q("SELECT row_to_json(c)::text FROM complaints c WHERE handover_no = 'KT-0001'")
        audit_before = self.q("SELECT count(*) FROM audit_log")
        rows = [row("CG-0001", "城关区", 1), row("KT-0001", "城关区", 2), row("CG-0002", "城关区", 3)]

        def answer(resp):
            return [(x["row"], x["handover_no"], x["status"], x.get("errors")) for x in resp.json["results"]]

        dry = self.imp(csv_body(rows), user="cg_platform", query="&dry_run=true&verbose=true")
        self.assertEqual(dry.status, 207, dry)
        self.assertEqual(dry.json["summary"], {"rows": 3, "inserted": 2, "updated": 0, "unchanged": 0,
                                               "failed": 1})
        # the dry run wrote nothing
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'CG-%'"), "0")
        self.assertEqual(self.q("SELECT count(*) FROM audit_log"), audit_before)

        atomic = self.imp(csv_body(rows), user="cg_platform", query="&mode=atomic")
        doc = assert_problem(self, atomic, 422, "import_rejected")
        self.assertEqual([(x["row"], x["handover_no"], x["status"], x.get("errors")) for x in doc["results"]],
                         [a for a in answer(dry) if a[2] == "failed"])
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'CG-%'"), "0")

        real = self.imp(csv_body(rows), user="cg_platform", query="&verbose=true")
        self.assertEqual(real.status, 207, real)
        self.assertEqual(real.json["summary"], dry.json["summary"])
        self.assertEqual(answer(real), answer(dry))
        failed = [x for x in real.json["results"] if x["status"] == "failed"]
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["handover_no"], "KT-0001")
        self.assertEqual([(e["field"], e["code"]) for e in failed[0]["errors"]], [("handover_no", "conflict")])
        # no word of where the number is used
        text = json.dumps(real.json, ensure_ascii=False) + json.dumps(doc, ensure_ascii=False)
        for leak in ("崆峒", "620802", "平凉", "exist", "another", "other org", "scope"):
            self.assertNotIn(leak, text)
        # the other rows went in; 崆峒区's complaint is untouched
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no LIKE 'CG-%'"), "2")
        self.assertEqual(self.q("SELECT row_to_json(c)::text FROM complaints c WHERE handover_no = 'KT-0001'"), kt)
        # the integration user still cannot see it
        r = self.svc.get("/api/v1/complaints?q=KT-0001", token=self.tok["cg_platform"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["items"], [])

    def test_05_rows_in_scope_update_alike_in_dry_and_real_run(self):
        rows = [row("CG-0100", "城关区", 7)]
        self.assertEqual(self.imp(csv_body(rows), user="cg_platform").json["summary"]["inserted"], 1)
        rows[0][4] = "河边有工厂夜间偷排污水，已持续三个月"
        dry = self.imp(csv_body(rows), user="cg_platform", query="&dry_run=true")
        real = self.imp(csv_body(rows), user="cg_platform")
        self.assertEqual(dry.json["summary"], real.json["summary"])
        self.assertEqual(real.json["summary"]["updated"], 1)

    def test_07_a_county_outside_the_scope_fails_its_row_alike_in_dry_and_real_run(self):
        rows = [row("CG-0200", "城关区", 1), row("CG-0201", "崆峒区", 2), row("CG-0202", "城关区", 3)]

        def answer(resp):
            return [(x["row"], x["handover_no"], x["status"], x.get("errors")) for x in resp.json["results"]]

        dry = self.imp(csv_body(rows), user="cg_platform", query="&dry_run=true&verbose=true")
        real = self.imp(csv_body(rows), user="cg_platform", query="&verbose=true")
        self.assertEqual(real.status, 207, real)
        self.assertEqual(answer(real), answer(dry))
        self.assertEqual(real.json["summary"], {"rows": 3, "inserted": 2, "updated": 0, "unchanged": 0,
                                                "failed": 1})
        failed = [x for x in real.json["results"] if x["status"] == "failed"]
        self.assertEqual([(e["field"], e["code"]) for e in failed[0]["errors"]], [("county", "out_of_scope")])
        self.assertEqual(self.q("SELECT string_agg(handover_no, ',' ORDER BY handover_no) FROM complaints"
                                " WHERE handover_no LIKE 'CG-02%'"), "CG-0200,CG-0202")

    # --- %00 in a query value --------------------------------------------------------

    def test_06_nul_in_a_query_value_is_refused(self):
        r = self.svc.get("/api/v1/complaints?status=pending%00x", token=self.tok["office1"])
        doc = assert_problem(self, r, 400, "invalid_parameter")
        self.assertEqual(doc["errors"][0]["parameter"], "status")
        r = self.svc.get("/api/v1/complaints?limit=5&q=a%00", token=self.tok["office1"])
        self.assertEqual(assert_problem(self, r, 400, "invalid_parameter")["errors"][0]["parameter"], "q")
        # an import with one is refused before anything is read or written
        r = self.imp(csv_body([row("NUL-1")]), query="&mode=atomic%00")
        self.assertEqual(assert_problem(self, r, 400, "invalid_parameter")["errors"][0]["parameter"], "mode")
        self.assertEqual(self.q("SELECT count(*) FROM complaints WHERE handover_no = 'NUL-1'"), "0")
        # without it the same requests work
        self.assertEqual(self.svc.get("/api/v1/complaints?status=received&limit=1",
                                      token=self.tok["office1"]).status, 200)


if __name__ == "__main__":
    harness.main()
