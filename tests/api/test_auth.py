"""Authentication: sign-in, throttling, refresh rotation and reuse detection,
sign-out, disabled users, and the JWT attack matrix (RFC 8725) against the
real service. Every rejected token must get the same uniform 401 (the database check says exactly what the JWT checks say)."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import tempfile
import threading
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import harness
from harness import assert_problem

ISS, AUD = "rectify", "rectify-api"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seg(obj):
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def hs256(header, payload, secret=harness.TEST_JWT_SECRET.encode()):
    signing = seg(header) + "." + seg(payload)
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def rs256(header, payload, key):
    signing = seg(header) + "." + seg(payload)
    return signing + "." + b64(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))


def es256(header, payload, key):
    signing = seg(header) + "." + seg(payload)
    r, s = decode_dss_signature(key.sign(signing.encode(), ec.ECDSA(hashes.SHA256())))
    return signing + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def claims(user_id, epoch=0, **over):
    now = int(time.time())
    c = {"sub": str(user_id), "iss": ISS, "aud": AUD, "iat": now, "nbf": now,
         "exp": now + 300, "roles": ["office"], "org": "1", "ep": epoch, "jti": "x1"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def assert_invalid_token(tc, resp, what):
    tc.assertEqual(resp.status, 401, "%s: %r" % (what, resp))
    doc = resp.json
    tc.assertEqual(doc["code"], "invalid_token", what)
    tc.assertEqual(doc["detail"], "The access token is not valid.", what)   # says nothing more
    tc.assertEqual(resp.header("www-authenticate"), 'Bearer realm="rectify", error="invalid_token"')


class SignIn(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.office_id = harness.create_user(cls.db_url, "office1", "GS-OFFICE", ["office"], display_name="整改办 张三")
        cls.unit_id = harness.create_user(cls.db_url, "lz_unit", "620100", ["unit"])

    def test_token_and_me(self):
        r = self.svc.post("/api/v1/auth/token", {"username": "office1", "password": harness.DEFAULT_PASSWORD})
        self.assertEqual(r.status, 200, r)
        doc = r.json
        self.assertEqual(doc["token_type"], "Bearer")
        self.assertEqual(doc["expires_in"], 900)
        self.assertEqual(set(doc), {"access_token", "token_type", "expires_in", "refresh_token"})
        self.assertEqual(r.header("cache-control"), "no-store")
        me = self.svc.get("/api/v1/me", token=doc["access_token"])
        self.assertEqual(me.status, 200, me)
        m = me.json
        self.assertEqual(m["username"], "office1")
        self.assertEqual(m["display_name"], "整改办 张三")
        self.assertEqual(m["roles"], ["office"])
        self.assertEqual(m["org"]["code"], "GS-OFFICE")
        self.assertNotIn("password", json.dumps(m))
        self.assertIsNotNone(m["last_login_at"])

    def test_username_is_case_insensitive(self):
        self.assertTrue(self.svc.login("Office1"))

    def test_wrong_password_and_unknown_user_look_the_same(self):
        a = self.svc.post("/api/v1/auth/token", {"username": "office1", "password": "wrong-password-1"})
        b = self.svc.post("/api/v1/auth/token", {"username": "no_such_user", "password": "wrong-password-1"})
        for r in (a, b):
            assert_problem(self, r, 401, "invalid_credentials")
            self.assertEqual(r.header("www-authenticate"), 'Bearer realm="rectify"')
        self.assertEqual(a.json["detail"], b.json["detail"])

    def test_bad_bodies(self):
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": "office1"}), 422, "validation_failed")
        doc = assert_problem(self, self.svc.post("/api/v1/auth/token",
                                                 {"username": "x", "password": "y", "otp": 1}), 422, "validation_failed")
        self.assertIn({"pointer": "/otp", "code": "unknown_field", "message": "is not a known field"}, doc["errors"])
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": 5, "password": "y"}), 422, "validation_failed")
        assert_problem(self, self.svc.post("/api/v1/auth/token", [1]), 422, "validation_failed")
        assert_problem(self, self.svc.request("POST", "/api/v1/auth/token", body=b"{",
                                              headers={"Content-Type": "application/json"}), 400, "malformed_json")

    def test_missing_and_malformed_authorization(self):
        r = self.svc.get("/api/v1/me")
        assert_problem(self, r, 401, "unauthorized")
        self.assertEqual(r.header("www-authenticate"), 'Bearer realm="rectify"')
        assert_invalid_token(self, self.svc.get("/api/v1/me", headers={"Authorization": "Basic b2ZmaWNlMTp4"}), "basic")

    def test_refresh_rotation_and_reuse_revokes_the_family(self):
        first = self.svc.post("/api/v1/auth/token", {"username": "lz_unit", "password": harness.DEFAULT_PASSWORD}).json
        second = self.svc.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
        self.assertEqual(second.status, 200, second)
        self.assertNotEqual(second.json["refresh_token"], first["refresh_token"])
        self.assertEqual(self.svc.get("/api/v1/me", token=second.json["access_token"]).status, 200)
        # The rotated token is presented again: theft suspected, the family dies.
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}),
                       401, "invalid_refresh_token")
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": second.json["refresh_token"]}),
                       401, "invalid_refresh_token")
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": "made-up"}),
                       401, "invalid_refresh_token")

    def test_logout_ends_the_refresh_family(self):
        tokens = self.svc.post("/api/v1/auth/token", {"username": "lz_unit", "password": harness.DEFAULT_PASSWORD}).json
        r = self.svc.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
                       401, "invalid_refresh_token")
        self.assertEqual(self.svc.post("/api/v1/auth/logout", {"refresh_token": "unknown"}).status, 204)

    def test_disabled_user_tokens_stop_at_once(self):
        uid = harness.create_user(self.db_url, "to_disable", "620102", ["unit"])
        tokens = self.svc.post("/api/v1/auth/token", {"username": "to_disable", "password": harness.DEFAULT_PASSWORD}).json
        self.assertEqual(self.svc.get("/api/v1/me", token=tokens["access_token"]).status, 200)
        harness.psql("UPDATE users SET disabled = true WHERE id = %d" % uid, self.db_name)
        r = self.svc.get("/api/v1/me", token=tokens["access_token"])
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json["code"], "invalid_token")
        self.assertEqual(r.header("www-authenticate"), 'Bearer realm="rectify", error="invalid_token"')
        assert_problem(self, self.svc.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}),
                       401, "invalid_refresh_token")
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": "to_disable",
                                                                  "password": harness.DEFAULT_PASSWORD}),
                       401, "invalid_credentials")

    def test_password_change_ends_existing_tokens(self):
        harness.create_user(self.db_url, "changes_pw", "620102", ["unit"])
        token = self.svc.login("changes_pw")
        p = harness.run_cli(["user", "passwd", "--username", "changes_pw", "--password-stdin"],
                            env={"RECTIFY_DATABASE_URL": self.db_url}, stdin="An0ther-Secret-Phrase\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.svc.get("/api/v1/me", token=token).status, 401)
        self.assertTrue(self.svc.login("changes_pw", "An0ther-Secret-Phrase"))

    def test_jwks_is_empty_for_hs256(self):
        r = self.svc.get("/.well-known/jwks.json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, {"keys": []})


class Throttle(harness.ServiceTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.create_user(cls.db_url, "victim", "620100", ["unit"])

    def test_failed_sign_ins_are_throttled_per_username(self):
        statuses = [self.svc.post("/api/v1/auth/token", {"username": "victim", "password": "guess-%d-xxxxx" % i}).status
                    for i in range(6)]
        self.assertEqual(statuses[:5], [401] * 5)
        self.assertEqual(statuses[5], 429)
        r = self.svc.post("/api/v1/auth/token", {"username": "victim", "password": harness.DEFAULT_PASSWORD})
        assert_problem(self, r, 429, "too_many_requests")      # even the right password waits
        self.assertGreater(int(r.header("retry-after")), 0)
        # Another (unknown) username from the same address is not locked yet ...
        r = self.svc.post("/api/v1/auth/token", {"username": "someone_else", "password": "guess-guess-1"})
        assert_problem(self, r, 401, "invalid_credentials")
        # ... and the answer for an unknown username is throttled the same way.
        for i in range(5):
            self.svc.post("/api/v1/auth/token", {"username": "ghost", "password": "guess-guess-%d" % i})
        assert_problem(self, self.svc.post("/api/v1/auth/token", {"username": "ghost", "password": "x"}),
                       429, "too_many_requests")


class JwtAttackMatrix(harness.ServiceTestCase):
    """Every forged or broken token: 401 invalid_token, same body."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.uid = harness.create_user(cls.db_url, "matrix", "GS-OFFICE", ["office"])

    def check(self, token, what):
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=token), what)

    def test_a_well_formed_token_works(self):
        # The reference token built by this test, so the matrix below is meaningful.
        r = self.svc.get("/api/v1/me", token=hs256({"alg": "HS256", "typ": "JWT"}, claims(self.uid)))
        self.assertEqual(r.status, 200, r)

    def test_matrix(self):
        h = {"alg": "HS256", "typ": "JWT"}
        good = hs256(h, claims(self.uid))
        now = int(time.time())
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        cases = {
            "alg none": seg({"alg": "none", "typ": "JWT"}) + "." + seg(claims(self.uid)) + ".",
            "alg None": seg({"alg": "None"}) + "." + seg(claims(self.uid)) + "." + good.split(".")[2],
            "HS256 signed with a public key": hs256(h, claims(self.uid), secret=pub_pem),
            "RS256 token against the HS256 key": rs256({"alg": "RS256"}, claims(self.uid), rsa_key),
            "HS384": seg({"alg": "HS384"}) + "." + seg(claims(self.uid)) + "." + good.split(".")[2],
            "wrong secret": hs256(h, claims(self.uid), secret=b"another-secret-of-enough-length-000"),
            "expired": hs256(h, claims(self.uid, exp=now - 120, iat=now - 600, nbf=now - 600)),
            "not yet valid": hs256(h, claims(self.uid, nbf=now + 600)),
            "issued in the future": hs256(h, claims(self.uid, iat=now + 600)),
            "wrong issuer": hs256(h, claims(self.uid, iss="someone-else")),
            "wrong audience": hs256(h, claims(self.uid, aud="other-api")),
            "audience array without ours": hs256(h, claims(self.uid, aud=["a", "b"])),
            "audience array with a number": hs256(h, claims(self.uid, aud=[1, AUD])),
            "missing exp": hs256(h, claims(self.uid, exp=None)),
            "exp as a string": hs256(h, claims(self.uid, exp=str(now + 300))),
            "exp not an integer": hs256(h, claims(self.uid, exp=now + 300.5)),
            "unknown kid": hs256({"alg": "HS256", "kid": "nope"}, claims(self.uid)),
            "truncated signature": good[:-6],
            "extra segment": good + ".e30",
            "two segments": ".".join(good.split(".")[:2]),
            "empty payload segment": good.split(".")[0] + ".." + good.split(".")[2],
            "bad base64": good.split(".")[0] + ".***." + good.split(".")[2],
            "header not JSON": b64(b"nope") + "." + ".".join(good.split(".")[1:]),
            "crit header": hs256({"alg": "HS256", "crit": ["exp"]}, claims(self.uid)),
            "oversized": hs256(h, claims(self.uid, pad="x" * 9000)),
            "missing sub": hs256(h, claims(self.uid, sub=None)),
            "non-numeric sub": hs256(h, claims("admin")),
            "missing epoch": hs256(h, claims(self.uid, ep=None)),
            "stale epoch": hs256(h, claims(self.uid, epoch=7)),
            "unknown user": hs256(h, claims(999999)),
            "garbage": "not-a-token",
        }
        for what, token in cases.items():
            with self.subTest(what):
                self.check(token, what)

    def test_disabled_user_token(self):
        uid = harness.create_user(self.db_url, "matrix_off", "620100", ["unit"])
        token = hs256({"alg": "HS256"}, claims(uid, roles=["unit"]))
        self.assertEqual(self.svc.get("/api/v1/me", token=token).status, 200)
        harness.psql("UPDATE users SET disabled = true WHERE id = %d" % uid, self.db_name)
        self.check(token, "disabled user")

    def test_roles_come_from_the_token_for_permissions(self):
        # A role the token does not carry cannot be used, whatever the body says.
        uid = harness.create_user(self.db_url, "matrix_viewer", "620100", ["viewer"])
        token = hs256({"alg": "HS256"}, claims(uid, roles=["viewer"]))
        self.assertEqual(self.svc.get("/api/v1/me", token=token).status, 200)


