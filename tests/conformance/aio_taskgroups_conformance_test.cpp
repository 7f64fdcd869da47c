// Ports of CPython's Lib/test/test_asyncio/test_taskgroups.py (TestTaskGroup)
// to mpx::aio::task_group, on both backends. Each TEST_P names its source
// case. CPython paces these tests with sleeps (a child crashes after 0.1 s,
// the runner is cancelled after 0.1 s); here the same orders come from the
// loop's FIFO: a child that "crashes soon" yields once (sleep(0)) then
// raises, one that "sleeps long" waits on an Event nobody sets (forever()),
// and the test cancels a runner once an Event says it has reached its wait.
// Python's ExceptionGroup is aio::ExceptionGroup (.exceptions()).
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

namespace {

using AioTaskGroups = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioTaskGroups);

struct ZeroDivisionError : mpx::Error {  // what CPython's `1 / 0` raises
  ZeroDivisionError() : Error("division by zero") {}
};
struct MyExc : mpx::Error {
  MyExc() : Error("MyExc") {}
};

/// CPython's get_error_types(eg), by name.
std::set<std::string> error_types(const aio::ExceptionGroup& eg) {
  std::set<std::string> out;
  for (const auto& e : eg.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const ZeroDivisionError&) {
      out.insert("ZeroDivisionError");
    } catch (const MyExc&) {
      out.insert("MyExc");
    } catch (const mpx::ValueError&) {
      out.insert("ValueError");
    } catch (const aio::ExceptionGroup&) {
      out.insert("ExceptionGroup");
    } catch (...) {
      out.insert("other");
    }
  }
  return out;
}

/// asyncio.sleep(10) in these tests: never done, ends by cancellation only.
aio::Task<> forever() {
  aio::Event never;
  co_await never.wait();
}

/// `await asyncio.sleep(0.1); 1 / 0`: fails after one suspension.
aio::Task<> crash_soon() {
  co_await aio::sleep(0s);
  throw ZeroDivisionError();
}

aio::Task<int> value_later(int v) {
  co_await aio::sleep(0s);
  co_return v;
}

// test_taskgroup_01.
TEST_P(AioTaskGroups, ChildrenResults) {
  run([]() -> aio::Task<> {
    std::optional<aio::Task<int>> t1, t2;
    co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
      t1 = g.create_task(value_later(42));
      t2 = g.create_task(value_later(11));
      co_return;
    });
    EXPECT_EQ(t1->result(), 42);
    EXPECT_EQ(t2->result(), 11);
  }());
}

// test_taskgroup_03: a child cancelled explicitly does not fail the group.
TEST_P(AioTaskGroups, ExplicitlyCancelledChild) {
  run([]() -> aio::Task<> {
    std::optional<aio::Task<>> t1;
    std::optional<aio::Task<int>> t2;
    co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
      t1 = g.create_task(forever());
      co_await aio::sleep(0s);
      t1->cancel();
      t2 = g.create_task(value_later(11));
    });
    EXPECT_TRUE(t1->cancelled());
    EXPECT_EQ(t2->result(), 11);
  }());
}

// test_taskgroup_04: a failing child cancels its sibling; the group raises.
TEST_P(AioTaskGroups, FailingChildCancelsSiblings) {
  run([]() -> aio::Task<> {
    int num = 0;
    bool t2_cancel = false;
    std::optional<aio::Task<>> t2;
    auto runner = [&]() -> aio::Task<> {
      co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
        g.create_task(crash_soon());
        t2 = g.create_task([](int& n, bool& cancelled) -> aio::Task<> {
          try {
            co_await forever();
          } catch (const aio::CancelledError&) {
            cancelled = true;
            throw;
          }
          ++n;
        }(num, t2_cancel));
        co_return;
      });
      num += 10;
    };
    try {
      co_await aio::create_task(runner());
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"ZeroDivisionError"});
    }
    EXPECT_EQ(num, 0);
    EXPECT_TRUE(t2_cancel);
    EXPECT_TRUE(t2->cancelled());
  }());
}

// test_cancel_children_on_child_error: the body's own wait is cancelled too.
TEST_P(AioTaskGroups, CancelChildrenOnChildError) {
  run([]() -> aio::Task<> {
    bool t2_cancel = false, runner_cancel = false;
    auto runner = [&]() -> aio::Task<> {
      co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
        for (int i = 0; i < 3; ++i) g.create_task(crash_soon());
        g.create_task([](bool& cancelled) -> aio::Task<> {
          try {
            co_await forever();
          } catch (const aio::CancelledError&) {
            cancelled = true;
            throw;
          }
        }(t2_cancel));
        try {
          co_await forever();
        } catch (const aio::CancelledError&) {
          runner_cancel = true;
          throw;
        }
      });
    };
    try {
      co_await aio::create_task(runner());
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"ZeroDivisionError"});
    }
    EXPECT_TRUE(t2_cancel);
    EXPECT_TRUE(runner_cancel);
  }());
}

