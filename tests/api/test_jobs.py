"""The jobs runner (0041_jobs.sql, src/jobs/runner.c) and /api/v1/jobs.

Runner tests start two `rectify serve` instances on one database and use the
test-only kind `test.record` (src/api/testing.c), which writes one row per
attempt into test_job_runs: every job runs exactly once, failures back off and
end dead, a SIGKILLed instance's lease is taken over, a schedule enqueues one
job per occurrence, RECTIFY_JOB_WORKERS=0 runs nothing, SIGTERM stops cleanly,
/metrics counts. The API tests cover the read-only endpoints and the retry."""
import json
import re
import signal
import subprocess
import time
import urllib.parse

import harness

RUNS_TABLE = ("CREATE TABLE test_job_runs (job_id bigint NOT NULL, attempt int NOT NULL,"
              " tag text NOT NULL, worker text NOT NULL, ok boolean NOT NULL,"
              " at timestamptz NOT NULL DEFAULT clock_timestamp())")


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout * harness.SLOW
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class RunnerCase(harness.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_env()
        cls.db_name, cls.db_url = harness.fresh_database("jobs")
        harness.migrate(cls.db_url)
        cls.sql(RUNS_TABLE)
        # The nightly purge is not what these tests are about.
        cls.sql("UPDATE job_schedules SET enabled = false")

    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    def instance(self, workers=2, lease_ms=2000, poll_ms=50, backoff_ms=200, drain_ms=10000):
        svc = harness.Service(self.db_url, extra_env={
            "RECTIFY_JOB_WORKERS": str(workers), "RECTIFY_JOB_LEASE_MS": str(lease_ms),
            "RECTIFY_JOB_POLL_MS": str(poll_ms), "RECTIFY_JOB_BACKOFF_MS": str(backoff_ms),
            "RECTIFY_DRAIN_TIMEOUT_MS": str(drain_ms)})
        self.addCleanup(svc.stop)
        return svc

    def enqueue(self, key, payload=None, max_attempts=5):
        return int(self.sql("SELECT rectify.job_enqueue('test.record', '%s', '%s'::jsonb, now(), %d)"
                            % (key, json.dumps(payload or {"tag": key}), max_attempts)))

    def job(self, job_id):
        row = self.sql("SELECT row_to_json(j) FROM jobs j WHERE id = %d" % job_id)
        return json.loads(row)

    def runs(self, tag):
        out = self.sql("SELECT coalesce(json_agg(r ORDER BY at), '[]') FROM test_job_runs r"
                       " WHERE tag = '%s'" % tag)
        return json.loads(out)

    @staticmethod
    def pid_of(worker):
        return int(re.match(r".*:(\d+)/\d+$", worker).group(1))

    def metric(self, svc, name, labels=""):
        body = svc.get("/metrics").body.decode()
        m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), body, re.M)
        return float(m.group(1)) if m else None

    # ------------------------------------------------------------------------------

    def test_every_job_runs_exactly_once_on_two_instances(self):
        a, b = self.instance(), self.instance()
        self.sql("SELECT rectify.job_enqueue('test.record', 'many-' || g,"
                 " jsonb_build_object('tag', 'many', 'sleep_ms', 5)) FROM generate_series(1, 200) g")
        wait_for(lambda: self.sql("SELECT count(*) FROM jobs WHERE key LIKE 'many-%' AND state = 'done'")
                 == "200", 60, "200 jobs done")
        runs = self.runs("many")
        self.assertEqual(len(runs), 200)
        self.assertEqual(len({r["job_id"] for r in runs}), 200)
        self.assertTrue(all(r["ok"] and r["attempt"] == 1 for r in runs))
        pids = {self.pid_of(r["worker"]) for r in runs}
        self.assertEqual(pids, {a.proc.pid, b.proc.pid}, "both instances took jobs")
        # Enqueueing an existing key does nothing and answers the existing id.
        first = int(self.sql("SELECT id FROM jobs WHERE key = 'many-1'"))
        self.assertEqual(self.enqueue("many-1", {"tag": "many"}), first)
        time.sleep(0.3)
        self.assertEqual(len(self.runs("many")), 200)
        self.assertEqual(self.job(first)["state"], "done")
        # Each instance counts what it ran; together exactly the 200.
        total = sum(self.metric(s, "rectify_jobs_succeeded_total", '{kind="test.record"}')
                    for s in (a, b))
        self.assertEqual(total, 200)

    def test_failing_job_is_retried_with_backoff_and_ends_dead(self):
        self.instance(backoff_ms=300)
        dead = self.enqueue("fails", {"tag": "fails", "fail_attempts": -1}, max_attempts=4)
        late = self.enqueue("fails-twice", {"tag": "fails-twice", "fail_attempts": 2})
        wait_for(lambda: self.job(dead)["state"] == "dead", 30, "the job to die")
        job = self.job(dead)
        self.assertEqual(job["attempts"], 4)
        self.assertEqual(job["last_error"], "told to fail attempt 4")
        self.assertIsNotNone(job["finished_at"])
        self.assertIsNone(job["lease_until"])
        runs = self.runs("fails")
        self.assertEqual([r["attempt"] for r in runs], [1, 2, 3, 4])
        self.assertFalse(any(r["ok"] for r in runs))
        at = [float(self.sql("SELECT extract(epoch FROM '%s'::timestamptz)" % r["at"])) for r in runs]
        gaps = [round(y - x, 3) for x, y in zip(at, at[1:])]
        for i, gap in enumerate(gaps):   # 0.3 s, 0.6 s, 1.2 s (+ polling)
            self.assertGreaterEqual(gap, 0.3 * 2 ** i - 0.01, gaps)
            self.assertLess(gap, 0.3 * 2 ** i + 1.0 * harness.SLOW, gaps)
        # Two failures, then success: done on attempt 3, the last_error kept.
        wait_for(lambda: self.job(late)["state"] == "done", 30, "the retried job to succeed")
        self.assertEqual([(r["attempt"], r["ok"]) for r in self.runs("fails-twice")],
                         [(1, False), (2, False), (3, True)])
        self.assertEqual(self.job(late)["attempts"], 3)

    def test_killed_instance_lease_is_taken_over(self):
        lease = 1500
        a = self.instance(workers=1, lease_ms=lease)
        job = self.enqueue("slow", {"tag": "slow", "first_sleep_ms": 60000})
        wait_for(lambda: self.job(job)["state"] == "running", 10, "instance A to claim")
        self.assertEqual(self.pid_of(self.job(job)["locked_by"]), a.proc.pid)
        b = self.instance(workers=1, lease_ms=lease)
        # While A lives it renews its lease: B never takes the job.
        time.sleep(2.5 * lease / 1000)
        held = self.job(job)
        self.assertEqual((held["state"], held["attempts"]), ("running", 1))
        self.assertEqual(self.pid_of(held["locked_by"]), a.proc.pid)
        lease_until = held["lease_until"]
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        killed_at = time.time()
        wait_for(lambda: self.job(job)["state"] == "done", 20, "B to take over and finish")
        took = time.time() - killed_at
        done = self.job(job)
        self.assertEqual(done["attempts"], 2)
        self.assertEqual(self.pid_of(done["locked_by"]), b.proc.pid)
        self.assertEqual(self.sql("SELECT started_at > '%s'::timestamptz FROM jobs WHERE id = %d"
                                  % (lease_until, job)), "t", "taken over only after the lease")
        self.assertLess(took, lease / 1000 + 5 * harness.SLOW)
        runs = self.runs("slow")
        self.assertEqual(len(runs), 1, "A died before writing; B wrote once")
        self.assertEqual(self.pid_of(runs[0]["worker"]), b.proc.pid)

    def test_schedule_enqueues_one_job_per_occurrence_with_two_instances(self):
        a, b = self.instance(poll_ms=20), self.instance(poll_ms=20)
        self.sql("INSERT INTO job_schedules (name, kind, every, payload, anchor)"
                 " VALUES ('test-every', 'test.record', '1 second', '{\"tag\": \"every\"}', now())")
        anchor = float(self.sql("SELECT extract(epoch FROM anchor) FROM job_schedules"
                                " WHERE name = 'test-every'"))
        time.sleep(4.5)
        self.sql("UPDATE job_schedules SET enabled = false WHERE name = 'test-every'")
        time.sleep(0.5)
        jobs = json.loads(self.sql(
            "SELECT json_agg(json_build_object('key', key, 'run_at', extract(epoch FROM run_at),"
            " 'state', state, 'occurrence', payload->>'occurrence') ORDER BY run_at)"
            " FROM jobs WHERE kind = 'test.record' AND key LIKE 'schedule:test-every@%'"))
        self.assertGreaterEqual(len(jobs), 3, jobs)
        # Occurrences anchor + k seconds, each once. (On a quiet machine k = 1, 2, 3, ...;
        # a stall longer than the interval would rightly collapse missed ones into one.)
        ks = [round(j["run_at"] - anchor, 3) for j in jobs]
        self.assertTrue(all(k == int(k) and k >= 1 for k in ks), ks)
        self.assertEqual(ks, sorted(set(ks)), "no occurrence twice")
        self.assertLessEqual(ks[-1], 5, ks)
        self.assertTrue(all(j["state"] == "done" for j in jobs), jobs)
        runs = self.runs("every")
        self.assertEqual(len(runs), len(jobs))
        self.assertEqual(len({r["job_id"] for r in runs}), len(jobs))

    def test_no_workers_runs_nothing(self):
        svc = self.instance(workers=0)
        job = self.enqueue("idle", {"tag": "idle"})
        self.sql("INSERT INTO job_schedules (name, kind, every, anchor)"
                 " VALUES ('test-idle', 'test.record', '1 second', now() - interval '1 minute')")
        time.sleep(1.5)
        self.assertEqual(self.job(job)["state"], "queued")
        self.assertEqual(self.runs("idle"), [])
        self.assertEqual(self.sql("SELECT count(*) FROM jobs WHERE key LIKE 'schedule:test-idle@%'"), "0")
        self.assertEqual(self.metric(svc, "rectify_jobs_workers"), 0)
        self.assertGreaterEqual(self.metric(svc, "rectify_jobs_lag_seconds"), 1.0)
        self.assertGreaterEqual(self.metric(svc, "rectify_jobs", '{state="queued"}'), 1)
        self.sql("DELETE FROM job_schedules WHERE name = 'test-idle'")
        self.sql("DELETE FROM jobs WHERE id = %d" % job)
        self.assertEqual(svc.stop(), 0)

    def test_sigterm_lets_a_running_job_finish_and_exits_zero(self):
        svc = self.instance(workers=1)
        job = self.enqueue("drain", {"tag": "drain", "sleep_ms": 1500})
        wait_for(lambda: self.job(job)["state"] == "running", 10, "the claim")
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=20 * harness.SLOW), 0, svc.read_log()[-2000:])
        self.assertEqual(self.job(job)["state"], "done")
        self.assertEqual(len(self.runs("drain")), 1)
        # Idle: stops at once with 0.
        idle = self.instance()
        t0 = time.time()
        self.assertEqual(idle.stop(), 0)
        self.assertLess(time.time() - t0, 5 * harness.SLOW)

    def test_sigterm_with_a_job_outlasting_the_drain_exits_3(self):
        svc = self.instance(workers=1, drain_ms=300, lease_ms=1000)
        job = self.enqueue("too-slow", {"tag": "too-slow", "first_sleep_ms": 30000})
        wait_for(lambda: self.job(job)["state"] == "running", 10, "the claim")
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=20 * harness.SLOW), 3)
        self.assertIn("1 job still running", svc.read_log())
        # The lease lapses and another instance retries it (attempt 2, no sleep).
        self.instance(workers=1, lease_ms=1000)
        wait_for(lambda: self.job(job)["state"] == "done", 20, "the retry elsewhere")
        self.assertEqual(self.job(job)["attempts"], 2)

    def test_metrics_count_runs_and_failures_per_kind(self):
        svc = self.instance(workers=1, backoff_ms=50)
        ok = self.enqueue("m-ok", {"tag": "m"})
        bad = self.enqueue("m-bad", {"tag": "m", "fail_attempts": -1}, max_attempts=2)
        wait_for(lambda: self.job(ok)["state"] == "done" and self.job(bad)["state"] == "dead",
                 20, "both jobs")
        body = svc.get("/metrics").body.decode()
        for line in ('rectify_jobs_runs_total{kind="test.record"} 3',
                     'rectify_jobs_succeeded_total{kind="test.record"} 1',
                     'rectify_jobs_failures_total{kind="test.record"} 2',
                     'rectify_jobs_dead_total{kind="test.record"} 1',
                     'rectify_jobs_runs_total{kind="maintenance.purge"} 0',
                     'rectify_jobs_workers 1'):
            self.assertIn(line + "\n", body)
        self.assertRegex(body, r"\nrectify_jobs_lag_seconds [0-9.e+-]+\n")
        self.assertRegex(body, r'\nrectify_jobs\{state="dead"\} [1-9]')

    def test_maintenance_purge_is_scheduled_nightly_and_purges(self):
        row = json.loads(self.sql(
            "SELECT json_build_object('kind', kind, 'at', at_time, 'tz', time_zone,"
            " 'local', to_char(next_run AT TIME ZONE 'Asia/Shanghai', 'HH24:MI'))"
            " FROM job_schedules WHERE name = 'maintenance.purge'"))
        self.assertEqual(row, {"kind": "maintenance.purge", "at": "03:30:00",
                               "tz": "Asia/Shanghai", "local": "03:30"})
        old = int(self.sql("SELECT rectify.job_enqueue('test.record', 'ancient')"))
        self.sql("UPDATE jobs SET state = 'done', finished_at = now() - interval '31 days'"
                 " WHERE id = %d" % old)
        self.sql("INSERT INTO login_attempts (key, window_start, last_failure_at, failures)"
                 " VALUES ('u:ghost', now() - interval '3 days', now() - interval '3 days', 1)")
        self.instance(workers=1)
        job = int(self.sql("SELECT rectify.job_enqueue('maintenance.purge', 'now')"))
        wait_for(lambda: self.job(job)["state"] == "done", 15, "the purge")
        self.assertEqual(self.sql("SELECT count(*) FROM jobs WHERE id = %d" % old), "0")
        self.assertEqual(self.sql("SELECT count(*) FROM login_attempts WHERE key = 'u:ghost'"), "0")

    def test_enqueue_belongs_to_the_callers_transaction(self):
        # rectify_api (every request's role) may enqueue; a rollback takes the job back.
        self.sql("BEGIN; SET LOCAL ROLE rectify_api;"
                 " SELECT rectify.job_enqueue('test.record', 'rolled-back'); ROLLBACK;")
        self.assertEqual(self.sql("SELECT count(*) FROM jobs WHERE key = 'rolled-back'"), "0")
        out = self.sql("BEGIN; SET LOCAL ROLE rectify_api;"
                       " SELECT rectify.job_enqueue('test.record', 'committed') IS NOT NULL; COMMIT;")
        self.assertIn("t", out)
        self.assertEqual(self.sql("SELECT count(*) FROM jobs WHERE key = 'committed'"), "1")
        self.sql("DELETE FROM jobs WHERE key = 'committed'")
        # rectify_api cannot claim, complete or read jobs behind the API's back.
        for stmt in ("SELECT * FROM rectify.job_claim('{test.record}', 1000, 'x')",
                     "SELECT rectify.job_done(1, gen_random_uuid())",
                     "UPDATE jobs SET state = 'done'"):
            p = subprocess.run(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.db_url,
                 "-c", "SET ROLE rectify_api; " + stmt], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, stmt)
            self.assertIn("permission denied", p.stderr)


