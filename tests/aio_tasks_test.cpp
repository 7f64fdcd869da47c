// mpx::aio tasks and the loop: call_soon/call_later ordering, Task start
// and cancellation, sleep, gather, wait, wait_for, timeout, shield,
// TaskGroup — on both backends.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

namespace {

using AioTasks = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioTasks);

// The timers are the behaviour under test: call_later runs by deadline.
TEST_P(AioTasks, CallSoonRunsInOrderAndCallLaterByDeadline) {
  aio::EventLoop loop(options());
  std::vector<int> order;
  loop.call_later(20ms, [&] {
    order.push_back(4);
    loop.stop();
  });
  loop.call_later(5ms, [&] { order.push_back(3); });
  loop.call_soon([&] { order.push_back(1); });
  loop.call_soon([&] { order.push_back(2); });
  auto h = loop.call_soon([&] { order.push_back(99); });
  h.cancel();
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
}

/// Suspends once (asyncio.sleep(0): a real suspension point, not a wait).
aio::Task<int> add_later(int a, int b) {
  co_await aio::sleep(0s);
  co_return a + b;
}

/// Never completes: ends only by cancellation.
aio::Task<int> forever() {
  aio::Event never;
  co_await never.wait();
  co_return 0;
}

aio::Task<int> twice() {
  int x = co_await add_later(1, 2);              // inline
  auto t = aio::create_task(add_later(10, 20));  // scheduled
  int y = co_await t;
  co_return x + y;
}

TEST_P(AioTasks, AwaitInlineAndScheduled) { EXPECT_EQ(run(twice()), 33); }

aio::Task<std::string> cancel_sleeper() {
  aio::Event asleep;
  // The sleep is the suspension under test: cancelled long before its 10 s.
  auto t = aio::create_task(aio::Task<int>([](aio::Event& e) -> aio::Task<int> {
    e.set();
    co_await aio::sleep(10s);
    co_return 1;
  }(asleep)));
  co_await asleep.wait();  // woken once `t` is suspended in sleep()
  EXPECT_TRUE(t.cancel());
  try {
    co_await t;
  } catch (const aio::CancelledError&) {
    co_return "cancelled";
  }
  co_return "not cancelled";
}

TEST_P(AioTasks, CancelDeliversCancelledErrorAtTheSuspension) { EXPECT_EQ(run(cancel_sleeper()), "cancelled"); }

aio::Task<int> fails() {
  co_await aio::sleep(0s);  // fails after a suspension, as a real task would
  throw mpx::ValueError("boom");
}

aio::Task<> gather_cases() {
  auto [a, b] = co_await aio::gather(add_later(1, 1), add_later(2, 2));
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 4);
  std::vector<aio::Task<int>> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(add_later(i, i));
  auto all = co_await aio::gather(std::move(ts));
  EXPECT_EQ(all, (std::vector<int>{0, 2, 4, 6, 8}));
  auto [ok, bad] = co_await aio::gather(aio::GatherOptions{.return_exceptions = true}, add_later(3, 4), fails());
  EXPECT_EQ(std::get<0>(ok), 7);
  EXPECT_TRUE(std::holds_alternative<std::exception_ptr>(bad));
  EXPECT_THROW(co_await aio::gather(add_later(1, 1), fails()), mpx::ValueError);
}

TEST_P(AioTasks, Gather) { run(gather_cases()); }

aio::Task<> timeouts() {
  EXPECT_THROW(co_await aio::wait_for(forever(), 1ms), aio::TimeoutError);
  EXPECT_EQ(co_await aio::wait_for(add_later(1, 1), 5s), 2);
  bool timed_out = false;
  try {
    co_await aio::timeout(2ms, [] { return add_later(0, 0); });
    co_await aio::timeout(2ms, [] { return forever(); });
  } catch (const aio::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(aio::current_task().cancelling(), 0);
}

TEST_P(AioTasks, TimeoutAndWaitFor) { run(timeouts()); }

aio::Task<> groups() {
  std::vector<int> seen;
  co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<> {
    tg.create_task([](std::vector<int>& s) -> aio::Task<> {
      co_await aio::sleep(0s);  // lets the second task run first
      s.push_back(2);
    }(seen));
    tg.create_task([](std::vector<int>& s) -> aio::Task<> {
      s.push_back(1);
      co_return;
    }(seen));
    co_return;
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  bool grouped = false;
  try {
    co_await aio::task_group([](aio::TaskGroup& tg) -> aio::Task<> {
      tg.create_task(fails());
      tg.create_task(forever());
      co_await forever();  // cancelled by the failure
    });
  } catch (const aio::ExceptionGroup& g) {
    grouped = g.exceptions().size() == 1;
  }
  EXPECT_TRUE(grouped);
}

TEST_P(AioTasks, TaskGroup) { run(groups()); }

aio::Task<> futures_as_awaitables() {
  // Port of Lib/test/test_asyncio/test_waitfor.py
  // AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done.
  aio::Future<std::string> done_fut;
  done_fut.set_result("done");
  EXPECT_EQ(co_await aio::wait_for(done_fut, 0s), "done");
  // A future that never completes: wait_for cancels it (Python's wait_for on a future).
  aio::Future<int> never;
  EXPECT_THROW(co_await aio::wait_for(never, 1ms), aio::TimeoutError);
  EXPECT_TRUE(never.cancelled());
  mpx::futures::Future<int> cf;  // a concurrent future nobody completes
  EXPECT_THROW(co_await aio::wait_for(cf, 1ms), aio::TimeoutError);
  EXPECT_TRUE(cf.cancelled());

  // Port of Lib/test/test_asyncio/test_tasks.py BaseTaskTests.test_shield_cancel_outer
  // and test_shield_result, on a future.
  aio::Future<int> inner;
  aio::Future<int> outer = aio::shield(inner);
  co_await aio::sleep(0s);  // test_utils.run_briefly
  outer.cancel();
  co_await aio::sleep(0s);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_FALSE(inner.cancelled());
  aio::Future<int> inner2;
  aio::Future<int> outer2 = aio::shield(inner2);
  inner2.set_result(42);
  EXPECT_EQ(co_await outer2, 42);
  // shield over a concurrent future: the pool's result comes through.
  mpx::futures::Future<int> cf2;
  aio::Future<int> outer3 = aio::shield(cf2);
  cf2.set_result(7);
  EXPECT_EQ(co_await outer3, 7);
}

TEST_P(AioTasks, WaitForAndShieldTakeFutures) { run(futures_as_awaitables()); }

}  // namespace
