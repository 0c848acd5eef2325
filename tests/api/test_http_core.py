"""HTTP core: routing answers, bodies, request ids, CORS, security headers, metrics."""
import os
import json
import re

import harness
from harness import assert_problem


class HttpCore(harness.ServiceTestCase):
    service_env = {"RECTIFY_MAX_BODY": "2k", "RECTIFY_CORS_ORIGINS": "https://ledger.gansu.example, https://app.example"}

    def test_healthz_and_common_headers(self):
        r = self.svc.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, {"status": "ok"})
        self.assertEqual(r.header("x-content-type-options"), "nosniff")
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        self.assertRegex(r.header("x-request-id"), r"^[0-9a-f]{24}$")

    def test_request_id_echo_and_replacement(self):
        r = self.svc.get("/healthz", headers={"X-Request-Id": "batch-2024.03:17_a"})
        self.assertEqual(r.header("x-request-id"), "batch-2024.03:17_a")
        for bad in ("has space", "x" * 65, "semi;colon", "引号"):
            r = self.svc.get("/healthz", headers={"X-Request-Id": bad.encode("utf-8")})
            self.assertNotEqual(r.header("x-request-id"), bad)
            self.assertRegex(r.header("x-request-id"), r"^[0-9a-f]{24}$")

    def test_request_id_reaches_the_database(self):
        r = self.svc.get("/api/v1/_test/sleep?ms=0", headers={"X-Request-Id": "trace-42"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["request_id"], "trace-42")

    def test_not_found(self):
        doc = assert_problem(self, self.svc.get("/api/v1/nothing-here"), 404, "not_found")
        self.assertEqual(doc["instance"], "/api/v1/nothing-here")
        assert_problem(self, self.svc.get("/healthz/"), 404, "not_found")      # strict matching
        assert_problem(self, self.svc.get("/HEALTHZ"), 404, "not_found")       # case-sensitive
        assert_problem(self, self.svc.get("/api/v1/_test/echo/extra"), 404, "not_found")

    def test_head_is_get_without_a_body(self):
        get = self.svc.get("/api/v1/openapi.json")
        head = self.svc.request("HEAD", "/api/v1/openapi.json")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.header("content-length"), get.header("content-length"))

    def test_method_not_allowed_lists_allow(self):
        r = self.svc.request("DELETE", "/healthz")
        assert_problem(self, r, 405, "method_not_allowed")
        self.assertEqual(r.header("allow"), "GET")
        r = self.svc.get("/api/v1/_test/echo")
        assert_problem(self, r, 405, "method_not_allowed")
        self.assertEqual(r.header("allow"), "POST")

    def test_json_body_round_trip(self):
        body = {"name": "兰州市", "n": [1, 2.5, None, True]}
        r = self.svc.post("/api/v1/_test/echo", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, body)

    def test_unsupported_media_type(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", None):
            headers = {"Content-Type": ct} if ct else {}
            r = self.svc.request("POST", "/api/v1/_test/echo", body=b'{"a":1}', headers=headers)
            assert_problem(self, r, 415, "unsupported_media_type")
        r = self.svc.request("POST", "/api/v1/_test/echo", body=b'{"a":1}',
                             headers={"Content-Type": "application/json; charset=UTF-8"})
        self.assertEqual(r.status, 200)

    def test_malformed_json(self):
        for body in (b'{"a":', b'{"a":1} trailing', b"[1,2,]", b"{'a':1}", b'["a\tb"]', b'["\\u0000"]'):
            r = self.svc.request("POST", "/api/v1/_test/echo", body=body,
                                 headers={"Content-Type": "application/json"})
            assert_problem(self, r, 400, "malformed_json")
        for body in (b"\xff\xfe", b'["\xc0\xaf"]', b'["a\x00"]'):
            r = self.svc.request("POST", "/api/v1/_test/echo", body=body,
                                 headers={"Content-Type": "application/json"})
            assert_problem(self, r, 400, "invalid_utf8")
        r = self.svc.request("POST", "/api/v1/_test/echo", body=b'{"a": 1, "b": {"c": 1, "c": 2}}',
                             headers={"Content-Type": "application/json"})
        assert_problem(self, r, 400, "duplicate_key")
        r = self.svc.request("POST", "/api/v1/_test/echo", body=b"",
                             headers={"Content-Type": "application/json"})
        assert_problem(self, r, 400, "malformed_json")

    def test_body_too_large_by_content_length(self):
        big = b'{"a":"' + b"x" * 4096 + b'"}'
        r = self.svc.request("POST", "/api/v1/_test/echo", body=big, headers={"Content-Type": "application/json"})
        doc = assert_problem(self, r, 413, "payload_too_large")
        self.assertIn("2048", doc["detail"])
        self.assertEqual(r.header("connection"), "close")

    def test_body_too_large_when_chunked(self):
        chunk = b'{"a":"' + b"x" * 3000 + b'"}'
        raw = (b"POST /api/v1/_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n")
        out = self.svc.raw(raw)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:200])
        self.assertIn(b'"code":"payload_too_large"', out)

    def test_chunked_body_within_limit(self):
        body = b'{"chunked":true}'
        raw = (b"POST /api/v1/_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5\r\n" + body[:5] + b"\r\n" + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\n\r\n")
        out = self.svc.raw(raw)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:200])
        self.assertTrue(out.endswith(body), out)

    def test_expect_100_continue(self):
        body = b'{"expect":1}'
        head = (b"POST /api/v1/_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        import socket
        s = socket.create_connection(("127.0.0.1", self.svc.port), timeout=5 * harness.SLOW)
        try:
            s.sendall(head)
            interim = s.recv(1024)  # must arrive before we send the body
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
            s.sendall(body)
            out = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out)
        self.assertTrue(out.endswith(body))

    def test_expect_100_continue_refused_when_too_large(self):
        head = (b"POST /api/v1/_test/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nContent-Length: 999999\r\n\r\n")
        out = self.svc.raw(head, read_timeout=3)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])
        self.assertNotIn(b"100 Continue", out)

    def test_keep_alive_reuses_the_connection(self):
        conn = self.svc.connection()
        try:
            for _ in range(5):
                r = self.svc.get("/healthz", conn=conn)
                self.assertEqual(r.status, 200)
            r = self.svc.post("/api/v1/_test/echo", {"x": 1}, conn=conn)
            self.assertEqual(r.status, 200)
            r = self.svc.get("/nope", conn=conn)      # an error does not close it either
            self.assertEqual(r.status, 404)
            self.assertEqual(self.svc.get("/healthz", conn=conn).status, 200)
        finally:
            conn.close()

    def test_streamed_answer_is_chunked_and_keeps_the_connection(self):
        conn = self.svc.connection()
        try:
            r = self.svc.get("/api/v1/_test/stream?lines=20000", conn=conn)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("transfer-encoding"), "chunked")
            self.assertIsNone(r.header("content-length"))
            lines = r.body.decode().splitlines()
            self.assertEqual(lines, [str(i) for i in range(20000)])
            self.assertEqual(self.svc.get("/healthz", conn=conn).status, 200)
        finally:
            conn.close()

    def test_raw_bodies_are_read_in_pieces_beyond_the_json_limit(self):
        data = b"x" * (3 * 1024 * 1024)
        r = self.svc.request("POST", "/api/v1/_test/count", body=data,
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"bytes": len(data)})
        raw = (b"POST /api/v1/_test/count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
               b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
        out = self.svc.raw(raw)
        self.assertIn(b'{"bytes":7}', out)
        self.assertTrue(out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "), out[:80])

    def test_path_parameters_are_not_decoded_into_slashes(self):
        assert_problem(self, self.svc.get("/api/v1/_test%2Fecho"), 404, "not_found")

    def test_cors_preflight_allowed_origin(self):
        r = self.svc.request("OPTIONS", "/api/v1/_test/echo", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.header("access-control-allow-origin"), "https://app.example")
        self.assertIn("POST", r.header("access-control-allow-methods"))
        self.assertIn("Authorization", r.header("access-control-allow-headers"))
        self.assertEqual(r.header("vary"), "Origin")

    def test_cors_preflight_other_origin_refused(self):
        r = self.svc.request("OPTIONS", "/api/v1/_test/echo", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert_problem(self, r, 403, "cors_origin_denied")
        self.assertIsNone(r.header("access-control-allow-origin"))

    def test_cors_headers_on_simple_requests(self):
        r = self.svc.get("/healthz", headers={"Origin": "https://ledger.gansu.example"})
        self.assertEqual(r.header("access-control-allow-origin"), "https://ledger.gansu.example")
        self.assertIn("X-Request-Id", r.header("access-control-expose-headers"))
        r = self.svc.get("/healthz", headers={"Origin": "https://ledger.gansu.example.evil"})
        self.assertIsNone(r.header("access-control-allow-origin"))

    def test_openapi_document(self):
        r = self.svc.get("/api/v1/openapi.json")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("application/json"))
        doc = r.json
        self.assertTrue(doc["openapi"].startswith("3.1"))
        self.assertIn("/healthz", doc["paths"])

    def test_docs_page(self):
        r = self.svc.get("/docs")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("text/html"))
        self.assertIn(b"RedocStandalone", r.body)   # the Redoc bundle, inlined
        self.assertIn(b"getCampaign", r.body)       # the spec, inlined
        self.assertIsNone(re.search(rb"<(script|link)[^>]*(src|href)=\"?https?:", r.body))

    def test_metrics(self):
        for _ in range(3):
            self.svc.get("/healthz")
        self.svc.get("/definitely/not/here")
        r = self.svc.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("text/plain"))
        text = r.body.decode()
        m = re.search(r'rectify_http_requests_total\{method="GET",route="/healthz",status="200"\} (\d+)', text)
        self.assertIsNotNone(m, text)
        self.assertGreaterEqual(int(m.group(1)), 3)
        self.assertRegex(text, r'rectify_http_requests_total\{method="",route="unmatched",status="404"\} \d+')
        self.assertRegex(text, r'rectify_http_request_duration_seconds_bucket\{method="GET",route="/healthz",le="\+Inf"\} \d+')
        self.assertRegex(text, r"rectify_http_requests_in_flight 1\b")  # this request
        self.assertRegex(text, r"rectify_db_pool_connections 4\b")
        self.assertRegex(text, r"rectify_db_pool_in_use \d+")
        self.assertRegex(text, r"rectify_db_pool_waiting \d+")
        self.assertRegex(text, r'rectify_db_errors_total\{kind="connection"\} \d+')

    def test_access_log_lines(self):
        import time
        self.svc.get("/healthz", headers={"X-Request-Id": "log-check-1"})
        for _ in range(50):  # the line is written just after the response
            lines = [l for l in self.svc.log_lines() if l.get("request_id") == "log-check-1"]
            if lines:
                break
            time.sleep(0.05)
        self.assertEqual(len(lines), 1, lines)
        line = lines[0]
        for key in ("time", "method", "route", "status", "duration_ms", "bytes"):
            self.assertIn(key, line)
        self.assertEqual(line["route"], "/healthz")
        self.assertEqual(line["status"], 200)


class DefaultPoolSize(harness.ServiceTestCase):
    """RECTIFY_DB_POOL=0 (the default) sizes the pool at two connections per core."""
    service_env = {"RECTIFY_DB_POOL": "0"}

    def test_two_connections_per_core(self):
        text = self.svc.get("/metrics").body.decode()
        expected = min(2 * os.cpu_count(), 64)
        self.assertRegex(text, r"rectify_db_pool_connections %d\b" % expected)


if __name__ == "__main__":
    harness.main()
