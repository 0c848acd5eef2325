"""Process lifecycle: graceful drain on SIGTERM, recovery after a PostgreSQL
restart. Runs alone (RUN_SERIAL): it restarts the shared test cluster."""
import os
import signal
import subprocess
import time

import harness


class Lifecycle(harness.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_env()
        cls.name, cls.url = harness.fresh_database("life")
        harness.migrate(cls.url)

    def test_sigterm_drains_in_flight_requests(self):
        svc = harness.Service(self.url, extra_env={"RECTIFY_DRAIN_TIMEOUT_MS": "10000"})
        t, result = harness.in_thread(svc.get, "/api/v1/_test/sleep?ms=1500")
        time.sleep(0.4 * harness.SLOW)
        svc.signal(signal.SIGTERM)
        time.sleep(0.2 * harness.SLOW)
        refused = self._quiet_get(svc, "/healthz")   # new work is refused while draining
        if not isinstance(refused, OSError):
            harness.assert_problem(self, refused, 503, "shutting_down")
            self.assertEqual(refused.header("connection"), "close")
        t.join()
        self.assertEqual(result[0].status, 200, result[0])
        self.assertEqual(svc.proc.wait(timeout=30), 0, svc.read_log()[-2000:])
        with self.assertRaises(OSError):
            svc.get("/healthz")
        log = svc.read_log()
        self.assertIn("draining", log)
        self.assertIn("stopped", log)

    def test_drain_timeout_bounds_shutdown(self):
        svc = harness.Service(self.url, extra_env={"RECTIFY_DRAIN_TIMEOUT_MS": "300",
                                                   "RECTIFY_STATEMENT_TIMEOUT_MS": "20000"})
        t, result = harness.in_thread(lambda: self._quiet_get(svc, "/api/v1/_test/sleep?ms=8000"))
        time.sleep(0.4 * harness.SLOW)
        t0 = time.time()
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=30), 3)   # requests were cut
        self.assertLess(time.time() - t0, 5 * harness.SLOW)
        self.assertIn("drain timeout", svc.read_log())
        t.join()

    @staticmethod
    def _quiet_get(svc, path):
        try:
            return svc.get(path)
        except OSError as e:
            return e

    def test_recovers_after_postgres_restart(self):
        restart = os.environ.get("RECTIFY_TEST_PG_RESTART")
        if not restart:
            self.fail("RECTIFY_TEST_PG_RESTART is not set (run through ./scripts/test)")
        svc = harness.Service(self.url, extra_env={"RECTIFY_DB_POOL": "4"})
        try:
            # Open every pooled connection.
            threads = [harness.in_thread(svc.get, "/api/v1/_test/sleep?ms=200") for _ in range(4)]
            for t, _ in threads:
                t.join()
            p = subprocess.run(restart, shell=True, capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            statuses = [svc.get("/api/v1/_test/sleep?ms=0").status for _ in range(20)]
            self.assertEqual(statuses, [200] * 20, svc.read_log()[-3000:])
            self.assertEqual(svc.get("/readyz").status, 200)
        finally:
            self.assertEqual(svc.stop(), 0)


if __name__ == "__main__":
    harness.main()
