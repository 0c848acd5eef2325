"""Progress reports written at the same time (issue 10, hardening).

8 clients report on the same task as the same user, 2 000 requests in all:
800 reports, each after uploading its own 1 or 2 attachments (1 200 uploads).
The reports go in rounds: every client sends its report but the last byte,
and when all 8 are there the last bytes go out together, so the 8
transactions start as close together as the machine allows and queue on the
task's row. Every answer must be 2xx and the client's own report, and every
report, read back through the API, must carry exactly its own attachments in
its own order.

The code before the fix found the report it had just inserted by task,
author and created_at = now(). Two transactions that start in the same
microsecond share now(): the second one linked its attachments to the first
one's report as well (409 on the duplicate position, or links on the wrong
report) and read back two rows (500 "could not be read back" for a stored
report). Such a tie is rare by nature (on a loaded 2-core machine: one in
about 5 000 reports, a 409), so the concurrent test catches the old code only
now and then; test_report_sharing_now_with_another makes the tie on purpose
-- another report of the same task, author and created_at in the database
when the request looks for its own -- and the old code answered 500 to each
of its 10 reports.

Under the sanitizers the concurrent test runs a quarter of the rounds.
"""
import json
import struct
import threading
import time
import zlib

import harness

CLIENTS = 8
ROUNDS = 100 // harness.SLOW            # one report per client per round
# attachments per report: 1, 2, 1, 2, ... -> 1.5 uploads + 1 report = 2.5 requests
REQUESTS = CLIENTS * ROUNDS * 5 // 2    # 2 000 (500 under the sanitizers)
BUDGET = 50 * harness.SLOW              # seconds for the whole run: it stops by itself


