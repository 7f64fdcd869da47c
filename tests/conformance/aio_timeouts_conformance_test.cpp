// Ports of CPython's Lib/test/test_asyncio/test_timeouts.py (TimeoutTests)
// to mpx::aio::timeout / timeout_at, on both backends; test_timeout_basic and
// test_nested_timeouts are in aio_locks_queues_conformance_test.cpp. Each
// TEST_P names its source case. The deadlines and the sleeps they cut short
// are the behaviour under test (a sleep of 10 s that a 10 ms timeout ends);
// nothing waits on a timer to synchronize. mpx's scope object lives inside
// timeout(): what CPython checks on `cm` after the block is checked in the
// body here. Left out: the repr tests, __cause__, `async with cm` twice
// (no C++ counterpart), and the two that block the loop with time.sleep.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

namespace {

using AioTimeouts = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioTimeouts);

aio::Task<> sleep_for(aio::clock::duration d) { co_await aio::sleep(d); }

// test_timeout_at_basic.
TEST_P(AioTimeouts, TimeoutAtBasic) {
  run([]() -> aio::Task<> {
    auto deadline = aio::clock::now() + 10ms;
    EXPECT_THROW(co_await aio::timeout_at(deadline,
                                          [&](aio::Timeout& cm) {
                                            EXPECT_TRUE(cm.when() == deadline);
                                            return sleep_for(10s);
                                          }),
                 aio::TimeoutError);
  }());
}

// test_waiter_cancelled: the body sees CancelledError, the scope raises TimeoutError.
TEST_P(AioTimeouts, WaiterCancelled) {
  run([]() -> aio::Task<> {
    bool cancelled = false;
    EXPECT_THROW(co_await aio::timeout(10ms,
                                       [&]() -> aio::Task<> {
                                         try {
                                           co_await aio::sleep(10s);
                                         } catch (const aio::CancelledError&) {
                                           cancelled = true;
                                           throw;
                                         }
                                       }),
                 aio::TimeoutError);
    EXPECT_TRUE(cancelled);
  }());
}

// test_timeout_not_called.
TEST_P(AioTimeouts, TimeoutNotCalled) {
  run([]() -> aio::Task<> {
    co_await aio::timeout(10s, [](aio::Timeout& cm) -> aio::Task<> {
      co_await aio::sleep(0s);
      EXPECT_FALSE(cm.expired());
      EXPECT_TRUE(cm.when() > aio::clock::now());
    });
  }());
}

// test_timeout_disabled, test_timeout_at_disabled.
TEST_P(AioTimeouts, TimeoutDisabled) {
  run([]() -> aio::Task<> {
    auto body = [](aio::Timeout& cm) -> aio::Task<> {
      co_await aio::sleep(0s);
      EXPECT_FALSE(cm.expired());
      EXPECT_FALSE(cm.when().has_value());
    };
    co_await aio::timeout(std::nullopt, body);
    co_await aio::timeout_at(std::nullopt, body);
  }());
}

// test_timeout_zero, test_timeout_zero_sleep_zero, test_timeout_in_the_past_sleep_zero.
TEST_P(AioTimeouts, TimeoutZeroOrInThePast) {
  run([]() -> aio::Task<> {
    for (auto delay : {0s, -11s}) {
      for (auto nap : {aio::clock::duration(10s), aio::clock::duration::zero()}) {
        auto t0 = aio::clock::now();
        EXPECT_THROW(co_await aio::timeout(delay,
                                           [&](aio::Timeout& cm) {
                                             EXPECT_TRUE(*cm.when() <= aio::clock::now());
                                             EXPECT_TRUE(delay != 0s || *cm.when() >= t0);
                                             return sleep_for(nap);
                                           }),
                     aio::TimeoutError);
      }
    }
  }());
}

// test_foreign_exception_passed.
TEST_P(AioTimeouts, ForeignExceptionPassed) {
  run([]() -> aio::Task<> {
    EXPECT_THROW(co_await aio::timeout(10ms,
                                       [](aio::Timeout& cm) -> aio::Task<> {
                                         EXPECT_FALSE(cm.expired());
                                         throw mpx::KeyError("k");
                                         co_return;
                                       }),
                 mpx::KeyError);
  }());
}

struct ZeroDivisionError : mpx::Error {
  ZeroDivisionError() : Error("division by zero") {}
};

