"""Command line and configuration: clear errors, exit status 2, help texts."""
import harness


class Cli(harness.unittest.TestCase):
    def run_bin(self, args, env=None):
        base = {"RECTIFY_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
        base.update(env or {})
        return harness.run_cli(args, env=base)

    def test_help(self):
        p = harness.run_cli(["--help"])
        self.assertEqual(p.returncode, 0)
        for cmd in ("serve", "migrate", "routes"):
            self.assertIn(cmd, p.stdout)
        p = harness.run_cli(["serve", "--help"])
        self.assertEqual(p.returncode, 0)
        for var in ("RECTIFY_DATABASE_URL", "RECTIFY_LISTEN", "RECTIFY_THREADS", "RECTIFY_DB_POOL",
                    "RECTIFY_MAX_BODY", "RECTIFY_LOG_LEVEL", "RECTIFY_CORS_ORIGINS", "--migrate"):
            self.assertIn(var, p.stdout)
        p = harness.run_cli(["migrate", "--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn("RECTIFY_DATABASE_URL", p.stdout)

    def test_unknown_command_and_option(self):
        p = harness.run_cli(["frobnicate"])
        self.assertEqual(p.returncode, 2)
        p = self.run_bin(["serve", "--no-such-flag"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--no-such-flag", p.stderr)

    def test_bad_values_name_the_variable(self):
        cases = [
            ({"RECTIFY_THREADS": "many"}, "RECTIFY_THREADS"),
            ({"RECTIFY_THREADS": "0"}, "RECTIFY_THREADS"),
            ({"RECTIFY_DB_POOL": "12abc"}, "RECTIFY_DB_POOL"),
            ({"RECTIFY_MAX_BODY": "1x"}, "RECTIFY_MAX_BODY"),
            ({"RECTIFY_LOG_LEVEL": "loud"}, "RECTIFY_LOG_LEVEL"),
            ({"RECTIFY_DATABASE_URL": ""}, "RECTIFY_DATABASE_URL"),
        ]
        for env, name in cases:
            p = self.run_bin(["serve"], env=env)
            self.assertEqual(p.returncode, 2, (env, p.stderr))
            lines = p.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn(name, lines[0])

    def test_flag_overrides_environment(self):
        p = self.run_bin(["serve", "--threads", "nope"], env={"RECTIFY_THREADS": "8"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("--threads", p.stderr)

    def test_migrate_without_database(self):
        p = self.run_bin(["migrate"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("connect", p.stderr)

    def test_routes_lists_public_routes_only(self):
        p = harness.run_cli(["routes"])
        self.assertEqual(p.returncode, 0)
        self.assertIn("GET /healthz", p.stdout.splitlines())
        self.assertNotIn("_test", p.stdout)


if __name__ == "__main__":
    harness.main()
