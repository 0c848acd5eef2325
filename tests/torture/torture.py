"""Torture run (in the spirit of curl's): a build with -DRECTIFY_TORTURE=ON fails
the Nth heap allocation of every request that carries "X-Rectify-Torture: N"
(include/rectify/torture.h). This script runs a short request suite -- sign-in,
a list, a create, a PATCH, a complaint import of three rows, an attachment
upload, a complaint read with the clear personal data, a ledger (problems)
import and a task export -- for every
N = 1, 2, 3, ... until a whole pass runs without an injected failure, and checks:

  * the service never crashes, hangs or reports a sanitizer error (ASan/UBSan/
    LSan output in its log, or a non-zero exit at SIGTERM);
  * a request whose allocations all succeeded gets its normal answer, with
    the headers it must carry (Location, ETag, Content-Disposition);
  * a request that saw a failure gets either its normal answer (the failure
    was absorbed, e.g. a log line dropped) or a clean 500/503 problem
    (application/problem+json, a JSON body with that status), or -- only when
    the failure hit the arena itself, before any answer can be built -- the
    fixed 503 without the arena; a connection closed without an answer counts
    as a failure.

Environment as for tests/api (RECTIFY_BIN from the torture build,
RECTIFY_TEST_DATABASE_URL). RECTIFY_TORTURE_MAX_N caps N (default 20000).
Prints one summary line: N values, requests, injected, outcomes."""
import http.client
import json
import os
import re
import socket
import struct
import sys
import time
import zlib
from urllib.parse import quote

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
import harness  # noqa: E402

MAX_N = int(os.environ.get("RECTIFY_TORTURE_MAX_N", "20000"))
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"SUMMARY: (Address|Undefined|Leak)Sanitizer")
TORTURE_LINE = re.compile(r"torture: n=(\d+) allocations=(\d+) injected=([01])")


def png():
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


HEADER = "交办编号,交办批次,受理时间,来源渠道,举报内容,污染类型,所在县区,详细地址,被举报对象,件别,责任单位,办理时限,举报人姓名,联系电话"


def csv_rows(prefix, n):
    lines = [HEADER]
    for i in range(n):
        lines.append("%s-%d,1,2023-11-24 09:12,电话,河边有工厂夜间偷排污水，气味刺鼻,水、大气,城关区,某路%d号,"
                     "某化工有限公司,一般件,620102,2024-01-31,王小明,13912345678" % (prefix, i, i + 1))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


class Failure(Exception):
    pass


