// Ports of CPython's Lib/test/test_asyncio/test_locks.py, test_queues.py and
// test_timeouts.py / test_tasks.py cases to mpx::aio, on both backends. Each
// TEST_P names its source case. Python's tests step the loop with
// test_utils.run_briefly (one sleep(0)); here the same: `co_await aio::sleep(0s)`.
//
// Ported: LockTests.test_acquire, test_acquire_cancel, test_release_not_acquired,
//   test_cancel_release_race (as CancelledWaiterPassesTheLockOn);
//   EventTests.test_wait, test_clear; ConditionTests.test_wait, test_notify_all;
//   SemaphoreTests.test_acquire, test_release_not_acquired (BoundedSemaphore);
//   QueueBasicTests.test_maxsize / QueuePutTests.test_blocking_put_wait,
//   QueueGetTests.test_nonblocking_get_exception, test_get_cancelled_race,
//   _QueueJoinTestMixin.test_task_done, LifoQueueTests.test_order,
//   PriorityQueueTests.test_order; TimeoutTests.test_timeout_basic,
//   test_nested_timeouts; TaskTests.test_shield_cancel_outer (test_tasks.py).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

namespace {

using AioConformance = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioConformance);

// test_locks.LockTests.test_acquire: three waiters acquire in FIFO order.
TEST_P(AioConformance, LockAcquireIsFifo) {
  run([]() -> aio::Task<> {
    aio::Lock lock;
    std::vector<int> result;
    EXPECT_TRUE(co_await lock.acquire());
    auto c = [&](int i) -> aio::Task<> {
      co_await lock.acquire();
      result.push_back(i);
      lock.release();
    };
    auto t1 = aio::create_task(c(1));
    auto t2 = aio::create_task(c(2));
    auto t3 = aio::create_task(c(3));
    co_await aio::sleep(0s);
    EXPECT_TRUE(result.empty());
    lock.release();
    co_await aio::gather(t1, t2, t3);
    EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));
  }());
}

// test_locks.LockTests.test_acquire_cancel.
TEST_P(AioConformance, LockAcquireCancel) {
  run([]() -> aio::Task<> {
    aio::Lock lock;
    co_await lock.acquire();
    auto task = aio::create_task(lock.acquire());
    co_await aio::sleep(0s);
    task.cancel();
    EXPECT_THROW(co_await task, aio::CancelledError);
    EXPECT_TRUE(lock.locked());
    lock.release();
    EXPECT_FALSE(lock.locked());
  }());
}

// test_locks.LockTests.test_cancel_release_race: a waiter woken then
// cancelled must pass the lock on, not strand the next waiter.
TEST_P(AioConformance, CancelledWaiterPassesTheLockOn) {
  run([]() -> aio::Task<> {
    aio::Lock lock;
    co_await lock.acquire();
    auto a = aio::create_task(lock.acquire());
    auto b = aio::create_task(lock.acquire());
    co_await aio::sleep(0s);
    lock.release();  // wakes a
    a.cancel();      // ... which is cancelled before it runs
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    EXPECT_TRUE(b.done());
    EXPECT_TRUE(lock.locked());
  }());
}

// test_locks.LockTests.test_release_not_acquired.
TEST_P(AioConformance, LockReleaseNotAcquired) {
  aio::Lock lock;
  EXPECT_THROW(lock.release(), mpx::RuntimeError);
}

// test_locks.EventTests.test_wait and test_clear.
TEST_P(AioConformance, EventWaitAndClear) {
  run([]() -> aio::Task<> {
    aio::Event ev;
    int woken = 0;
    auto w = [&]() -> aio::Task<> {
      co_await ev.wait();
      ++woken;
    };
    auto t1 = aio::create_task(w());
    auto t2 = aio::create_task(w());
    co_await aio::sleep(0s);
    EXPECT_EQ(woken, 0);
    ev.set();
    co_await aio::gather(t1, t2);
    EXPECT_EQ(woken, 2);
    ev.clear();
    EXPECT_FALSE(ev.is_set());
  }());
}

// test_locks.ConditionTests.test_wait / test_notify_all.
TEST_P(AioConformance, ConditionWaitNotify) {
  run([]() -> aio::Task<> {
    aio::Condition cond;
    std::vector<int> result;
    auto c = [&](int i) -> aio::Task<> {
      auto held = co_await cond.hold();
      co_await cond.wait();
      result.push_back(i);
    };
    auto t1 = aio::create_task(c(1));
    auto t2 = aio::create_task(c(2));
    co_await aio::sleep(0s);
    {
      auto held = co_await cond.hold();
      cond.notify(1);
    }
    co_await aio::sleep(0s);
    co_await aio::sleep(0s);
    EXPECT_EQ(result, (std::vector<int>{1}));
    {
      auto held = co_await cond.hold();
      cond.notify_all();
    }
    co_await aio::gather(t1, t2);
    EXPECT_EQ(result, (std::vector<int>{1, 2}));
    EXPECT_THROW(cond.notify(), mpx::RuntimeError);
  }());
}

