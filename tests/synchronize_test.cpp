// The cross-process primitives: shared across fork, Python's return values
// and errors, C++ Lockable.
#include "mpx/synchronize.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "mpx/connection.hpp"
#include "mpx/detail/arena.hpp"
#include "mpx/process.hpp"

using namespace std::chrono_literals;

TEST(Lock, AcquireReleaseAndTimeouts) {
  mpx::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(lock.acquire(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_FALSE(lock.acquire(-1s));  // negative: do not wait
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_FALSE(lock.owner_died());
}

TEST(Lock, OverReleaseIsValueError) {
  mpx::Lock lock;
  try {
    lock.release();
    FAIL();
  } catch (const mpx::ValueError& e) {
    EXPECT_STREQ(e.what(), "semaphore or lock released too many times");
  }
  mpx::threading_sync::Lock tlock;
  EXPECT_THROW(tlock.release(), mpx::RuntimeError);
}

TEST(Lock, AnotherThreadMayRelease) {
  mpx::Lock lock;
  lock.acquire();
  std::thread([&] { lock.release(); }).join();
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(Lock, StdLockableWorks) {
  mpx::Lock lock;
  {
    std::scoped_lock hold(lock);
    EXPECT_TRUE(lock.locked());
  }
  std::unique_lock u(lock, std::defer_lock);
  EXPECT_TRUE(u.try_lock_for(10ms));
  u.unlock();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, MutualExclusionAcrossProcesses) {
  auto& arena = mpx::detail::Arena::shared();
  auto off = arena.allocate(sizeof(long));
  auto* counter = arena.at<long>(off);
  mpx::Lock lock;
  constexpr int kProcs = 3, kIters = 2000;
  std::vector<mpx::Process> procs;
  for (int i = 0; i < kProcs; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::scoped_lock hold(lock);
        long v = *counter;  // a non-atomic read-modify-write: only safe under the lock
        *counter = v + 1;
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) {
    ASSERT_TRUE(p.join(60s));
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(*counter, kProcs * kIters);
  arena.deallocate(off, sizeof(long));
}

TEST(RLock, ReentrantAndOwned) {
  mpx::RLock r;
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  EXPECT_EQ(r.count(), 2u);
  std::thread([&] {
    EXPECT_FALSE(r.acquire(false));
    EXPECT_EQ(r.count(), 0u);
    try {
      r.release();
      ADD_FAILURE();
    } catch (const mpx::AssertionError& e) {
      EXPECT_STREQ(e.what(), "attempt to release recursive lock not owned by thread");
    }
  }).join();
  r.release();
  EXPECT_TRUE(r.locked());
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_THROW(r.release(), mpx::AssertionError);
  mpx::threading_sync::RLock tr;
  EXPECT_THROW(tr.release(), mpx::RuntimeError);
}

TEST(Semaphore, CountsAndBounds) {
  mpx::Semaphore s(2);
  EXPECT_EQ(s.get_value(), 2u);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire());
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(20ms));
  s.release();
  s.release(2);
  EXPECT_EQ(s.get_value(), 3u);  // a plain Semaphore may go above its start

  mpx::BoundedSemaphore b(1);
  b.acquire();
  b.release();
  try {
    b.release();
    FAIL();
  } catch (const mpx::ValueError& e) {
    EXPECT_STREQ(e.what(), "semaphore or lock released too many times");
  }
  EXPECT_EQ(b.get_value(), 1u);
}

TEST(Semaphore, WakesAWaiterInAnotherProcess) {
  mpx::Semaphore s(0);
  mpx::Process p([&] {
    if (!s.acquire(20s)) mpx::exit(2);
  });
  p.start();
  s.release();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(s.get_value(), 0u);
}

TEST(Event, SetClearWaitAcrossProcesses) {
  mpx::Event go, done;
  EXPECT_FALSE(go.is_set());
  EXPECT_FALSE(go.wait(10ms));
  mpx::Process p([&] {
    if (!go.wait(20s)) mpx::exit(2);
    done.set();
  });
  p.start();
  go.set();
  EXPECT_TRUE(done.wait(20s));
  EXPECT_TRUE(go.wait());
  go.clear();
  EXPECT_FALSE(go.is_set());
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Condition, ProducerConsumerAcrossProcesses) {
  auto& arena = mpx::detail::Arena::shared();
  auto off = arena.allocate(sizeof(int));
  auto* items = arena.at<int>(off);
  mpx::Condition cond;
  mpx::Process consumer([&] {
    int taken = 0;
    while (taken < 50) {
      std::scoped_lock hold(cond);
      if (!cond.wait_for([&] { return *items > 0; }, 20s)) mpx::exit(2);
      --*items;
      ++taken;
    }
  });
  consumer.start();
  for (int i = 0; i < 50; ++i) {
    std::scoped_lock hold(cond);
    ++*items;
    cond.notify();
  }
  ASSERT_TRUE(consumer.join(30s));
  EXPECT_EQ(consumer.exitcode(), 0);
  EXPECT_EQ(*items, 0);
  arena.deallocate(off, sizeof(int));
}

TEST(Condition, WaitWithoutTheLockIsAnError) {
  mpx::Condition c;
  EXPECT_THROW(c.wait(1ms), mpx::AssertionError);
  EXPECT_THROW(c.notify(), mpx::AssertionError);
  mpx::threading_sync::Condition tc;
  EXPECT_THROW(tc.wait(1ms), mpx::RuntimeError);
}

TEST(Condition, WaitTimesOutAndReacquires) {
  mpx::Condition c;
  std::scoped_lock hold(c);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.wait(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  c.notify();  // we hold the lock again: no error
}

TEST(Condition, NotifyNWakesExactlyN) {
  mpx::threading_sync::Condition c;
  std::atomic<int> waiting{0}, woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      std::scoped_lock hold(c);
      ++waiting;
      if (c.wait(20s)) ++woken;
    });
  }
  auto all_waiting = [&] {
    std::scoped_lock hold(c);
    return waiting.load() == 4;
  };
  while (!all_waiting()) std::this_thread::yield();
  {
    std::scoped_lock hold(c);
    c.notify(2);
  }
  // Two wake; the other two stay until notify_all.
  while (woken.load() < 2) std::this_thread::yield();
  {
    std::scoped_lock hold(c);
    EXPECT_EQ(woken.load(), 2);
    c.notify_all();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), 4);
}

