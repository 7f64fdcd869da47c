// kill -9 of lock holders and waiters: nobody deadlocks, and the next
// acquirer is told the owner died.
#include <gtest/gtest.h>
#include <signal.h>

#include <mutex>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "mpx/synchronize.hpp"

using namespace std::chrono_literals;

namespace {
// A child that takes `acquire` then reports and blocks forever.
template <class F>
mpx::Process holder(mpx::Connection& report, F acquire) {
  mpx::Process p([&report, acquire] {
    acquire();
    report.send(1);
    for (;;) ::pause();
  });
  p.start();
  return p;
}
}  // namespace

TEST(SyncFault, LockHolderKilledLockIsTakenOver) {
  mpx::Lock lock;
  auto [r, w] = mpx::Pipe(false);
  auto p = holder(w, [&] { lock.acquire(); });
  ASSERT_EQ(r.recv<int>(), 1);
  EXPECT_FALSE(lock.acquire(20ms));
  p.kill();
  p.join();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(lock.acquire(10s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(lock.owner_died());
  lock.release();
  ASSERT_TRUE(lock.acquire(1s));
  EXPECT_FALSE(lock.owner_died());  // a normal acquire clears it
  lock.release();
}

TEST(SyncFault, LockHolderKilledWhileOthersWait) {
  // The holder dies while two other processes already sleep on the lock:
  // exactly one of them takes it over, then the other gets it normally.
  mpx::Lock lock;
  auto [r, w] = mpx::Pipe(false);
  auto [rr, ww] = mpx::Pipe(false);
  auto p = holder(w, [&] { lock.acquire(); });
  ASSERT_EQ(r.recv<int>(), 1);
  std::vector<mpx::Process> waiters;
  for (int i = 0; i < 2; ++i) {
    waiters.emplace_back([&] {
      if (!lock.acquire(20s)) mpx::exit(2);
      ww.send(lock.owner_died() ? 1 : 0);
      lock.release();
    });
    waiters.back().start();
  }
  p.kill();
  p.join();
  int died = rr.recv<int>() + rr.recv<int>();
  for (auto& q : waiters) {
    ASSERT_TRUE(q.join(20s));
    EXPECT_EQ(q.exitcode(), 0);
  }
  EXPECT_EQ(died, 1);
}

TEST(SyncFault, RLockHolderKilledDeepInside) {
  mpx::RLock lock;
  auto [r, w] = mpx::Pipe(false);
  auto p = holder(w, [&] {
    lock.acquire();
    lock.acquire();
    lock.acquire();
  });
  ASSERT_EQ(r.recv<int>(), 1);
  p.kill();
  p.join();
  ASSERT_TRUE(lock.acquire(10s));
  EXPECT_TRUE(lock.owner_died());
  EXPECT_EQ(lock.count(), 1u);  // our own depth, not the dead holder's
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(SyncFault, SemaphoreSlotOfKilledHolderComesBack) {
  mpx::Semaphore sem(1);
  auto [r, w] = mpx::Pipe(false);
  auto p = holder(w, [&] { sem.acquire(); });
  ASSERT_EQ(r.recv<int>(), 1);
  EXPECT_FALSE(sem.acquire(20ms));
  p.kill();
  p.join();
  ASSERT_TRUE(sem.acquire(10s));
  EXPECT_TRUE(sem.owner_died());
  sem.release();
  EXPECT_EQ(sem.get_value(), 1u);
}

TEST(SyncFault, ConditionLockHolderKilled) {
  mpx::Condition cond;
  auto [r, w] = mpx::Pipe(false);
  auto p = holder(w, [&] { cond.acquire(); });
  ASSERT_EQ(r.recv<int>(), 1);
  p.kill();
  p.join();
  ASSERT_TRUE(cond.acquire(10s));
  cond.notify_all();  // we own it now
  cond.release();
}

TEST(SyncFault, NotifiedWaiterKilledPassesTheNotificationOn) {
  // Two waiters; notify(1) picks the oldest, which is then killed before it
  // runs again; the notification must reach the other waiter.
  mpx::Condition cond;
  mpx::Event first_waiting;
  auto [r, w] = mpx::Pipe(false);
  mpx::Process victim([&] {
    std::scoped_lock hold(cond);
    first_waiting.set();
    cond.wait();  // notified, but killed before it can take the lock back
    for (;;) ::pause();
  });
  victim.start();
  ASSERT_TRUE(first_waiting.wait(20s));
  mpx::Event second_waiting;
  mpx::Process survivor([&] {
    std::scoped_lock hold(cond);
    second_waiting.set();
    w.send(cond.wait(20s) ? 1 : 0);
  });
  {
    std::scoped_lock hold(cond);  // victim is inside wait(): it released the lock
    survivor.start();
  }
  ASSERT_TRUE(second_waiting.wait(20s));
  {
    std::scoped_lock hold(cond);  // survivor is inside wait() too
    victim.kill();                // dies holding a notification it never consumed...
    victim.join();
    cond.notify(1);  // ...or before: either way survivor must wake
  }
  EXPECT_EQ(r.recv<int>(), 1);
  ASSERT_TRUE(survivor.join(20s));
}

TEST(SyncFault, BarrierPartyKilledBreaksItForTheRest) {
  mpx::Barrier b(3);
  auto [r, w] = mpx::Pipe(false);
  mpx::Event victim_waiting;
  mpx::Process victim([&] {
    victim_waiting.set();
    b.wait();
  });
  victim.start();
  ASSERT_TRUE(victim_waiting.wait(20s));
  mpx::Process other([&] {
    try {
      b.wait(30s);
      w.send(0);
    } catch (const mpx::BrokenBarrierError&) {
      w.send(1);
    }
  });
  other.start();
  while (b.n_waiting() < 2) std::this_thread::yield();
  victim.kill();
  victim.join();
  EXPECT_EQ(r.recv<int>(), 1);  // broken, not wedged
  ASSERT_TRUE(other.join(20s));
  b.reset();
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
}