// test_locks.SemaphoreTests.test_acquire and BoundedSemaphore's release.
TEST_P(AioConformance, SemaphoreAcquire) {
  run([]() -> aio::Task<> {
    aio::Semaphore sem(2);
    co_await sem.acquire();
    co_await sem.acquire();
    EXPECT_TRUE(sem.locked());
    auto t = aio::create_task(sem.acquire());
    co_await aio::sleep(0s);
    EXPECT_FALSE(t.done());
    sem.release();
    co_await t;
    aio::BoundedSemaphore bs(1);
    EXPECT_THROW(bs.release(), mpx::ValueError);
  }());
}

// test_queues: maxsize blocks put; get_nowait raises QueueEmpty; join/task_done.
TEST_P(AioConformance, QueuePutBlocksGetNowaitRaisesJoinWaits) {
  run([]() -> aio::Task<> {
    aio::Queue<int> q(1);
    co_await q.put(1);
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put_nowait(2), aio::QueueFull);
    auto putter = aio::create_task(q.put(2));
    co_await aio::sleep(0s);
    EXPECT_FALSE(putter.done());
    EXPECT_EQ(co_await q.get(), 1);
    co_await putter;
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(q.get_nowait(), aio::QueueEmpty);
    int processed = 0;
    aio::Queue<int> jq;
    for (int i = 0; i < 5; ++i) jq.put_nowait(i);
    // Named: a capturing lambda coroutine must outlive the coroutine it makes.
    auto work = [&]() -> aio::Task<> {
      for (;;) {
        co_await jq.get();
        ++processed;
        jq.task_done();
      }
    };
    auto worker = aio::create_task(work());
    co_await jq.join();
    EXPECT_EQ(processed, 5);
    worker.cancel();
    EXPECT_THROW(co_await worker, aio::CancelledError);
    EXPECT_THROW(jq.task_done(), mpx::ValueError);
  }());
}

// test_queues.QueueGetTests.test_get_cancelled_race: a woken, cancelled getter passes the item on.
TEST_P(AioConformance, QueueCancelledGetterPassesTheItemOn) {
  run([]() -> aio::Task<> {
    aio::Queue<int> q;
    auto t1 = aio::create_task(q.get());
    auto t2 = aio::create_task(q.get());
    co_await aio::sleep(0s);
    q.put_nowait(7);  // wakes t1
    t1.cancel();
    EXPECT_EQ(co_await t2, 7);
  }());
}

// test_queues.LifoQueueTests.test_order / PriorityQueueTests.test_order.
TEST_P(AioConformance, LifoAndPriorityOrder) {
  run([]() -> aio::Task<> {
    aio::LifoQueue<int> lq;
    aio::PriorityQueue<int> pq;
    for (int i : {1, 3, 2}) {
      lq.put_nowait(i);
      pq.put_nowait(i);
    }
    std::vector<int> l, p;
    for (int i = 0; i < 3; ++i) {
      l.push_back(co_await lq.get());
      p.push_back(co_await pq.get());
    }
    EXPECT_EQ(l, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(p, (std::vector<int>{1, 2, 3}));
  }());
}

// test_timeouts.TimeoutTests.test_timeout_basic and test_nested_timeouts:
// only the scope that expired turns CancelledError into TimeoutError.
TEST_P(AioConformance, NestedTimeouts) {
  run([]() -> aio::Task<> {
    bool outer_timed_out = false;
    try {
      co_await aio::timeout(
          5ms, []() -> aio::Task<> { co_await aio::timeout(10s, []() -> aio::Task<> { co_await aio::sleep(10s); }); });
    } catch (const aio::TimeoutError&) {
      outer_timed_out = true;
    }
    EXPECT_TRUE(outer_timed_out);
    EXPECT_EQ(aio::current_task().cancelling(), 0);
  }());
}

// test_tasks.BaseTaskTests.test_shield_cancel_outer: the inner task survives.
TEST_P(AioConformance, ShieldCancelOuter) {
  run([]() -> aio::Task<> {
    aio::Future<int> inner_fut;
    auto inner = aio::create_task([](aio::Future<int> f) -> aio::Task<int> { co_return co_await f; }(inner_fut));
    auto outer = aio::shield(inner);
    co_await aio::sleep(0s);
    outer.cancel();
    EXPECT_THROW(co_await outer, aio::CancelledError);
    EXPECT_FALSE(inner.cancelled());
    inner_fut.set_result(42);
    EXPECT_EQ(co_await inner, 42);
  }());
}

}  // namespace
