"""Database layer: SQLSTATE mapping, pool limits, statement timeout, no leaks of SQL."""
import threading
import time

import harness
from harness import assert_problem


class SqlstateMapping(harness.ServiceTestCase):
    service_env = {"RECTIFY_STATEMENT_TIMEOUT_MS": "300"}

    def case(self, name):
        return self.svc.get("/api/v1/_test/sqlstate?case=" + name)

    def test_unique_violation_is_409(self):
        doc = assert_problem(self, self.case("unique"), 409, "conflict")
        # the key's last column, never its value
        self.assertEqual(doc["errors"], [{"pointer": "/code", "code": "already_exists",
                                          "message": "already exists"}])

    def test_foreign_key_violation_is_422(self):
        doc = assert_problem(self, self.case("foreign_key"), 422, "invalid_reference")
        self.assertEqual(doc["errors"], [{"pointer": "/p", "code": "unknown_reference",
                                          "message": "does not exist"}])

    def test_fail_points_at_a_member(self):
        doc = assert_problem(self, self.case("fail_field"), 422, "validation_failed")
        self.assertEqual(doc["detail"], "The stay ends before it starts.")
        self.assertEqual(doc["errors"], [{"pointer": "/stay_end", "code": "invalid",
                                          "message": "must not be before stay_start"}])
        doc = assert_problem(self, self.case("fail_version"), 412, "precondition_failed")
        self.assertIn('"3"', doc["detail"])
        self.assertNotIn("errors", doc)

    def test_a_transaction_left_open_is_not_handed_to_the_next_request(self):
        for _ in range(12):     # more than the pool's connections
            assert_problem(self, self.case("left_open"), 409, "conflict")
        for _ in range(12):
            r = self.svc.get("/api/v1/_test/sleep?ms=0")
            self.assertEqual(r.status, 200, r)

    def test_check_and_not_null_are_422(self):
        assert_problem(self, self.case("check"), 422, "validation_failed")
        assert_problem(self, self.case("not_null"), 422, "validation_failed")
        assert_problem(self, self.case("bad_value"), 422, "validation_failed")

    def test_custom_raise_carries_status_code_and_message(self):
        doc = assert_problem(self, self.case("custom"), 409, "task_closed")
        self.assertEqual(doc["detail"], "The task is already closed.")

    def test_statement_timeout_is_503_with_retry_after(self):
        t0 = time.time()
        r = self.case("slow")
        self.assertLess(time.time() - t0, 4, "statement_timeout was not applied")
        assert_problem(self, r, 503, "timeout")
        self.assertEqual(r.header("retry-after"), "2")

    def test_internal_errors_do_not_leak_sql(self):
        r = self.case("syntax")
        doc = assert_problem(self, r, 500, "internal_error")
        text = r.body.decode()
        for leak in ("SELECT", "syntax", "WHERE"):
            self.assertNotIn(leak, text)
        # ... but the log has it, under the request id
        time.sleep(0.1)
        logged = [l for l in self.svc.log_lines() if l.get("request_id") == doc["request_id"]]
        self.assertTrue(any("42601" in l.get("msg", "") for l in logged), logged)

    def test_serialization_failure_is_retried_then_409(self):
        assert_problem(self, self.case("serialization"), 409, "serialization_failure")

    def test_unknown_case_is_400(self):
        doc = assert_problem(self, self.case("nope"), 400, "invalid_parameter")
        self.assertEqual(doc["errors"], [{"parameter": "case", "code": "invalid", "message": "unknown case"}])

    def test_database_keeps_working_after_errors(self):
        for name in ("unique", "syntax", "custom", "slow"):
            self.case(name)
        r = self.svc.get("/api/v1/_test/sleep?ms=1")
        self.assertEqual(r.status, 200, r)


class PoolExhaustion(harness.ServiceTestCase):
    service_env = {"RECTIFY_DB_POOL": "1", "RECTIFY_DB_ACQUIRE_TIMEOUT_MS": "300",
                   "RECTIFY_STATEMENT_TIMEOUT_MS": "60000"}

    def test_busy_pool_answers_503_with_retry_after(self):
        t, result = harness.in_thread(self.svc.get, "/api/v1/_test/sleep?ms=%d" % (3000 * harness.SLOW))
        for _ in range(100):  # until the sleeper holds the only connection
            if "rectify_db_pool_in_use 1\n" in self.svc.get("/metrics").body.decode():
                break
            time.sleep(0.05)
        r = self.svc.get("/api/v1/_test/sleep?ms=0")
        assert_problem(self, r, 503, "service_unavailable")
        self.assertEqual(r.header("retry-after"), "1")
        metrics = self.svc.get("/metrics").body.decode()
        self.assertRegex(metrics, r"rectify_db_pool_in_use 1\b")
        self.assertRegex(metrics, r'rectify_db_errors_total\{kind="acquire_timeout"\} [1-9]')
        t.join()
        self.assertEqual(result[0].status, 200)
        self.assertEqual(self.svc.get("/api/v1/_test/sleep?ms=0").status, 200)


if __name__ == "__main__":
    harness.main()
