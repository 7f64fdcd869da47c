// Port of CPython's Lib/test/test_concurrent_futures/test_as_completed.py
// (AsCompletedTests) for the process executor
// (futures::ProcessPoolExecutor) — python/cpython main, 3.14/3.15 era. The
// fixture, the calls that travel and the start-method parameterization are
// conformance/futures_process_conformance.hpp's.
//
// Ported (CPython name → TEST name; every one for fork and spawn unless said):
//   test_as_completed.py AsCompletedTests: test_no_timeout, test_future_times_out,
//     test_duplicate_futures             → AsCompletedTests.<same>
//
// Not ported, and why:
//   AsCompletedTests.test_free_reference_yielded_future, test_correct_timeout_exception_msg
//                                        use no executor: ported once, in the thread port.
#include "conformance/futures_process_conformance.hpp"

MPX_PROCESS_POOL_SUITE(AsCompletedTests);

// ==== test_as_completed.py: AsCompletedTests ===========================================

TEST_P(AsCompletedTests, test_no_timeout) {
  Canned c;
  auto future1 = executor->submit(mul, 2, 21);
  auto future2 = executor->submit(mul, 7, 6);
  FutureSet completed;
  for (auto f :
       fut::as_completed({c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future1, future2}))
    completed.insert(f);
  EXPECT_EQ(completed,
            (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future1, future2}));
}

TEST_P(AsCompletedTests, test_future_times_out) {
  // as_completed() timing out before completing its final future.
  Canned c;
  const FutureSet already_completed{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE};
  for (auto timeout : {0ms, 100ms}) {
    FutureSet completed_futures;
    auto future = still_running();  // CPython: sleep(short_timeout * 10)
    FutureSet all = already_completed;
    all.insert(future);
    try {
      for (auto f : fut::as_completed(all, timeout)) completed_futures.insert(f);
    } catch (const fut::TimeoutError&) {
    }
    // Check that `future` wasn't completed.
    EXPECT_EQ(completed_futures, already_completed) << timeout.count();
  }
}

TEST_P(AsCompletedTests, test_duplicate_futures) {
  // Issue 20367. Duplicate futures should not raise exceptions or give duplicate responses.
  auto future1 = executor->submit(sleep_, 0.2);  // CPython: time.sleep(2)
  int completed = 0;
  for (auto f : fut::as_completed(std::vector<Future<void>>(3, future1))) {
    (void)f;
    ++completed;
  }
  EXPECT_EQ(completed, 1);
}
