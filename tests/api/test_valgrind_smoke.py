"""The real server under valgrind (memcheck): a short session — sign-in,
reads, writes, errors, a streamed export — then SIGTERM. Any invalid access
or definite/indirect leak makes valgrind exit 99 and the test fail.
Skipped in the sanitizer build (ASan and valgrind do not mix)."""
import os
import shutil
import signal
import subprocess
import time

import harness


class ValgrindSmoke(harness.unittest.TestCase):
    def test_session_is_clean(self):
        if harness.SANITIZED or not shutil.which("valgrind"):
            self.skipTest("sanitizer build or no valgrind")
        name, url = harness.fresh_database("vg")
        harness.migrate(url)
        harness.create_user(url, "vg_office", "GS-OFFICE", ["office"])
        env = dict(os.environ, RECTIFY_DATABASE_URL=url, RECTIFY_LISTEN="127.0.0.1:0",
                   RECTIFY_THREADS="4", RECTIFY_DB_POOL="2", RECTIFY_JWT_SECRET=harness.TEST_JWT_SECRET,
                   RECTIFY_DRAIN_TIMEOUT_MS="60000")
        log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "rectify-vg-%d.log" % os.getpid()), "w+")
        proc = subprocess.Popen(["valgrind", "--error-exitcode=99", "--leak-check=full",
                                 "--errors-for-leak-kinds=definite,indirect", harness.BIN, "serve"],
                                env=env, stdout=log, stderr=log)
        try:
            port = None
            for _ in range(600):
                log.seek(0)
                text = log.read()
                if "(port " in text:
                    port = int(text.split("(port ", 1)[1].split(")")[0])
                    break
                if proc.poll() is not None:
                    self.fail("exited early:\n" + text)
                time.sleep(0.1)
            self.assertIsNotNone(port, "did not start")
            svc = harness.Service.__new__(harness.Service)
            svc.port = port
            svc.wait_ready(timeout=60)
            token = svc.login("vg_office")
            self.assertEqual(svc.get("/api/v1/me", token=token).status, 200)
            self.assertEqual(svc.get("/api/v1/orgs?kind=county&limit=5", token=token).status, 200)
            self.assertEqual(svc.get("/api/v1/orgs/3", token=token).status, 200)
            self.assertEqual(svc.get("/api/v1/tasks?limit=5", token=token).status, 200)
            self.assertEqual(svc.get("/api/v1/tasks/export?format=csv", token=token).status, 200)
            self.assertEqual(svc.post("/api/v1/orgs", {"code": "X"}, token=token).status, 403)
            self.assertEqual(svc.get("/api/v1/me", token=token + "x").status, 401)
            self.assertEqual(svc.request("POST", "/api/v1/auth/token", body=b"{",
                                         headers={"Content-Type": "application/json"}).status, 400)
            self.assertEqual(svc.get("/nope").status, 404)
            self.assertEqual(svc.get("/metrics").status, 200)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                status = proc.wait()
            log.seek(0)
            text = log.read()
            log.close()
            os.unlink(log.name)
        self.assertIn("Memcheck", text)                  # it really ran under valgrind
        self.assertIn("ERROR SUMMARY: 0 errors", text, text[-6000:])
        self.assertEqual(status, 0, text[-6000:])


if __name__ == "__main__":
    harness.main()