/// A child that counts its cancellation (test_cancellation's foo) after
/// telling `started` once `count` children run.
aio::Task<> counted_forever(int& cancelled, int& running, int count, aio::Event& started) {
  if (++running == count) started.set();
  try {
    co_await forever();
  } catch (const aio::CancelledError&) {
    ++cancelled;
    throw;
  }
}

// test_cancellation (and test_taskgroup_07 with `body_counts`): cancelling the
// task that runs the group cancels every child and raises CancelledError
// with the message given.
aio::Task<> cancel_runner(bool body_waits) {
  int num = 0, running = 0;
  aio::Event started;
  auto runner = [&]() -> aio::Task<> {
    co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
      for (int i = 0; i < 5; ++i) g.create_task(counted_forever(num, running, 5, started));
      if (!body_waits) co_return;
      try {
        co_await forever();
      } catch (const aio::CancelledError&) {
        num += 10;
        throw;
      }
    });
  };
  auto r = aio::create_task(runner());
  co_await started.wait();
  EXPECT_FALSE(r.done());
  r.cancel("test");
  try {
    co_await r;
    ADD_FAILURE() << "no CancelledError";
  } catch (const aio::CancelledError& e) {
    EXPECT_STREQ(e.what(), "test");
  }
  EXPECT_EQ(num, body_waits ? 15 : 5);
}

// test_cancellation.
TEST_P(AioTaskGroups, Cancellation) { run(cancel_runner(false)); }
// test_taskgroup_07.
TEST_P(AioTaskGroups, CancellationReachesTheBody) { run(cancel_runner(true)); }

// test_taskgroup_09 (the body fails after a suspension) and test_taskgroup_10
// (at once): the children are cancelled, the group raises.
aio::Task<> body_fails(bool after_a_suspension) {
  std::optional<aio::Task<>> t1, t2;
  try {
    co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
      t1 = g.create_task(forever());
      t2 = g.create_task(forever());
      if (after_a_suspension) co_await aio::sleep(0s);
      throw ZeroDivisionError();
    });
    ADD_FAILURE() << "ExceptionGroup was not raised";
  } catch (const aio::ExceptionGroup& eg) {
    EXPECT_EQ(error_types(eg), std::set<std::string>{"ZeroDivisionError"});
  }
  EXPECT_TRUE(t1->cancelled());
  EXPECT_TRUE(t2->cancelled());
}

// test_taskgroup_09.
TEST_P(AioTaskGroups, BodyFailsAfterASuspension) { run(body_fails(true)); }
// test_taskgroup_10.
TEST_P(AioTaskGroups, BodyFailsAtOnce) { run(body_fails(false)); }

// test_taskgroup_11: cancelling a runner blocked in nested groups.
TEST_P(AioTaskGroups, CancelNestedGroups) {
  run([]() -> aio::Task<> {
    int num = 0, running = 0;
    aio::Event started;
    auto runner = [&]() -> aio::Task<> {
      co_await aio::task_group([&](aio::TaskGroup&) -> aio::Task<> {
        co_await aio::task_group([&](aio::TaskGroup& g2) -> aio::Task<> {
          for (int i = 0; i < 5; ++i) g2.create_task(counted_forever(num, running, 5, started));
          co_await forever();
        });
      });
    };
    auto r = aio::create_task(runner());
    co_await started.wait();
    EXPECT_FALSE(r.done());
    r.cancel();
    EXPECT_THROW(co_await r, aio::CancelledError);
    EXPECT_EQ(num, 5);
  }());
}

aio::Task<> crash_value() {
  co_await aio::sleep(0s);
  throw mpx::ValueError("crash");
}

// test_taskgroup_13: the outer group's child fails; the inner group is
// cancelled (its body is the outer body): one flat group of ValueError.
TEST_P(AioTaskGroups, OuterChildFails) {
  run([]() -> aio::Task<> {
    try {
      co_await aio::task_group([](aio::TaskGroup& g1) -> aio::Task<> {
        g1.create_task(crash_value());
        co_await aio::task_group([](aio::TaskGroup& g2) -> aio::Task<> {
          g2.create_task(forever());
          co_return;
        });
      });
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"ValueError"});
    }
  }());
}

// test_taskgroup_14: the inner group's child fails: the outer group raises a
// group holding the inner group.
TEST_P(AioTaskGroups, InnerChildFails) {
  run([]() -> aio::Task<> {
    try {
      co_await aio::task_group([](aio::TaskGroup& g1) -> aio::Task<> {
        g1.create_task(forever());
        co_await aio::task_group([](aio::TaskGroup& g2) -> aio::Task<> {
          g2.create_task(crash_value());
          co_return;
        });
      });
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"ExceptionGroup"});
      try {
        std::rethrow_exception(eg.exceptions().at(0));
      } catch (const aio::ExceptionGroup& inner) {
        EXPECT_EQ(error_types(inner), std::set<std::string>{"ValueError"});
      }
    }
  }());
}

