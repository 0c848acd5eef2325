"""Runs one tests/sql/*.sql file with psql on a fresh, migrated database."""
import subprocess
import sys

import harness

harness.require_env()
name, url = harness.fresh_database("sql")
try:
    harness.migrate(url)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", sys.argv[1]],
                       capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    print("1 passed, 0 failed" if p.returncode == 0 else "0 passed, 1 failed")
    sys.exit(p.returncode)
finally:
    harness.drop_databases()