TEST(Barrier, PartiesMeetAcrossProcesses) {
  mpx::Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  mpx::Process p1([&] {
    if (b.wait(20s) >= 3) mpx::exit(2);
  });
  mpx::Process p2([&] {
    if (b.wait(20s) >= 3) mpx::exit(2);
  });
  p1.start();
  p2.start();
  EXPECT_LT(b.wait(20s), 3u);
  ASSERT_TRUE(p1.join(20s));
  ASSERT_TRUE(p2.join(20s));
  EXPECT_EQ(p1.exitcode(), 0);
  EXPECT_EQ(p2.exitcode(), 0);
  EXPECT_FALSE(b.broken());
}

TEST(Barrier, TimeoutBreaksItAndResetRepairs) {
  mpx::Barrier b(2);
  EXPECT_THROW(b.wait(20ms), mpx::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(20ms), mpx::BrokenBarrierError);
  b.reset();
  EXPECT_FALSE(b.broken());
  std::thread t([&] { b.wait(20s); });
  EXPECT_LT(b.wait(20s), 2u);
  t.join();
}

TEST(Barrier, ActionRunsOnceAndAbortBreaks) {
  std::atomic<int> ran{0};
  mpx::Barrier b(2, [&] { ++ran; });
  std::thread t([&] { b.wait(20s); });
  b.wait(20s);
  t.join();
  EXPECT_EQ(ran.load(), 1);
  b.abort();
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(), mpx::BrokenBarrierError);
  EXPECT_THROW(mpx::Barrier(0), mpx::ValueError);
}
