"""What browser code and scripting clients rely on (issue 16): conditional
GETs (If-None-Match → 304 on every resource with an ETag), the response
headers a cross-origin page may read (Access-Control-Expose-Headers), and
download names whose ASCII fallback means something (curl -OJ)."""
import datetime
import urllib.parse

import harness

ORIGIN = "https://app.rectify.example"
PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
       b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def shanghai_today():
    return (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(hours=8)).strftime("%Y%m%d")


def disposition_parts(cd):
    """(ASCII filename, decoded filename*) of our Content-Disposition."""
    cd.encode("ascii")                                  # the header itself is ASCII
    ascii_part, ext_part = cd.split("; filename*=")
    prefix = 'attachment; filename="'
    assert ascii_part.startswith(prefix) and ascii_part.endswith('"'), cd
    assert ext_part.startswith("UTF-8''"), cd
    return ascii_part[len(prefix):-1], urllib.parse.unquote(ext_part[len("UTF-8''"):])


class Frontend(harness.ServiceTestCase):
    service_env = {"RECTIFY_CORS_ORIGINS": ORIGIN}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        users = {"fe_office": ("GS-OFFICE", ["office"]), "fe_admin": ("620000", ["admin"]),
                 "fe_unit": ("620100", ["unit"]), "fe_other": ("620800", ["unit"])}
        cls.uid = {n: harness.create_user(cls.db_url, n, org, roles)
                   for n, (org, roles) in users.items()}
        cls.tok = {n: cls.svc.login(n) for n in users}
        org = {c: int(harness.psql("SELECT id FROM orgs WHERE code = '%s'" % c, cls.db_name))
               for c in ("620000", "620100")}
        cls.org = org
        r = cls.call("POST", "/api/v1/campaigns", "fe_office", {
            "name": "第三轮中央生态环境保护督察甘肃省整改", "round": 3,
            "province_org_id": org["620000"]})
        assert r.status == 201, r
        cls.campaign = r.json
        r = cls.call("POST", "/api/v1/problems", "fe_office", {
            "campaign_id": cls.campaign["id"], "code": "1", "title": "祁连山自然保护区生态修复不到位",
            "category": "local_specific", "lead_org_id": org["620100"], "responsible_name": "王伟",
            "responsible_post": "副省长", "target": "问题整改到位", "deadline": "2026-12-31"})
        assert r.status == 201, r
        cls.problem = r.json
        r = cls.call("POST", "/api/v1/tasks", "fe_office", {
            "problem_id": cls.problem["id"], "code": "T-1", "title": "矿山生态修复",
            "target": "完成矿山生态修复", "measures": ["制定整改方案"],
            "lead_org_id": org["620100"], "responsible_name": "张三", "responsible_post": "市长",
            "deadline": "2026-12-31"})
        assert r.status == 201, r
        cls.task = r.json
        r = cls.svc.post("/api/v1/attachments", body=PDF, token=cls.tok["fe_unit"], headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=UTF-8''" + urllib.parse.quote("整改报告.pdf")})
        assert r.status == 201, r
        cls.attachment = r.json
        with open(harness.os.path.join(harness.os.environ["RECTIFY_SOURCE_DIR"],
                                       "sql/seed/complaints-sample.csv"), "rb") as f:
            r = cls.svc.post("/api/v1/complaints/import?campaign_id=%d" % cls.campaign["id"],
                             body=f.read(), headers={"Content-Type": "text/csv; charset=utf-8"},
                             token=cls.tok["fe_office"])
        assert r.status == 207 and r.json["summary"]["failed"] == 0, r
        cls.complaint = int(harness.psql("SELECT min(id) FROM complaints", cls.db_name))

    @classmethod
    def call(cls, method, path, who, body=None, headers=None):
        return cls.svc.request(method, path, body=body, headers=headers, token=cls.tok[who])

    def etagged(self):
        """(path, who) of every resource that answers GET with an ETag."""
        a = self.attachment["id"]
        return [("/api/v1/me", "fe_unit"),
                ("/api/v1/orgs/%d" % self.org["620100"], "fe_unit"),
                ("/api/v1/users/%d" % self.uid["fe_unit"], "fe_admin"),
                ("/api/v1/campaigns/%d" % self.campaign["id"], "fe_unit"),
                ("/api/v1/problems/%d" % self.problem["id"], "fe_unit"),
                ("/api/v1/tasks/%d" % self.task["id"], "fe_unit"),
                ("/api/v1/complaints/%d" % self.complaint, "fe_office"),
                ("/api/v1/complaints/%d?pii=true" % self.complaint, "fe_office"),
                ("/api/v1/attachments/%d/meta" % a, "fe_unit"),
                ("/api/v1/attachments/%d" % a, "fe_unit")]

    # ------------------------------------------------------------ If-None-Match

    def assert_not_modified(self, r, etag):
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("etag"), etag)
        self.assertIsNotNone(r.header("x-request-id"))
        self.assertIsNone(r.header("content-type"), r.headers)
        self.assertIsNone(r.header("content-length"), r.headers)    # no body, not "0 bytes"
        self.assertIsNone(r.header("transfer-encoding"), r.headers)

    def test_if_none_match_answers_304_on_every_etagged_resource(self):
        for path, who in self.etagged():
            with self.subTest(path=path):
                r = self.call("GET", path, who)
                self.assertEqual(r.status, 200, r)
                etag = r.header("etag")
                self.assertTrue(etag and etag.startswith('"'), r.headers)
                for inm in (etag, "W/" + etag, '"999999", ' + etag, '"x",' + etag + ' ', "*"):
                    self.assert_not_modified(
                        self.call("GET", path, who, headers={"If-None-Match": inm}), etag)
                # Keep-alive: the 304 has no body, the next answer on the connection is whole.
                conn = self.svc.connection()
                try:
                    self.assert_not_modified(self.svc.request(
                        "GET", path, conn=conn, token=self.tok[who],
                        headers={"If-None-Match": etag, "Connection": "keep-alive"}), etag)
                    again = self.svc.request("GET", path, conn=conn, token=self.tok[who])
                    self.assertEqual((again.status, again.body), (200, r.body))
                finally:
                    conn.close()
                # HEAD too
                self.assert_not_modified(
                    self.call("HEAD", path, who, headers={"If-None-Match": etag}), etag)
                # Another tag, a tag containing it, junk: the full answer.
                for inm in ('"999999"', '"x' + etag[1:], etag[1:-1], ""):
                    r2 = self.call("GET", path, who, headers={"If-None-Match": inm})
                    self.assertEqual(r2.status, 200, (inm, r2))
                    self.assertEqual(r2.body, r.body)

    def test_304_never_answers_an_error_or_a_write(self):
        # Another org's task is 404 whatever If-None-Match says.
        path = "/api/v1/tasks/%d" % self.task["id"]
        harness.assert_problem(self, self.call("GET", path, "fe_other", headers={"If-None-Match": "*"}),
                               404, "not_found")
        harness.assert_problem(self, self.svc.get(path, headers={"If-None-Match": "*",
                                                                 "Authorization": "Bearer x"}),
                               401, "invalid_token")
        # A PATCH with If-None-Match naming the ETag still writes and answers 200.
        r = self.call("POST", "/api/v1/campaigns", "fe_office", {
            "name": "第四轮", "round": 4, "province_org_id": self.org["620000"]})
        self.assertEqual(r.status, 201, r)
        cpath = "/api/v1/campaigns/%d" % r.json["id"]
        old = r.header("etag")
        r = self.call("PATCH", cpath, "fe_office", {"description": "改"},
                      headers={"If-Match": old, "If-None-Match": old})
        self.assertEqual(r.status, 200, r)
        new = r.header("etag")
        self.assertNotEqual(new, old)
        # After the change the old ETag gets the new representation, the new one 304.
        r = self.call("GET", cpath, "fe_unit", headers={"If-None-Match": old})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["description"], "改")
        self.assert_not_modified(self.call("GET", cpath, "fe_unit", headers={"If-None-Match": new}), new)

    # ------------------------------------------------------------ CORS

    def test_cross_origin_code_may_read_the_headers_it_needs(self):
        want = {"content-disposition", "etag", "location", "retry-after", "idempotent-replayed",
                "x-request-id"}
        a = self.attachment["id"]
        for path in ("/healthz", "/api/v1/attachments/%d" % a):
            with self.subTest(path=path):
                r = self.call("GET", path, "fe_unit", headers={"Origin": ORIGIN})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("access-control-allow-origin"), ORIGIN)
                exposed = {h.strip().lower()
                           for h in r.header("access-control-expose-headers").split(",")}
                self.assertLessEqual(want, exposed, exposed)
        r = self.svc.request("OPTIONS", "/api/v1/tasks/%d" % self.task["id"], headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match"})
        self.assertEqual(r.status, 204, r)
        self.assertIn("If-None-Match", r.header("access-control-allow-headers"))
        # Another origin reads nothing.
        r = self.call("GET", "/healthz", "fe_unit", headers={"Origin": "https://evil.example"})
        self.assertIsNone(r.header("access-control-expose-headers"))
        self.assertIsNone(r.header("access-control-allow-origin"))

    # ------------------------------------------------------------ download names

    def test_attachment_download_name(self):
        a = self.attachment["id"]
        r = self.call("GET", "/api/v1/attachments/%d" % a, "fe_unit")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(disposition_parts(r.header("content-disposition")),
                         ("attachment-%d.pdf" % a, "整改报告.pdf"))
        # An ASCII name is its own fallback.
        r = self.svc.post("/api/v1/attachments", body=PDF, token=self.tok["fe_unit"], headers={
            "Content-Type": "application/pdf", "Content-Disposition": 'attachment; filename="scan 2.pdf"'})
        self.assertEqual(r.status, 201, r)
        d = self.call("GET", r.header("location"), "fe_unit")
        self.assertEqual(disposition_parts(d.header("content-disposition")), ("scan 2.pdf", "scan 2.pdf"))

    def test_export_download_names(self):
        day = shanghai_today()
        cases = [("tasks", "xlsx", "tasks-%s.xlsx" % day, "整改任务台账-%s.xlsx" % day),
                 ("tasks", "csv", "tasks-%s.csv" % day, "整改任务台账-%s.csv" % day),
                 ("problems", "csv", "problems-%s.csv" % day, "反馈问题清单-%s.csv" % day),
                 ("complaints", "csv", "complaints.csv", "举报件.csv")]
        for what, fmt, ascii_name, name in cases:
            with self.subTest(what=what, fmt=fmt):
                r = self.call("GET", "/api/v1/%s/export?format=%s" % (what, fmt), "fe_office")
                if day != shanghai_today():
                    self.skipTest("midnight in Shanghai passed during the test")
                self.assertEqual(r.status, 200, r)
                self.assertEqual(disposition_parts(r.header("content-disposition")),
                                 (ascii_name, name))

    # ------------------------------------------------------------ field error codes

    def codes(self, r, status, code):
        doc = harness.assert_problem(self, r, status, code)
        for e in doc["errors"]:
            self.assertIsInstance(e["message"], str)
        return {e.get("pointer", e.get("parameter")): e["code"] for e in doc["errors"]}

    def test_field_errors_carry_a_machine_code(self):
        pid = self.org["620000"]
        r = self.call("POST", "/api/v1/campaigns", "fe_office", {
            "name": "x" * 201, "round": 0, "province_org_id": "1", "stay_start": "2024-02-30",
            "x": 1})
        self.assertEqual(self.codes(r, 422, "validation_failed"), {
            "/x": "unknown_field", "/name": "too_long", "/round": "out_of_range",
            "/province_org_id": "wrong_type", "/stay_start": "invalid_date"})
        r = self.call("POST", "/api/v1/campaigns", "fe_office", {"name": " ", "province_org_id": pid,
                                                                  "round": None})
        self.assertEqual(self.codes(r, 422, "validation_failed"), {"/name": "blank", "/round": "not_null"})
        r = self.call("POST", "/api/v1/campaigns", "fe_office", {"province_org_id": pid})
        self.assertEqual(self.codes(r, 422, "validation_failed"), {"/name": "required", "/round": "required"})
        r = self.call("POST", "/api/v1/users", "fe_admin", {
            "username": "u", "password": "short", "org_id": pid, "roles": ["nope", "unit", "unit"],
            "display_name": 5})
        self.assertEqual(self.codes(r, 422, "validation_failed"), {
            "/username": "too_short", "/password": "too_short", "/display_name": "wrong_type",
            "/roles/0": "not_in_vocabulary", "/roles/2": "repeated"})
        # Query parameters
        r = self.call("GET", "/api/v1/tasks?limit=0&status=bogus&due_before=2024-13-01&lead_org=x",
                      "fe_office")
        self.assertEqual(self.codes(r, 400, "invalid_parameter"), {
            "limit": "out_of_range", "status": "not_in_vocabulary", "due_before": "invalid_date",
            "lead_org": "invalid_format"})
        # A uniqueness rule (409) names its field too.
        r = self.call("POST", "/api/v1/campaigns", "fe_office", {
            "name": "again", "round": 3, "province_org_id": pid})
        self.assertEqual(self.codes(r, 409, "conflict"), {"/round": "already_exists"})
        # Nothing was written by any of these.
        self.assertEqual(harness.psql("SELECT count(*) FROM campaigns WHERE name IN ('again', ' ')",
                                      self.db_name), "0")


if __name__ == "__main__":
    harness.main()