/// test_taskgroup_17 (`raise_instead` false) and 18 (true): a group with no
/// children whose body is cancelled; 18's body answers with an exception.
aio::Task<> cancel_childless(bool raise_instead) {
  int num = 0;
  aio::Event waiting;
  auto runner = [&]() -> aio::Task<> {
    co_await aio::task_group([&](aio::TaskGroup&) -> aio::Task<> {
      try {
        waiting.set();
        co_await forever();
      } catch (const aio::CancelledError&) {
        num += 10;
        if (!raise_instead) throw;
      }
      throw MyExc();  // "This isn't a good idea, but we have to support this weird case."
    });
  };
  auto r = aio::create_task(runner());
  co_await waiting.wait();
  EXPECT_FALSE(r.done());
  r.cancel();
  if (raise_instead) {
    try {
      co_await r;
      ADD_FAILURE() << "ExceptionGroup was not raised";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"MyExc"});
    }
  } else {
    EXPECT_THROW(co_await r, aio::CancelledError);
  }
  EXPECT_EQ(num, 10);
}

// test_taskgroup_17.
TEST_P(AioTaskGroups, CancelChildlessGroup) { run(cancel_childless(false)); }
// test_taskgroup_18.
TEST_P(AioTaskGroups, CancelledBodyRaisesInstead) { run(cancel_childless(true)); }

// test_taskgroup_19: a child fails; the body, cancelled, raises in its
// `finally`: the group holds both.
TEST_P(AioTaskGroups, ChildAndBodyBothFail) {
  run([]() -> aio::Task<> {
    auto nested = []() -> aio::Task<> {
      try {
        co_await forever();
      } catch (...) {
      }
      throw MyExc();  // Python's `finally: raise MyExc`
    };
    try {
      co_await aio::create_task(aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
        g.create_task(crash_soon());
        co_await nested();
      }));
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), (std::set<std::string>{"MyExc", "ZeroDivisionError"}));
    }
  }());
}

// test_taskgroup_22: cancelling the runner while the children still run.
TEST_P(AioTaskGroups, CancelWhileChildrenRun) {
  run([]() -> aio::Task<> {
    auto r = aio::create_task(aio::task_group([](aio::TaskGroup& g) -> aio::Task<> {
      g.create_task(forever());
      g.create_task(forever());
      co_return;
    }));
    co_await aio::sleep(0s);  // the runner is now waiting for its children
    r.cancel();
    EXPECT_THROW(co_await r, aio::CancelledError);
  }());
}

aio::Task<> spawn_two(aio::TaskGroup& g) {
  co_await aio::sleep(0s);
  g.create_task(value_later(1));
  g.create_task(value_later(2));
}

// test_taskgroup_24: a child adds children to its own group.
TEST_P(AioTaskGroups, ChildSpawnsChildren) {
  run([]() -> aio::Task<> {
    co_await aio::task_group([](aio::TaskGroup& g) -> aio::Task<> {
      g.create_task(spawn_two(g));
      co_return;
    });
  }());
}

aio::Task<> hydra(aio::TaskGroup& g, int& nhydras) {
  ++nhydras;
  co_await aio::sleep(0s);
  g.create_task(hydra(g, nhydras));
  g.create_task(hydra(g, nhydras));
}

// test_taskgroup_25: children spawn children until another fails; the
// failure stops them all.
TEST_P(AioTaskGroups, HydraStoppedByAFailure) {
  run([]() -> aio::Task<> {
    int nhydras = 0;
    try {
      co_await aio::task_group([&](aio::TaskGroup& g) -> aio::Task<> {
        g.create_task(hydra(g, nhydras));
        g.create_task([](int& n) -> aio::Task<> {
          while (n < 10) co_await aio::sleep(0s);
          throw ZeroDivisionError();
        }(nhydras));
        co_return;
      });
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& eg) {
      EXPECT_EQ(error_types(eg), std::set<std::string>{"ZeroDivisionError"});
    }
    EXPECT_GE(nhydras, 10);
  }());
}

// test_taskgroup_task_name.
TEST_P(AioTaskGroups, TaskName) {
  run([]() -> aio::Task<> {
    co_await aio::task_group([](aio::TaskGroup& g) -> aio::Task<> {
      auto t = g.create_task(value_later(0), "yolo");
      EXPECT_EQ(t.get_name(), "yolo");
      co_return;
    });
  }());
}

}  // namespace