class Run:
    def __init__(self):
        harness.require_env()
        self.db_name, self.db_url = harness.fresh_database("torture")
        harness.migrate(self.db_url)
        harness.psql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                     "('torture', 3, (SELECT id FROM orgs WHERE code = '620000'))", self.db_name)
        self.campaign = int(harness.psql("SELECT max(id) FROM campaigns", self.db_name))
        harness.create_user(self.db_url, "office1", "GS-OFFICE", ["office"])
        harness.create_user(self.db_url, "cg_unit", "620102", ["unit"])
        self.svc = harness.Service(self.db_url, extra_env={"RECTIFY_LOG_LEVEL": "info"})
        self.tok = {u: self.svc.login(u) for u in ("office1", "cg_unit")}
        r = self.svc.post("/api/v1/complaints/import?campaign_id=%d" % self.campaign,
                          body=csv_rows("BASE", 1), headers={"Content-Type": "text/csv; charset=utf-8"},
                          token=self.tok["office1"])
        if r.status != 207 or r.json["summary"]["failed"]:
            raise Failure("setup import: %r" % r)
        self.cid = int(harness.psql("SELECT id FROM complaints WHERE handover_no = 'BASE-0'", self.db_name))
        self.seq = 0
        self.log_at = 0          # how much of the log has been read
        self.pending = {}        # request id -> torture log fields
        self.stats = {"requests": 0, "injected": 0, "absorbed": 0, "problem": 0, "no_arena_503": 0}
        self.max_allocs = {}
        self.absorbed = {}       # request -> the N whose failure still gave the normal answer

    # --- the suite: (name, expected status, function(seq) -> (method, path, body, headers, token))
    def suite(self):
        office, unit = self.tok["office1"], self.tok["cg_unit"]
        camp = self.campaign     # imports go to the first campaign, batches to the current one

        def signin(k):
            return ("POST", "/api/v1/auth/token", {"username": "office1", "password": harness.DEFAULT_PASSWORD},
                    {}, None)

        def list_(k):
            return ("GET", "/api/v1/complaints?limit=5", None, {}, office)

        def create(k):
            return ("POST", "/api/v1/complaint-batches",
                    {"campaign_id": self.campaign, "batch_no": 1 + k % 9999, "handed_over_on": "2023-11-24",
                     "note": "torture %d" % k}, {}, office)

        def patch(k):
            version = harness.psql("SELECT version FROM complaints WHERE id = %d" % self.cid, self.db_name)
            return ("PATCH", "/api/v1/complaints/%d" % self.cid,
                    {"result": "已责令整改 %d" % k, "enforcement": {"ordered_rectify": k % 1000}},
                    {"If-Match": '"%s"' % version}, unit)

        def import_(k):
            return ("POST", "/api/v1/complaints/import?campaign_id=%d" % camp, csv_rows("T%d" % k, 3),
                    {"Content-Type": "text/csv; charset=utf-8"}, office)

        def upload(k):
            return ("POST", "/api/v1/attachments", png(),
                    {"Content-Type": "image/png",
                     "Content-Disposition": "attachment; filename*=UTF-8''" + quote("现场%d.png" % k)},
                    unit)

        def read(k):
            return ("GET", "/api/v1/complaints/%d?pii=true" % self.cid, None, {}, office)

        def ledger_import(k):
            body = ("编号,问题名称,问题类别,牵头单位\nT%d,祁连山生态破坏,辖区具体,GS-EE\n"
                    "T%d-b,黄河水污染,provincial_sector,GS-EE\n" % (k, k))
            return ("POST", "/api/v1/problems/import?campaign=%d" % camp, body.encode("utf-8"),
                    {"Content-Type": "text/csv; charset=utf-8"}, office)

        def export(k):
            return ("GET", "/api/v1/tasks/export?campaign=%d&format=csv" % camp, None, {}, office)

        # (name, status, request, headers a normal answer must carry)
        return [("sign-in", 200, signin, ()), ("list", 200, list_, ()),
                ("create", 201, create, ()), ("patch", 200, patch, ("ETag",)),
                ("import", 207, import_, ()), ("upload", 201, upload, ("Location",)),
                ("read", 200, read, ("ETag",)), ("ledger import", 207, ledger_import, ()),
                ("export", 200, export, ("Content-Disposition",))]

    # --- one request -----------------------------------------------------------------
    def send(self, n, name, expect, make, must_have):
        self.seq += 1
        if self.seq % 9999 == 0:   # batch numbers wrap: a fresh campaign
            harness.psql("INSERT INTO campaigns (name, round, province_org_id) VALUES "
                         "('torture %d', 3, (SELECT id FROM orgs WHERE code = '620000'))" % self.seq,
                         self.db_name)
            self.campaign = int(harness.psql("SELECT max(id) FROM campaigns", self.db_name))
        method, path, body, headers, token = make(self.seq)
        rid = "torture-%d-%d" % (n, self.seq)
        hdrs = dict(headers)
        hdrs["X-Request-Id"] = rid
        if n:
            hdrs["X-Rectify-Torture"] = str(n)
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.svc.port, timeout=60 * harness.SLOW)
        status = ctype = data = None
        missing = []
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            status, ctype = resp.status, resp.getheader("Content-Type") or ""
            missing = [h for h in must_have if not resp.getheader(h)]
        except socket.timeout:
            raise Failure("N=%d %s: no answer within the timeout (hang)" % (n, name))
        except (http.client.HTTPException, ConnectionError) as e:
            status = "closed (%s)" % type(e).__name__
        finally:
            conn.close()
        if self.svc.proc.poll() is not None:
            raise Failure("N=%d %s: the service died (exit %s)" % (n, name, self.svc.proc.returncode))
        self.stats["requests"] += 1
        if status == expect and missing:
            raise Failure("N=%d %s: %d without %s" % (n, name, status, ", ".join(missing)))
        if not n:
            return status
        info = self.torture_info(rid)
        self.max_allocs[name] = max(self.max_allocs.get(name, 0), info[1])
        injected = info[2] == 1
        if status == expect:
            if injected:
                self.stats["injected"] += 1
                self.stats["absorbed"] += 1
                self.absorbed.setdefault(name, []).append(n)
            return injected
        if not injected:
            raise Failure("N=%d %s: no allocation failed, yet %r: %r" % (n, name, status, data[:300] if data else data))
        self.stats["injected"] += 1
        if status not in (500, 503):
            raise Failure("N=%d %s: a failed allocation answered %r (want %d, or 500/503): %r"
                          % (n, name, status, expect, data[:300] if data else data))
        if not ctype.startswith("application/problem+json"):
            raise Failure("N=%d %s: %d with Content-Type %r" % (n, name, status, ctype))
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError:
            raise Failure("N=%d %s: %d with a body that is not JSON: %r" % (n, name, status, data[:300]))
        if doc.get("status") != status or "code" not in doc:
            raise Failure("N=%d %s: problem without status/code: %r" % (n, name, doc))
        if "type" in doc:
            self.stats["problem"] += 1
        else:
            self.stats["no_arena_503"] += 1   # server.c's fixed answer when arena_new fails
        return True

    def torture_info(self, rid):
        deadline = time.time() + 10 * harness.SLOW
        while rid not in self.pending:
            self.read_log()
            if rid in self.pending:
                break
            if time.time() > deadline:
                raise Failure("no torture log line for request %s" % rid)
            time.sleep(0.005)
        return self.pending.pop(rid)

    def read_log(self):
        with open(self.svc.log.name, "r", encoding="utf-8", errors="replace") as f:
            f.seek(self.log_at)
            chunk = f.read()
        end = chunk.rfind("\n")
        if end < 0:
            return
        self.log_at += len(chunk[:end + 1].encode("utf-8"))
        for line in chunk[:end + 1].splitlines():
            if SANITIZER.search(line):
                raise Failure("sanitizer report in the service log:\n" + line)
            m = TORTURE_LINE.search(line)
            if m:
                try:
                    rid = json.loads(line).get("request_id")
                except ValueError:
                    continue
                self.pending[rid] = (int(m.group(1)), int(m.group(2)), int(m.group(3)))

    # --- the run -------------------------------------------------------------------------
    def run(self):
        suite = self.suite()
        for name, expect, make, must_have in suite:    # the baseline: every request works untouched
            st = self.send(0, name, expect, make, must_have)
            if st != expect:
                raise Failure("baseline %s answered %r, not %d" % (name, st, expect))
        n = 0
        t0 = time.time()
        while True:
            n += 1
            if n > MAX_N:
                raise Failure("still failing allocations at N=%d (RECTIFY_TORTURE_MAX_N)" % MAX_N)
            any_injected = False
            for name, expect, make, must_have in suite:
                any_injected |= bool(self.send(n, name, expect, make, must_have))
            if n % 100 == 0:
                print("N=%d: %d requests, %.0f s" % (n, self.stats["requests"], time.time() - t0), flush=True)
            if not any_injected:
                break
        return n

    def finish(self):
        status = self.svc.stop()
        log = self.svc.read_log()
        for line in log.splitlines():
            if SANITIZER.search(line):
                raise Failure("sanitizer report in the service log:\n" + log[-6000:])
        if status != 0:
            raise Failure("the service exited with %s:\n%s" % (status, log[-6000:]))


def main():
    run = Run()
    ok = False
    try:
        n = run.run()
        run.finish()
        s = run.stats
        print("torture: N = 1..%d (%d values), %d requests, %d with a failed allocation: %d answered "
              "normally, %d clean 500/503 problems, %d fixed 503s without an arena; 0 crashes, "
              "0 sanitizer reports" % (n, n, s["requests"], s["injected"], s["absorbed"], s["problem"],
                                       s["no_arena_503"]))
        print("allocations per request (most seen): " +
              ", ".join("%s %d" % kv for kv in run.max_allocs.items()))
        print("normal answers despite a failed allocation (N): " +
              "; ".join("%s %s" % (k, v) for k, v in run.absorbed.items()))
        ok = True
    except Failure as e:
        print("torture FAILED: %s" % e)
        if run.svc.proc.poll() is None:
            run.svc.stop()
        print(run.svc.read_log()[-8000:])
    finally:
        harness.drop_databases()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
