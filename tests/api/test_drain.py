"""Shutdown on SIGTERM: a drain that has to cut running requests says which
(request id, method, path, how long each ran; never the query string) and
exits non-zero (3), so a supervisor sees that requests were lost; a drain
that cuts nothing exits 0."""
import re
import signal
import socket
import time

import harness

CUT_EXIT = 3


class Drain(harness.unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_env()
        cls.name, cls.url = harness.fresh_database("drain")
        harness.migrate(cls.url)

    def service(self, drain_ms):
        svc = harness.Service(self.url, extra_env={"RECTIFY_DRAIN_TIMEOUT_MS": str(drain_ms),
                                                   "RECTIFY_STATEMENT_TIMEOUT_MS": "30000"})
        self.addCleanup(svc.stop)
        return svc

    @staticmethod
    def quiet(fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except OSError as e:
            return e

    @staticmethod
    def cut_lines(svc):
        return [line for line in svc.log_lines()
                if line.get("level") == "error" and "cutting" in line.get("msg", "")]

    def test_cut_requests_are_logged_and_the_exit_status_is_not_zero(self):
        svc = self.service(300)
        done = svc.get("/api/v1/_test/sleep?ms=0", headers={"X-Request-Id": "drain-finished"})
        self.assertEqual(done.status, 200)
        # A handler waiting on the database, with a secret in its query string...
        t, _ = harness.in_thread(lambda: self.quiet(
            svc.get, "/api/v1/_test/sleep?ms=20000&access_token=s3cr3t-t0ken",
            headers={"X-Request-Id": "drain-cut-sleep"}))
        # ... and an upload whose body never finishes arriving.
        upload = socket.create_connection(("127.0.0.1", svc.port), timeout=30)
        self.addCleanup(upload.close)
        upload.sendall(b"POST /api/v1/_test/count HTTP/1.1\r\nHost: x\r\n"
                       b"X-Request-Id: drain-cut-upload\r\nContent-Length: 1000000\r\n\r\n"
                       + bytes(1000))
        time.sleep(0.5 * harness.SLOW)
        t0 = time.time()
        svc.signal(signal.SIGTERM)
        status = svc.proc.wait(timeout=30 * harness.SLOW)
        log = svc.read_log()
        self.assertEqual(status, CUT_EXIT, log[-3000:])
        self.assertLess(time.time() - t0, 5 * harness.SLOW)
        t.join()

        cut = {line.get("request_id"): line["msg"] for line in self.cut_lines(svc)}
        self.assertEqual(set(cut), {"drain-cut-sleep", "drain-cut-upload"}, log[-3000:])
        for rid, method, path in (("drain-cut-sleep", "GET", "/api/v1/_test/sleep"),
                                  ("drain-cut-upload", "POST", "/api/v1/_test/count")):
            with self.subTest(request=rid):
                m = re.fullmatch(r"drain timeout: cutting (\S+) (\S+) after (\d+) ms", cut[rid])
                self.assertIsNotNone(m, cut[rid])
                self.assertEqual(m.group(1), method)
                self.assertEqual(m.group(2), path)            # no query string
                self.assertGreaterEqual(int(m.group(3)), 700)   # 500 ms before SIGTERM + 300
        self.assertNotIn("s3cr3t", log)
        self.assertNotIn("ms=20000", log)
        self.assertIn("exiting with status 3, 2 requests cut", log)

    def test_nothing_in_flight_exits_zero(self):
        svc = self.service(300)
        self.assertEqual(svc.get("/api/v1/_test/sleep?ms=0").status, 200)
        svc.signal(signal.SIGTERM)
        self.assertEqual(svc.proc.wait(timeout=30 * harness.SLOW), 0, svc.read_log()[-3000:])
        self.assertEqual(self.cut_lines(svc), [])
        self.assertIn("stopped", svc.read_log())

    def test_requests_finished_within_the_timeout_exit_zero(self):
        svc = self.service(10000)
        t, result = harness.in_thread(svc.get, "/api/v1/_test/sleep?ms=800")
        time.sleep(0.3 * harness.SLOW)
        svc.signal(signal.SIGTERM)
        t.join()
        self.assertEqual(result[0].status, 200, result[0])
        self.assertEqual(svc.proc.wait(timeout=30 * harness.SLOW), 0, svc.read_log()[-3000:])
        self.assertEqual(self.cut_lines(svc), [])


if __name__ == "__main__":
    harness.main()
