"""Bad input (issue 10): every JSON route of the contract and every import gets
hostile and careless bodies — truncated JSON, nesting of 10 000, 1 MB strings, huge
and odd numbers, wrong types, duplicate keys, invalid and overlong UTF-8, NUL bytes,
broken CSV quoting, 10 000 columns. Each answer must be a 4xx problem (never 5xx),
the service must stay up, and a refused request must leave the database as it was.

The routes come from the served OpenAPI document, so a new JSON route is covered
without touching this file; the demo ledger gives every path id a real row."""
import json
import os
import subprocess

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_PASSWORD = "Demo-Passw0rd-2026"

# Whole bodies, whatever the route.
RAW_BODIES = [
    b'{"name": "x',                                  # truncated
    b"[" * 10000 + b"]" * 10000,                     # nesting of 10 000
    b'{"a":' * 10000 + b"1" + b"}" * 10000,
    b'{"a": 1, "a": 2}',                             # duplicate keys
    b'{"a": {"b": 1, "b": [1]}}',
    b'{"a": "\xc0\xaf"}',                            # overlong '/'
    b'{"a": "\xed\xa0\x80"}',                        # encoded surrogate
    b'{"a": "\xff\xfe"}',                            # invalid UTF-8
    b'{"a": "x\x00y"}',                              # NUL byte
    b'{"a": "x\\u0000y"}',                           # escaped NUL
    b'{"a": "\\ud800"}',                             # lone surrogate escape
    b'{"a": 1e999}',
    b"1e999", b'"a string"', b"null", b"[]", b"true", b"-0",
    b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(10000)) + b"}",
    b"\xef\xbb\xbf",                                 # a BOM and nothing else
]

# Values put into each property the contract names, one at a time.
ODD_VALUES = [
    1.7976931348623157e308, -1.7976931348623157e308,
    123456789012345678901234567890, -9223372036854775809, 9223372036854775808,
    -1, 0, 0.5, 1e-320, "", " ", "x" * 5000, "‮exe.pdf", "\u200b", "null", "NaN",
    "2023-02-30", "9999-12-31T25:61:61Z", "-1", "1e999", True, False, None, [], {}, [None],
    {"a": {"b": {"c": [1, {"d": "e"}]}}}, ["x" * 300] * 50, [1, "x"], "兰州" * 3000,
]


