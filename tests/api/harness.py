"""Black-box test harness: the real rectify binary against a real PostgreSQL.

Environment (set by scripts/test and CMake):
  RECTIFY_BIN                 the binary under test
  RECTIFY_TEST_DATABASE_URL   superuser URL of the test cluster (…/postgres)
  RECTIFY_TEST_PG_RESTART     shell command that restarts that cluster
Each test module gets fresh databases; nothing is shared between modules.
Only the Python standard library is used.
"""
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

BIN = os.environ.get("RECTIFY_BIN", "")
ADMIN_URL = os.environ.get("RECTIFY_TEST_DATABASE_URL", "")
SANITIZED = os.environ.get("RECTIFY_SANITIZED", "0") in ("1", "ON", "TRUE", "true")
# Sanitized binaries start and run slower; scale waits, never assertions.
SLOW = 4 if SANITIZED else 1
TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnop"
TEST_PII_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="   # 32 bytes, base64
os.environ.setdefault("RECTIFY_PII_KEY", TEST_PII_KEY)    # every serve (Service, run_cli) needs one
DEFAULT_PASSWORD = "Passw0rd-Demo-1"


def require_env():
    missing = [n for n, v in (("RECTIFY_BIN", BIN), ("RECTIFY_TEST_DATABASE_URL", ADMIN_URL)) if not v]
    if missing:
        sys.exit("harness: %s not set (run the tests through ./scripts/test)" % ", ".join(missing))


def db_url(dbname):
    parts = urllib.parse.urlsplit(ADMIN_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def psql(sql, dbname="postgres", check=True, user=None):
    """Runs SQL through psql as the cluster superuser; returns stdout."""
    url = db_url(dbname)
    if user:
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(parts._replace(netloc="%s@%s" % (user, parts.hostname + ":" + str(parts.port))))
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError("psql failed: %s" % p.stderr)
    return p.stdout.strip()


_databases = []


def fresh_database(prefix="t"):
    """Creates an empty database and returns (name, url); dropped at exit."""
    name = "%s_%d_%s" % (prefix, os.getpid(), secrets.token_hex(3))
    psql('CREATE DATABASE "%s"' % name)
    _databases.append(name)
    return name, db_url(name)


def drop_databases():
    for name in _databases:
        psql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name, check=False)
    _databases.clear()


def run_cli(args, env=None, timeout=60 * SLOW, stdin=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([BIN] + args, env=full_env, capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def migrate(url):
    p = run_cli(["migrate"], env={"RECTIFY_DATABASE_URL": url})
    if p.returncode != 0:
        raise RuntimeError("migrate failed: %s" % p.stderr)


def create_user(database_url, username, org_code, roles, password=DEFAULT_PASSWORD,
                display_name=None):
    """Creates a user through `rectify user create` (as the database owner)."""
    args = ["user", "create", "--username", username, "--org", org_code, "--password-stdin"]
    for role in ([roles] if isinstance(roles, str) else roles):
        args += ["--role", role]
    if display_name:
        args += ["--display-name", display_name]
    p = run_cli(args, env={"RECTIFY_DATABASE_URL": database_url}, stdin=password + "\n")
    if p.returncode != 0:
        raise RuntimeError("user create failed: %s" % p.stderr)
    return int(psql("SELECT id FROM users WHERE username = lower('%s')" % username.replace("'", "''"),
                    urllib.parse.urlsplit(database_url).path.lstrip("/")))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case names
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Service:
    """One running `rectify serve` on a free port."""

    def __init__(self, database_url, extra_env=None, args=None, wait_ready=True):
        self.log = tempfile.NamedTemporaryFile(prefix="rectify-", suffix=".log", delete=False)
        env = dict(os.environ)
        env.update({
            "RECTIFY_DATABASE_URL": database_url,
            "RECTIFY_LISTEN": "127.0.0.1:0",
            "RECTIFY_TEST_ROUTES": "1",
            "RECTIFY_THREADS": "16",
            "RECTIFY_DB_POOL": "4",
            "RECTIFY_LOG_LEVEL": "info",
            "RECTIFY_JWT_SECRET": TEST_JWT_SECRET,
        })
        env.update(extra_env or {})
        env = {k: v for k, v in env.items() if v is not None}   # None: the service's default
        self.proc = subprocess.Popen([BIN, "serve"] + (args or []), env=env,
                                     stdout=self.log, stderr=self.log)
        self.port = None
        deadline = time.time() + 20 * SLOW
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("rectify exited early:\n" + self.read_log())
            m = re.search(r"\(port (\d+)\)", self.read_log())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            self.stop()
            raise RuntimeError("rectify did not start:\n" + self.read_log())
        if wait_ready:
            self.wait_ready()

    def read_log(self):
        with open(self.log.name, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_lines(self):
        out = []
        for line in self.read_log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            try:
                if self.get("/readyz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("rectify never became ready:\n" + self.read_log())

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * SLOW)

    def request(self, method, path, body=None, headers=None, conn=None, token=None):
        own = conn is None
        conn = conn or self.connection()
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            if own:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def raw(self, data, read_timeout=5):
        """Sends raw bytes on a new socket; returns everything read until close/timeout."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout * SLOW)
        try:
            s.sendall(data)
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def login(self, username, password=DEFAULT_PASSWORD):
        """Signs in; returns the access token (raises on failure)."""
        r = self.post("/api/v1/auth/token", {"username": username, "password": password})
        if r.status != 200:
            raise RuntimeError("sign-in of %s failed: %r" % (username, r))
        return r.json["access_token"]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def assert_problem(tc, resp, status, code):
    """Checks an RFC 9457 answer with our stable code."""
    tc.assertEqual(resp.status, status, resp)
    tc.assertTrue(resp.header("content-type").startswith("application/problem+json"), resp.headers)
    doc = resp.json
    tc.assertEqual(doc["status"], status)
    tc.assertEqual(doc["code"], code, doc)
    tc.assertEqual(doc["type"], "https://rectify.example/problems/" + code)
    for field in ("title", "detail", "instance", "request_id"):
        tc.assertIn(field, doc)
    tc.assertEqual(doc["request_id"], resp.header("x-request-id"))
    return doc


class ServiceTestCase(unittest.TestCase):
    """A migrated database and one service for the whole class."""
    service_env = {}

    @classmethod
    def setUpClass(cls):
        require_env()
        cls.db_name, cls.db_url = fresh_database(cls.__name__.lower()[:20])
        migrate(cls.db_url)
        cls.svc = Service(cls.db_url, extra_env=cls.service_env)

    @classmethod
    def tearDownClass(cls):
        status = cls.svc.stop()
        if status != 0:
            raise AssertionError("rectify exited with %s:\n%s" % (status, cls.svc.read_log()[-4000:]))


def main():
    require_env()
    try:
        unittest.main(verbosity=2)
    finally:
        drop_databases()


def in_thread(fn, *args):
    """Runs fn(*args) in a thread; returns (thread, result-list)."""
    result = []
    t = threading.Thread(target=lambda: result.append(fn(*args)))
    t.start()
    return t, result