class JobsApi(harness.ServiceTestCase):
    service_env = {"RECTIFY_JOB_WORKERS": "0"}   # jobs stay as the test puts them

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, org, roles in (("job_admin", "620000", ["admin"]),
                                 ("job_office", "GS-OFFICE", ["office"]),
                                 ("job_leader", "GS-LG", ["leader"]),
                                 ("job_unit", "620102", ["unit"])):
            harness.create_user(cls.db_url, name, org, roles)
        cls.tok = {n: cls.svc.login(n) for n in ("job_admin", "job_office", "job_leader", "job_unit")}
        sql = lambda s: harness.psql(s, cls.db_name)
        sql("SELECT rectify.job_enqueue('api.alpha', 'a-' || g, jsonb_build_object('n', g))"
            " FROM generate_series(1, 5) g")
        sql("SELECT rectify.job_enqueue('api.beta', 'b-1', '{}')")
        cls.dead = int(sql("SELECT rectify.job_enqueue('api.beta', 'b-dead', '{\"x\": 1}')"))
        sql("UPDATE jobs SET state = 'dead', attempts = 5, last_error = 'boom',"
            " finished_at = now() WHERE id = %d" % cls.dead)

    def get(self, path, who="job_office"):
        return self.svc.get(path, token=self.tok[who] if who else None)

    def test_list_newest_first_with_filters(self):
        r = self.get("/api/v1/jobs")
        self.assertEqual(r.status, 200, r)
        items = r.json["items"]
        ids = [j["id"] for j in items]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertIsNone(r.json["next_cursor"])
        job = next(j for j in items if j["id"] == self.dead)
        self.assertEqual(job["kind"], "api.beta")
        self.assertEqual(job["key"], "b-dead")
        self.assertEqual(job["state"], "dead")
        self.assertEqual(job["payload"], {"x": 1})
        self.assertEqual(job["last_error"], "boom")
        self.assertNotIn("lease_token", job)
        self.assertRegex(job["run_at"], r"\+08:00$")
        r = self.get("/api/v1/jobs?kind=api.alpha")
        self.assertEqual({j["kind"] for j in r.json["items"]}, {"api.alpha"})
        self.assertEqual(len(r.json["items"]), 5)
        r = self.get("/api/v1/jobs?state=dead&kind=api.beta")
        self.assertEqual([j["id"] for j in r.json["items"]], [self.dead])
        self.assertEqual(self.get("/api/v1/jobs?state=running").json["items"], [])
        self.assertEqual(self.get("/api/v1/jobs", who="job_admin").status, 200)

    def test_keyset_pages(self):
        seen, cursor = [], None
        while True:
            r = self.get("/api/v1/jobs?kind=api.alpha&limit=2"
                         + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""))
            self.assertEqual(r.status, 200, r)
            seen += [j["id"] for j in r.json["items"]]
            cursor = r.json["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), 5)
        self.assertEqual(seen, sorted(set(seen), reverse=True))

    def test_bad_filters_are_400(self):
        for query, param in (("kind=Bad%20Kind", "kind"), ("state=sleeping", "state"),
                             ("limit=0", "limit"), ("limit=501", "limit"), ("cursor=zzz", "cursor")):
            r = self.get("/api/v1/jobs?" + query)
            doc = harness.assert_problem(self, r, 400, "invalid_parameter")
            self.assertIn(param, json.dumps(doc["errors"]), query)

    def test_get_one(self):
        r = self.get("/api/v1/jobs/%d" % self.dead)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["id"], self.dead)
        self.assertEqual(r.json["attempts"], 5)
        harness.assert_problem(self, self.get("/api/v1/jobs/999999"), 404, "not_found")
        harness.assert_problem(self, self.get("/api/v1/jobs/abc"), 404, "not_found")

    def test_who_may_read(self):
        harness.assert_problem(self, self.get("/api/v1/jobs", who=None), 401, "unauthorized")
        for who in ("job_unit", "job_leader"):
            harness.assert_problem(self, self.get("/api/v1/jobs", who=who), 403, "forbidden")
            harness.assert_problem(self, self.get("/api/v1/jobs/%d" % self.dead, who=who), 403, "forbidden")

    def test_retry_a_dead_job(self):
        job = int(harness.psql("SELECT rectify.job_enqueue('api.gamma', 'g-dead')", self.db_name))
        harness.psql("UPDATE jobs SET state = 'dead', attempts = 3, last_error = 'gone',"
                     " finished_at = now() WHERE id = %d" % job, self.db_name)
        path = "/api/v1/jobs/%d/retry" % job
        harness.assert_problem(self, self.svc.post(path), 401, "unauthorized")
        harness.assert_problem(self, self.svc.post(path, token=self.tok["job_unit"]), 403, "forbidden")
        r = self.svc.post(path, token=self.tok["job_office"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["state"], r.json["attempts"]), ("queued", 0))
        self.assertIsNone(r.json["finished_at"])
        # Audited: who retried, and the state it was in.
        audit = self.get("/api/v1/audit?table=jobs&row_id=%d" % job, who="job_admin").json["items"]
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0]["before"]["state"], "dead")
        self.assertEqual(audit[0]["before"]["last_error"], "gone")
        self.assertEqual(audit[0]["after"], {"state": "queued", "attempts": 0})
        self.assertIsNotNone(audit[0]["user_id"])
        # Only a dead job: now it is queued → 409, nothing changed.
        doc = harness.assert_problem(self, self.svc.post(path, token=self.tok["job_admin"]), 409,
                                     "job_not_dead")
        self.assertIn("queued", doc["detail"])
        self.assertEqual(len(self.get("/api/v1/audit?table=jobs&row_id=%d" % job,
                                      who="job_admin").json["items"]), 1)
        harness.assert_problem(self, self.svc.post("/api/v1/jobs/999999/retry",
                                                   token=self.tok["job_office"]), 404, "not_found")


if __name__ == "__main__":
    harness.main()