class _JwksHandler(http.server.BaseHTTPRequestHandler):
    body = b'{"keys":[]}'

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class AsymmetricAndExternalKeys(harness.unittest.TestCase):
    """ES256 signing key with a published JWKS; tokens of an external
    identity platform verified against its JWKS and mapped by username."""

    @classmethod
    def setUpClass(cls):
        harness.require_env()
        cls.db_name, cls.db_url = harness.fresh_database("keys")
        harness.migrate(cls.db_url)
        cls.uid = harness.create_user(cls.db_url, "platform_user", "620100", ["unit"])
        key = ec.generate_private_key(ec.SECP256R1())
        cls.keyfile = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)
        cls.keyfile.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        cls.keyfile.close()
        # The "provincial identity platform": an RSA key served as a JWKS.
        cls.idp_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = cls.idp_key.public_key().public_numbers()
        as_b64 = lambda n: b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        _JwksHandler.body = json.dumps({"keys": [{"kty": "RSA", "kid": "idp-1", "alg": "RS256", "use": "sig",
                                                  "n": as_b64(nums.n), "e": as_b64(nums.e)}]}).encode()
        cls.idp = http.server.HTTPServer(("127.0.0.1", 0), _JwksHandler)
        threading.Thread(target=cls.idp.serve_forever, daemon=True).start()
        cls.svc = harness.Service(cls.db_url, extra_env={
            "RECTIFY_JWT_SECRET": "",
            "RECTIFY_JWT_PRIVATE_KEY_FILE": cls.keyfile.name,
            "RECTIFY_JWKS_URL": "http://127.0.0.1:%d/jwks" % cls.idp.server_address[1],
            "RECTIFY_EXTERNAL_ISSUER": "https://idp.gansu.example",
            "RECTIFY_EXTERNAL_AUDIENCE": "rectify",
        })

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        cls.idp.shutdown()
        os.unlink(cls.keyfile.name)

    def test_es256_tokens_and_published_key(self):
        tokens = self.svc.post("/api/v1/auth/token", {"username": "platform_user",
                                                      "password": harness.DEFAULT_PASSWORD}).json
        header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
        self.assertEqual(header["alg"], "ES256")
        jwks = self.svc.get("/.well-known/jwks.json").json
        self.assertEqual(len(jwks["keys"]), 1)
        k = jwks["keys"][0]
        self.assertEqual((k["kty"], k["crv"], k["alg"], k["kid"]), ("EC", "P-256", "ES256", header["kid"]))
        self.assertNotIn("d", k)
        self.assertEqual(self.svc.get("/api/v1/me", token=tokens["access_token"]).status, 200)
        # The same claims signed HS256 with the public key's bytes: rejected.
        forged = hs256({"alg": "HS256", "kid": header["kid"]}, claims(self.uid), secret=json.dumps(k).encode())
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=forged), "HS256 against ES256 key")

    def external(self, **over):
        now = int(time.time())
        c = {"iss": "https://idp.gansu.example", "aud": ["other", "rectify"], "sub": "idp-abc",
             "preferred_username": "platform_user", "iat": now, "exp": now + 300}
        c.update(over)
        return rs256({"alg": "RS256", "kid": "idp-1", "typ": "JWT"}, {k: v for k, v in c.items() if v is not None},
                     self.idp_key)

    def test_external_token_maps_to_our_user(self):
        r = self.svc.get("/api/v1/me", token=self.external())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["username"], "platform_user")

    def test_external_token_rejections(self):
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=self.external(preferred_username="stranger")),
                             "unknown user (no auto-provisioning)")
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=self.external(aud="someone")), "audience")
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=self.external(iss="https://evil")), "issuer")
        forged = rs256({"alg": "RS256", "kid": "idp-2"}, {"iss": "https://idp.gansu.example", "aud": "rectify",
                                                          "preferred_username": "platform_user", "sub": "x",
                                                          "exp": int(time.time()) + 300}, self.idp_key)
        assert_invalid_token(self, self.svc.get("/api/v1/me", token=forged), "unknown kid")


class KeyConfiguration(harness.unittest.TestCase):
    def test_missing_or_weak_key_refuses_to_start(self):
        base = {"RECTIFY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "RECTIFY_JWT_PRIVATE_KEY_FILE": ""}
        p = harness.run_cli(["serve"], env=dict(base, RECTIFY_JWT_SECRET=""))
        self.assertEqual(p.returncode, 2)
        self.assertIn("RECTIFY_JWT_SECRET", p.stderr)
        p = harness.run_cli(["serve"], env=dict(base, RECTIFY_JWT_SECRET="short"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("32 bytes", p.stderr)
        p = harness.run_cli(["serve"], env=dict(base, RECTIFY_JWT_SECRET="",
                                                RECTIFY_JWT_PRIVATE_KEY_FILE="/nonexistent/key.pem"))
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    harness.main()