def png(tag):
    """A valid 1x1 PNG whose bytes differ per tag (a tEXt chunk)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + tag.encode())
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


class ReportConcurrency(harness.ServiceTestCase):
    # as many database connections as clients, so that their transactions overlap
    service_env = {"RECTIFY_THREADS": "16", "RECTIFY_DB_POOL": str(CLIENTS)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.create_user(cls.db_url, "office1", "GS-OFFICE", ["office"])
        harness.create_user(cls.db_url, "reporter", "620102", ["unit"])
        cls.office = cls.svc.login("office1")
        cls.token = cls.svc.login("reporter")
        campaign = cls.created("/api/v1/campaigns", {
            "name": "第三轮中央生态环境保护督察甘肃省整改", "round": 3,
            "province_org_id": cls.org("620000"), "team_org_id": cls.org("CEEPI-4"),
            "stay_start": "2023-11-22", "stay_end": "2023-12-22"})
        cls.problem = cls.created("/api/v1/problems", {
            "campaign_id": campaign, "code": "1", "title": "祁连山自然保护区生态修复不到位",
            "category": "local_specific", "lead_org_id": cls.org("620100"),
            "deadline": "2026-12-31"})

    # ------------------------------------------------------------ helpers
    @classmethod
    def org(cls, code):
        return int(harness.psql("SELECT id FROM orgs WHERE code = '%s'" % code, cls.db_name))

    @classmethod
    def created(cls, path, body):
        r = cls.svc.post(path, body, token=cls.office)
        assert r.status == 201, r
        return r.json["id"]

    _tasks = 0

    @classmethod
    def make_task(cls):
        cls._tasks += 1
        return cls.created("/api/v1/tasks", {
            "problem_id": cls.problem, "code": "T-%d" % cls._tasks, "title": "矿山生态修复",
            "measures": ["制定整改方案", "开展现场核查", "完成生态修复"],
            "lead_org_id": cls.org("620102"), "deadline": "2026-12-31"})

    def upload(self, tag, n, conn=None):
        """n attachments of the reporter; their ids in the reporter's order
        (the reverse of the ids' order, so that positions are checked too)."""
        ids = []
        for k in range(n):
            r = self.svc.post("/api/v1/attachments", body=png("%s-%d" % (tag, k)),
                              headers={"Content-Type": "image/png",
                                       "Content-Disposition":
                                       'attachment; filename="%s-%d.png"' % (tag, k)},
                              token=self.token, conn=conn)
            if r.status != 201:
                raise AssertionError("upload %s-%d: %r" % (tag, k, r))
            ids.append(r.json["id"])
        return ids[::-1]

    def read_back(self, task):
        """Every report of the task through the API, by narrative."""
        items, cursor = [], None
        while True:
            q = "?limit=500" + ("&cursor=" + cursor if cursor else "")
            r = self.svc.get("/api/v1/tasks/%d/reports%s" % (task, q), token=self.token)
            self.assertEqual(r.status, 200, r)
            items += r.json["items"]
            cursor = r.json["next_cursor"]
            if not cursor:
                return {rep["narrative"]: rep for rep in items}

    def links_of(self, task):
        return int(harness.psql("SELECT count(*) FROM report_attachments l JOIN task_reports r"
                                " ON r.id = l.report_id WHERE r.task_id = %d" % task,
                                self.db_name))

    # ------------------------------------------------------------ 8 clients at once
    def client(self, c, task, barrier, deadline, out, failures):
        """ROUNDS reports, one per round: upload its attachments, send the
        report but its last byte and wait for the others (fire())."""
        conn = self.svc.connection()
        self.conns[c] = conn
        path = "/api/v1/tasks/%d/reports" % task
        try:
            for i in range(ROUNDS):
                if time.time() > deadline:
                    raise AssertionError("round %d: out of time" % i)
                tag = "c%d-r%d" % (c, i)
                atts = self.upload(tag, 1 + (c + i) % 2, conn)
                body = json.dumps({"period": "2024-05", "narrative": tag, "percent": i,
                                   "attachment_ids": atts}).encode()
                conn.putrequest("POST", path)
                conn.putheader("Content-Type", "application/json")
                conn.putheader("Content-Length", str(len(body)))
                conn.putheader("Authorization", "Bearer " + self.token)
                conn.endheaders()
                conn.send(body[:-1])
                self.last[c] = body[-1:]
                barrier.wait(timeout=30 * harness.SLOW)
                resp = conn.getresponse()
                data = resp.read()
                out.append((tag, atts, resp.status,
                            json.loads(data) if resp.status == 201 else data[:300]))
        except threading.BrokenBarrierError:
            pass                                # another client failed: it says why
        except Exception as e:                  # noqa: BLE001 -- reported, never swallowed
            failures.append("client %d: %r" % (c, e))
            barrier.abort()
        finally:
            conn.close()

    def fire(self):
        """The barrier's action: the 8 last bytes, back to back."""
        for c in range(CLIENTS):
            self.conns[c].sock.sendall(self.last[c])

    def test_concurrent_reports_keep_their_own_attachments(self):
        task = self.make_task()
        deadline = time.time() + BUDGET
        results = [[] for _ in range(CLIENTS)]
        failures = []
        self.conns, self.last = [None] * CLIENTS, [None] * CLIENTS
        barrier = threading.Barrier(CLIENTS, action=self.fire)
        threads = [threading.Thread(target=self.client,
                                    args=(c, task, barrier, deadline, results[c], failures))
                   for c in range(CLIENTS)]
        started = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(BUDGET + 60 * harness.SLOW)
        elapsed = time.time() - started
        answers = [a for per in results for a in per]
        uploads = sum(len(a[1]) for a in answers)

        not_2xx = [a[:4] for a in answers if not 200 <= a[2] < 300]
        wrong_answer = [a for a in answers if 200 <= a[2] < 300
                        and (a[3]["narrative"] != a[0] or a[3]["attachment_ids"] != a[1])]
        stored = self.read_back(task)
        wrong_links = [(a[0], a[1], stored[a[0]]["attachment_ids"]) for a in answers
                       if a[0] in stored and stored[a[0]]["attachment_ids"] != a[1]]
        missing = [a[0] for a in answers if a[0] not in stored]
        # ties of now() that the run produced (each one an error of the old code)
        ties = int(harness.psql("SELECT count(*) - count(DISTINCT created_at) FROM task_reports"
                                " WHERE task_id = %d" % task, self.db_name))
        print("\n%d requests (%d reports, %d uploads) by %d clients in %.1f s: %d answers not 2xx,"
              " %d wrong answers, %d reports with wrong attachments, %d missing;"
              " %d reports shared created_at with another"
              % (len(answers) + uploads, len(answers), uploads, CLIENTS, elapsed, len(not_2xx),
                 len(wrong_answer), len(wrong_links), len(missing), ties))

        self.assertEqual(not_2xx[:5], [])
        self.assertEqual(wrong_answer[:5], [])
        self.assertEqual(wrong_links[:5], [])
        self.assertEqual(missing[:5], [])
        self.assertEqual(failures, [])
        self.assertEqual(len(answers) + uploads, REQUESTS)
        self.assertEqual(len(stored), len(answers))                    # nothing else was stored
        self.assertEqual(sorted(a[3]["id"] for a in answers),
                         sorted(rep["id"] for rep in stored.values()))  # each answer its own row
        self.assertEqual(self.links_of(task), uploads)                  # no stray link

    # ------------------------------------------------------------ the tie, on purpose
    def test_report_sharing_now_with_another(self):
        """What a transaction that shares now() with another finds: a second
        report of the same task, author and created_at. A test-only trigger
        (superuser, this database only) writes it right after a report whose
        narrative starts with 'twinned' -- in the same transaction, which for
        the request's later statements is the same as a concurrent
        transaction's committed report."""
        harness.psql("""
            CREATE FUNCTION public.test_twin_report() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            BEGIN
                INSERT INTO task_reports (task_id, period, narrative, percent, measures_done,
                                          user_id, org_id, created_at)
                VALUES (NEW.task_id, NEW.period, 'twin of ' || NEW.narrative, NEW.percent, '{}',
                        NEW.user_id, NEW.org_id, NEW.created_at);
                RETURN NULL;
            END $$;
            CREATE TRIGGER test_twin_report AFTER INSERT ON task_reports FOR EACH ROW
                WHEN (NEW.narrative LIKE 'twinned %') EXECUTE FUNCTION public.test_twin_report();
            """, self.db_name)
        try:
            task = self.make_task()
            path = "/api/v1/tasks/%d/reports" % task
            sent, wrong = {}, []
            for i in range(10):
                tag = "twinned %d" % i
                atts = self.upload("t%d" % i, 1 + i % 2)
                r = self.svc.post(path, {"period": "2024-06", "narrative": tag, "percent": i,
                                         "attachment_ids": atts}, token=self.token)
                if r.status != 201 or (r.json["narrative"], r.json["attachment_ids"]) != (tag, atts):
                    wrong.append(r)
                else:
                    sent[tag] = (r.json["id"], atts)
            print("\n10 reports, each with a twin: %d wrong answers" % len(wrong))
            self.assertEqual(wrong, [])
            stored = self.read_back(task)
            self.assertEqual(len(stored), 20)
            for tag, (rid, atts) in sent.items():
                twin = stored["twin of " + tag]
                self.assertEqual(twin["created_at"], stored[tag]["created_at"])   # the tie
                self.assertEqual(stored[tag]["id"], rid)
                self.assertEqual(stored[tag]["attachment_ids"], atts)
                self.assertEqual(twin["attachment_ids"], [])
            self.assertEqual(self.links_of(task), sum(len(a) for _, a in sent.values()))
        finally:
            harness.psql("DROP TRIGGER test_twin_report ON task_reports;"
                         " DROP FUNCTION public.test_twin_report()", self.db_name)


if __name__ == "__main__":
    harness.main()
