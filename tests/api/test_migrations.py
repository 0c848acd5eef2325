"""Migrations: applied once, in order, under a lock; readiness follows them."""
import subprocess
import time

import harness
from harness import assert_problem


def applied(dbname):
    out = harness.psql("SELECT name FROM rectify_schema_migrations ORDER BY name", dbname)
    return out.split("\n") if out else []


class Migrations(harness.unittest.TestCase):
    def test_not_ready_until_migrated(self):
        name, url = harness.fresh_database("mig")
        svc = harness.Service(url, wait_ready=False)
        try:
            r = svc.get("/readyz")
            doc = assert_problem(self, r, 503, "not_ready")
            self.assertIn("pending", doc["detail"])
            self.assertEqual(svc.get("/healthz").status, 200)          # alive all the same
            assert_problem(self, svc.post("/api/v1/_test/echo", {"a": 1}), 503, "not_ready")
            self.assertTrue(any("not ready" in l.get("msg", "") for l in svc.log_lines()))
            harness.migrate(url)
            time.sleep(1.1)  # the gate re-checks at most once a second
            self.assertEqual(svc.get("/readyz").status, 200)
            self.assertEqual(svc.post("/api/v1/_test/echo", {"a": 1}).status, 200)
        finally:
            self.assertEqual(svc.stop(), 0)

    def test_serve_migrate_flag(self):
        name, url = harness.fresh_database("mig")
        svc = harness.Service(url, args=["--migrate"])
        try:
            r = svc.get("/readyz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["schema_version"], applied(name)[-1])
        finally:
            self.assertEqual(svc.stop(), 0)

    def test_each_migration_once_and_rerun_is_a_no_op(self):
        name, url = harness.fresh_database("mig")
        harness.migrate(url)
        first = applied(name)
        self.assertGreater(len(first), 0)
        self.assertEqual(first, sorted(first))
        harness.migrate(url)
        self.assertEqual(applied(name), first)

    def test_concurrent_instances_migrate_safely(self):
        name, url = harness.fresh_database("mig")
        env = dict(harness.os.environ, RECTIFY_DATABASE_URL=url)
        procs = [subprocess.Popen([harness.BIN, "migrate"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(3)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
        names = applied(name)
        self.assertEqual(len(names), len(set(names)))
        count = harness.psql("SELECT count(*) FROM rectify_schema_migrations", name)
        self.assertEqual(int(count), len(names))

    def test_failed_migration_changes_nothing_and_exits_nonzero(self):
        name, url = harness.fresh_database("mig")
        harness.migrate(url)
        all_names = applied(name)
        # Start again on a database where the last migration cannot apply.
        name2, url2 = harness.fresh_database("mig")
        last = all_names[-1]
        harness.psql("CREATE TABLE rectify_schema_migrations (name text PRIMARY KEY,"
                     " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())", name2)
        # Make the whole run fail at the very first migration: a clashing schema object.
        harness.psql("CREATE SCHEMA rectify; CREATE TABLE rectify.blocker (x int);"
                     " CREATE FUNCTION rectify.user_id() RETURNS int LANGUAGE sql AS 'SELECT 1';"
                     " CREATE TABLE orgs (clash int); CREATE TABLE users (clash int);"
                     " CREATE TABLE audit_log (clash int)", name2)
        before = harness.psql("SELECT count(*) FROM pg_class", name2)
        p = harness.run_cli(["migrate"], env={"RECTIFY_DATABASE_URL": url2})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("migration", p.stderr)
        self.assertIn("ERROR", p.stderr)               # the PostgreSQL error is quoted
        self.assertEqual(applied(name2), [])            # the failed one is not recorded
        self.assertEqual(harness.psql("SELECT count(*) FROM pg_class", name2), before)
        self.assertTrue(last)

    def test_changed_migration_is_detected(self):
        name, url = harness.fresh_database("mig")
        harness.migrate(url)
        harness.psql("UPDATE rectify_schema_migrations SET checksum = 'x' WHERE name ="
                     " (SELECT min(name) FROM rectify_schema_migrations)", name)
        p = harness.run_cli(["migrate"], env={"RECTIFY_DATABASE_URL": url})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("checksum", p.stderr)
        svc = harness.Service(url, wait_ready=False)
        try:
            doc = assert_problem(self, svc.get("/readyz"), 503, "not_ready")
            self.assertIn("checksum", doc["detail"])
        finally:
            svc.stop()


if __name__ == "__main__":
    harness.main()