class BadInput(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = dict(os.environ, RECTIFY_DATABASE_URL=cls.db_url, RECTIFY_BIN=harness.BIN,
                   RECTIFY_DEMO_PASSWORD=DEMO_PASSWORD)
        p = subprocess.run([os.path.join(ROOT, "scripts", "seed-demo")], env=env,
                           capture_output=True, text=True, timeout=120 * harness.SLOW)
        if p.returncode != 0:
            raise RuntimeError("seed-demo failed:\n%s\n%s" % (p.stdout, p.stderr))
        cls.token = cls.svc.login("office", DEMO_PASSWORD)
        cls.admin = cls.svc.login("admin", DEMO_PASSWORD)
        cls.campaign = int(cls.sql("SELECT min(id) FROM campaigns"))
        with open(os.path.join(ROOT, "sql", "seed", "complaints-sample.csv"), "rb") as f:
            r = cls.svc.post("/api/v1/complaints/import?campaign_id=%d" % cls.campaign, body=f.read(),
                             headers={"Content-Type": "text/csv"}, token=cls.token)
        if r.status >= 300 and r.status != 207:
            raise RuntimeError("sample import failed: %r" % r)
        cls.spec = cls.svc.get("/api/v1/openapi.json").json
        cls.ids = {
            "orgs": cls.sql("SELECT min(id) FROM orgs"),
            "users": cls.sql("SELECT min(id) FROM users"),
            "campaigns": str(cls.campaign),
            "problems": cls.sql("SELECT min(id) FROM problems"),
            "tasks": cls.sql("SELECT min(task_id) FROM task_extensions WHERE status = 'requested'"),
            "complaints": cls.sql("SELECT min(id) FROM complaints"),
        }
        cls.ext_id = cls.sql("SELECT min(id) FROM task_extensions WHERE status = 'requested'")

    @classmethod
    def sql(cls, text):
        return harness.psql(text, cls.db_name)

    def fingerprint(self):
        """One digest per table of the public schema (rows and versions)."""
        tables = self.sql("SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables"
                          " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'").split()
        sql = " UNION ALL ".join(
            "SELECT '%s', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM %s t" % (t, t)
            for t in tables)
        return dict(line.split("|") for line in self.sql(sql).splitlines())

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def properties(self, schema):
        schema = self.deref(schema)
        props = dict(schema.get("properties", {}))
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in schema.get(key, []):
                props.update(self.properties(sub))
        return sorted(props)

    def json_routes(self):
        for path, ops in self.spec["paths"].items():
            for method, op in ops.items():
                content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
                if "application/json" in content and not path.endswith("/import"):
                    yield method.upper(), path, self.properties(content["application/json"].get("schema", {}))

    def concrete(self, path):
        resource = path.split("/")[3]
        return path.replace("{id}", self.ids.get(resource, "1")).replace("{ext_id}", self.ext_id)

    def send(self, method, path, body, ctype="application/json"):
        """Routes of a row carry its current ETag, so that validation, not 412/428, answers."""
        token = None if "/auth/" in path else self.admin if path.split("/")[3] in ("orgs", "users") \
            else self.token
        headers = {"Content-Type": ctype}
        parts = path.split("/")
        if len(parts) > 4 and parts[4].isdigit():   # a row's route: its current ETag
            row = "/".join(parts[:5])
            headers["If-Match"] = self.svc.get(row, token=token).header("etag") or '"0"'
        return self.svc.request(method, path, body=body, headers=headers, token=token)

    def check(self, what, r, allow_multi_status=False):
        ok = 400 <= r.status < 500 or (allow_multi_status and r.status == 207)
        self.assertTrue(ok, "%s answered %r" % (what, r))
        if r.status != 207:
            self.assertTrue(r.header("content-type").startswith("application/problem+json"),
                            "%s: %r" % (what, r))

    def assert_unchanged(self, before, what):
        after = self.fingerprint()
        changed = sorted(t for t in before if before[t] != after.get(t))
        self.assertEqual(changed, [], "%s changed %s" % (what, changed))

    def test_json_routes(self):
        routes = list(self.json_routes())
        self.assertGreaterEqual(len(routes), 20, "the contract lost its JSON routes?")
        sent = 0
        statuses = {}
        for method, path, props in routes:
            url = self.concrete(path)
            with self.subTest(route="%s %s" % (method, path)):
                before = self.fingerprint()
                for body in RAW_BODIES:
                    self.check("%s %s %r" % (method, path, body[:40]), self.send(method, url, body))
                    sent += 1
                big = json.dumps({(props or ["a"])[0]: "x" * 1_000_000}).encode()
                self.check("%s %s 1 MB string" % (method, path), self.send(method, url, big))
                wrote = []
                for prop in props:
                    for value in ODD_VALUES:
                        body = json.dumps({prop: value}, ensure_ascii=False).encode()
                        r = self.send(method, url, body)
                        sent += 1
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        self.assertLess(r.status, 500, "%s %s {%s: %r}: %r" % (method, path, prop, str(value)[:40], r))
                        if r.status < 300:
                            wrote.append((prop, value))
                if not wrote:
                    self.assert_unchanged(before, "%s %s" % (method, path))
                self.assertEqual(self.svc.get("/healthz").status, 200)
        print("bad input: %d requests to %d JSON routes; odd values answered %s"
              % (sent, len(routes), dict(sorted(statuses.items()))))

    def test_imports(self):
        header = "交办编号,批次,受理时间,来源渠道,反映内容,污染类型,区县\n"
        csv_attacks = [
            header + '"X-1,1,2023-11-25,online,"噪声"x,noise,620103\n',     # quote inside a field
            header + '"X-1,1,2023-11-25,online,噪声,noise,620103\n',         # unterminated quote
            ",".join("c%d" % i for i in range(10000)) + "\n" + ",".join("v" for _ in range(10000)) + "\n",
            header + "X-1,1,2023-11-25,online,噪\x00声,noise,620103\n",
            (header + "X-1,1,2023-11-25,online,").encode() + b"\xc0\xaf\xff,noise,620103\n",
            header + "X-1,1,2023-11-25,online," + "长" * 400000 + ",noise,620103\n",
            header + "X-1,99999999999999999999999,2023-11-25,online,噪声,noise,620103\n",
            "\ufeff" + "\r" * 5000,
            "",
        ]
        nd_attacks = [
            b'{"handover_no": "X-2", "batch_no": 1, "batch_no": 2}\n',
            b"[" * 10000 + b"]" * 10000 + b"\n",
            b'{"handover_no": "X-3", "content": "\xed\xa0\x80"}\n',
            b'{"handover_no": "X-4", "content": "a\\u0000b"}\n',
            b'{"handover_no": "X-5", "batch_no": 1e999}\n',
            b'{"handover_no": ' + b'"x' * 10 + b"\n",
        ]
        json_attacks = [b"[" * 10000 + b"]" * 10000, b'[{"a": 1, "a": 2}]', b"[1, 2", b'{"not": "an array"}',
                        b'[' + b','.join([b'{}'] * 20000) + b']']
        imports = (("/api/v1/complaints/import?campaign_id=%d" % self.campaign, "complaints"),
                   ("/api/v1/tasks/import?campaign=%d" % self.campaign, "tasks"),
                   ("/api/v1/problems/import?campaign=%d" % self.campaign, "problems"))
        for url, what in imports:
            for mode in ("", "&mode=atomic"):
                with self.subTest(import_=what, mode=mode):
                    before = self.fingerprint()
                    cases = [(b if isinstance(b, bytes) else b.encode(), "text/csv") for b in csv_attacks]
                    cases += [(b, "application/x-ndjson") for b in nd_attacks]
                    cases += [(b, "application/json") for b in json_attacks]
                    for body, ctype in cases:
                        r = self.send("POST", url + mode, body, ctype)
                        self.check("%s %s %r" % (what, ctype, body[:40]), r, allow_multi_status=True)
                        if r.status == 207:
                            summary = r.json["summary"]
                            self.assertEqual(summary.get("inserted", 0) + summary.get("updated", 0), 0,
                                             "%s %r: %r" % (what, body[:40], r.json))
                    self.assert_unchanged(before, "%s import" % what)
        self.assertEqual(self.svc.get("/healthz").status, 200)


if __name__ == "__main__":
    harness.main()
