// Port of CPython's Lib/test/test_concurrent_futures/test_wait.py (WaitTests) for the process executor
// (futures::ProcessPoolExecutor) — python/cpython main, 3.14/3.15 era. The
// fixture, the calls that travel and the start-method parameterization are
// conformance/futures_process_conformance.hpp's.
//
// Ported (CPython name → TEST name; every one for fork and spawn unless said):
//   test_wait.py WaitTests: test_20369, test_first_completed, test_first_completed_some_already_
//     completed, test_first_exception, test_first_exception_some_already_complete,
//     test_first_exception_one_already_failed, test_all_completed, test_timeout
//                                        → WaitTests.<same>
#include <thread>

#include "conformance/futures_process_conformance.hpp"

MPX_PROCESS_POOL_SUITE(WaitTests);

// ==== test_wait.py: WaitTests ========================================================

TEST_P(WaitTests, test_20369) {
  // See https://bugs.python.org/issue20369
  auto future = executor->submit(mul, 1, 2);
  auto [done, not_done] = fut::wait({future, future}, fut::ALL_COMPLETED);
  EXPECT_EQ(done, FutureSet{future});
  EXPECT_TRUE(not_done.empty());
}

TEST_P(WaitTests, test_first_completed) {
  Canned c;
  auto future1 = executor->submit(mul, 21, 2);
  auto future2 = still_running();
  auto [done, not_done] = fut::wait({c.CANCELLED_FUTURE, future1, future2}, fut::FIRST_COMPLETED);
  EXPECT_EQ(done, FutureSet{future1});
  EXPECT_EQ(not_done, (FutureSet{c.CANCELLED_FUTURE, future2}));
  events[0].set();
  future2.result();  // wait for job to finish
}

TEST_P(WaitTests, test_first_completed_some_already_completed) {
  Canned c;
  auto future1 = still_running();
  auto [finished, pending] =
      fut::wait({c.CANCELLED_AND_NOTIFIED_FUTURE, c.SUCCESSFUL_FUTURE, future1}, fut::FIRST_COMPLETED);
  EXPECT_EQ(finished, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.SUCCESSFUL_FUTURE}));
  EXPECT_EQ(pending, FutureSet{future1});
  events[0].set();
  future1.result();
}

TEST_P(WaitTests, test_first_exception) {
  auto future1 = executor->submit(mul, 2, 21);
  auto future2 = executor->submit(wait_and_raise, 1);  // event1
  auto future3 = executor->submit(event_wait, 2);      // event2
  // Ensure that future1 is completed before future2 finishes
  std::thread t([&] {
    future1.result();
    events[1].set();
  });
  auto [finished, pending] = fut::wait({future1, future2, future3}, fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, (FutureSet{future1, future2}));
  EXPECT_EQ(pending, FutureSet{future3});
  t.join();
  events[2].set();
  future3.result();
}

TEST_P(WaitTests, test_first_exception_some_already_complete) {
  Canned c;
  auto future1 = executor->submit(divmod_first, 21, 0);
  auto future2 = still_running();
  auto [finished, pending] =
      fut::wait({c.SUCCESSFUL_FUTURE, c.CANCELLED_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, future1, future2},
                fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, (FutureSet{c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, future1}));
  EXPECT_EQ(pending, (FutureSet{c.CANCELLED_FUTURE, future2}));
  events[0].set();
  future2.result();
}

TEST_P(WaitTests, test_first_exception_one_already_failed) {
  Canned c;
  auto future1 = still_running();
  auto [finished, pending] = fut::wait({c.EXCEPTION_FUTURE, future1}, fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, FutureSet{c.EXCEPTION_FUTURE});
  EXPECT_EQ(pending, FutureSet{future1});
  events[0].set();
  future1.result();
}

TEST_P(WaitTests, test_all_completed) {
  Canned c;
  auto future1 = executor->submit(divmod_first, 2, 0);
  auto future2 = executor->submit(mul, 2, 21);
  auto [finished, pending] = fut::wait(
      {c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, future1, future2}, fut::ALL_COMPLETED);
  EXPECT_EQ(finished,
            (FutureSet{c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, future1, future2}));
  EXPECT_TRUE(pending.empty());
}

TEST_P(WaitTests, test_timeout) {
  Canned c;
  auto future = still_running();
  auto [finished, pending] = fut::wait(
      {c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future}, 50ms, fut::ALL_COMPLETED);
  EXPECT_EQ(finished, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE}));
  EXPECT_EQ(pending, FutureSet{future});
  events[0].set();
  future.result();
}