// test_foreign_exception_on_timeout: what the body raises while being
// cancelled by the deadline replaces the TimeoutError.
TEST_P(AioTimeouts, ForeignExceptionOnTimeout) {
  run([]() -> aio::Task<> {
    auto crash = []() -> aio::Task<> {
      try {
        co_await aio::sleep(1s);
      } catch (...) {
      }
      throw ZeroDivisionError();  // Python's `finally: 1/0`
    };
    EXPECT_THROW(co_await aio::timeout(10ms, crash), ZeroDivisionError);
  }());
}

// test_foreign_cancel_doesnt_timeout_if_not_expired.
TEST_P(AioTimeouts, ForeignCancelIsNotATimeout) {
  run([]() -> aio::Task<> {
    EXPECT_THROW(co_await aio::timeout(10s,
                                       [](aio::Timeout& cm) -> aio::Task<> {
                                         aio::current_task().cancel();
                                         try {
                                           co_await aio::sleep(10s);
                                         } catch (const aio::CancelledError&) {
                                           EXPECT_FALSE(cm.expired());
                                           throw;
                                         }
                                       }),
                 aio::CancelledError);
    aio::current_task().uncancel();
  }());
}

// test_outer_task_is_not_cancelled.
TEST_P(AioTimeouts, OuterTaskIsNotCancelled) {
  run([]() -> aio::Task<> {
    auto task = aio::create_task([]() -> aio::Task<> {
      EXPECT_THROW(co_await aio::timeout(1ms, [] { return sleep_for(10s); }), aio::TimeoutError);
    }());
    co_await task;
    EXPECT_FALSE(task.cancelled());
    EXPECT_TRUE(task.done());
  }());
}

// test_reschedule.
TEST_P(AioTimeouts, Reschedule) {
  run([]() -> aio::Task<> {
    aio::Future<aio::Timeout*> fut;
    auto deadline1 = aio::clock::now() + 10s;
    auto deadline2 = deadline1 + 20s;
    auto task = aio::create_task([](aio::Future<aio::Timeout*> f, aio::clock::time_point d) -> aio::Task<> {
      co_await aio::timeout_at(d, [&](aio::Timeout& cm) {
        f.set_result(&cm);
        return sleep_for(50s);
      });
    }(fut, deadline1));
    aio::Timeout* cm = co_await fut;
    EXPECT_TRUE(cm->when() == deadline1);
    cm->reschedule(deadline2);
    EXPECT_TRUE(cm->when() == deadline2);
    cm->reschedule(std::nullopt);
    EXPECT_FALSE(cm->when().has_value());
    EXPECT_FALSE(cm->expired());  // (checked before the task ends: the scope dies with it)
    task.cancel();
    EXPECT_THROW(co_await task, aio::CancelledError);
  }());
}

// test_nested_timeout_in_finally: a timeout inside the cleanup of a timed-out body.
TEST_P(AioTimeouts, NestedTimeoutInFinally) {
  run([]() -> aio::Task<> {
    EXPECT_THROW(co_await aio::timeout(10ms,
                                       []() -> aio::Task<> {
                                         std::exception_ptr e;
                                         try {
                                           co_await aio::sleep(1s);
                                         } catch (...) {
                                           e = std::current_exception();
                                         }
                                         // finally:
                                         EXPECT_THROW(co_await aio::timeout(10ms, [] { return sleep_for(10s); }),
                                                      aio::TimeoutError);
                                         if (e) std::rethrow_exception(e);
                                       }),
                 aio::TimeoutError);
  }());
}

// test_timeout_after_cancellation.
TEST_P(AioTimeouts, TimeoutAfterCancellation) {
  run([]() -> aio::Task<> {
    try {
      aio::current_task().cancel();
      co_await aio::sleep(1s);  // work which will be cancelled
    } catch (const aio::CancelledError&) {
    }
    EXPECT_THROW(co_await aio::timeout(0s, [] { return sleep_for(1s); }), aio::TimeoutError);  // some cleanup
  }());
}

// test_cancel_in_timeout_after_cancellation.
TEST_P(AioTimeouts, CancelInTimeoutAfterCancellation) {
  run([]() -> aio::Task<> {
    try {
      aio::current_task().cancel();
      co_await aio::sleep(1s);
    } catch (const aio::CancelledError&) {
    }
    EXPECT_THROW(co_await aio::timeout(1s,
                                       []() -> aio::Task<> {
                                         aio::current_task().cancel();
                                         co_await aio::sleep(2s);
                                       }),
                 aio::CancelledError);
  }());
}

// test_timeout_without_task (its first half): the scope needs a task.
TEST_P(AioTimeouts, TimeoutWithoutTask) {
  try {
    aio::Timeout cm(std::nullopt);
    ADD_FAILURE() << "entered outside a task";
  } catch (const mpx::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("task"), std::string::npos);
  }
}

}  // namespace
