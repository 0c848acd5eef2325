"""GET /docs in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven through chromedriver's WebDriver HTTP interface with
the standard library only.

Checks that the reference renders an operation (getCampaign) with its
response schema and its example, that the page fetched nothing but itself
(every other host is unresolvable for the browser, and the page's resource
timing lists only 127.0.0.1), and keeps a screenshot of the operation in the
build directory (RECTIFY_ARTEFACT_DIR, default: beside the binary).
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import BIN, SLOW, ServiceTestCase, main

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTEFACTS = os.environ.get("RECTIFY_ARTEFACT_DIR") or os.path.join(
    os.path.dirname(BIN or "."), "test-artefacts")
OPERATION = "ledger/getcampaign"   # Redoc 3: #/<tag>/<operationId, lower case>


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WebDriver:
    """The few W3C WebDriver commands the test needs."""

    def __init__(self):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="chromedriver-", suffix=".log")
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % self.port],
                                     stdout=self.log, stderr=self.log)
        self.base = "http://127.0.0.1:%d" % self.port
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-")
        deadline = time.time() + 20 * SLOW
        while True:
            try:
                if self.call("GET", "/status")["ready"]:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1400,1000",
                    "--user-data-dir=" + self.profile.name,
                    # Offline, as on a closed government network: a page that
                    # needed a CDN would stay blank here.
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            },
        }}}
        try:
            self.session = self.call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout * SLOW) as resp:
                return json.loads(resp.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError("WebDriver %s %s: %s" % (method, path, e.read()[:2000])) from None

    def cmd(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path), body)

    def script(self, js, *args):
        return self.cmd("POST", "/execute/sync", {"script": js, "args": list(args)})

    def wait_for(self, js, timeout=30):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            value = self.script(js)
            if value:
                return value
            time.sleep(0.2)
        return None

    def close(self):
        if getattr(self, "session", None):
            try:
                self.call("DELETE", "/session/%s" % self.session)
            except Exception:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.profile.cleanup()


class DocsInBrowserTest(ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(CHROMEDRIVER) or not os.path.exists(CHROMIUM):
            raise RuntimeError("chromium and chromium-driver are needed "
                               "(scripts/test installs them)")
        super().setUpClass()
        cls.wd = WebDriver()

    @classmethod
    def tearDownClass(cls):
        cls.wd.close()
        super().tearDownClass()

    def test_operation_schema_and_example_render(self):
        wd = self.wd
        origin = "http://127.0.0.1:%d" % self.svc.port
        wd.cmd("POST", "/url", {"url": origin + "/docs#/" + OPERATION})
        # The operation's section, once Redoc has rendered it.
        section = wd.wait_for(
            "const el = document.getElementById(%s);"
            "return el && el.innerText.includes('plan_published_date') ? el.innerText : null;"
            % json.dumps(OPERATION))
        self.assertIsNotNone(section, "getCampaign's section never rendered")
        self.assertIn("Get a campaign", section)
        # The response schema: properties with their descriptions (Chinese terms kept).
        for text in ("province_org_id", "plan_published_date", "整改方案公开"):
            self.assertIn(text, section)
        # The response sample: the schema's example.
        self.assertIn("第三轮中央生态环境保护督察甘肃省整改", section)
        self.assertIn('"created_at": "2024-03-01T09:30:00+08:00"',
                      section.replace("\u00a0", " "), section[-3000:])

        # Nothing came from anywhere but this service.
        urls = wd.script("return performance.getEntriesByType('resource').map(e => e.name)"
                         ".concat([location.href]);")
        foreign = [u for u in urls
                   if not u.startswith((origin + "/", "data:", "blob:", "about:"))]
        self.assertEqual(foreign, [], "the page fetched from elsewhere")

        wd.script("document.getElementById(arguments[0]).scrollIntoView();", OPERATION)
        time.sleep(0.5)
        png = base64.b64decode(wd.cmd("GET", "/screenshot"))
        self.assertTrue(png.startswith(b"\x89PNG"))
        os.makedirs(ARTEFACTS, exist_ok=True)
        path = os.path.join(ARTEFACTS, "docs-getCampaign.png")
        with open(path, "wb") as f:
            f.write(png)
        print("screenshot: " + path)


if __name__ == "__main__":
    main()
