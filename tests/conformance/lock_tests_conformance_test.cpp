// Ports of CPython's Lib/test/lock_tests.py, part 1: BaseLockTests, LockTests,
// RLockTests and EventTests (python/cpython main, 3.14 era: the version with
// test_constructor_noargs, test_locked, test_repr_count). Part 2
// (lock_tests_wait_conformance_test.cpp) has ConditionTests and the semaphore
// tests, part 3 (lock_tests_barrier_conformance_test.cpp) BarrierTests. Each
// TEST names its source.
//
// CPython runs these on threading's primitives, in threads. Here they run in
// threads (std::thread through support/bunch.hpp; no fork, so this binary runs
// under TSan) on both flavours: threading's (mpx::threading_sync) and
// multiprocessing's (mpx::Lock ...), which are thread-safe too; a test body
// names the flavour's error type (support/sync_flavours.hpp). Event is one
// type in both flavours.
//
// Python sleeps (wait_threads_blocked) to let threads block; here
// Bunch::wait_blocked() waits until they sleep in the kernel. The only sleeps
// left are the timeouts under test.
//
// Not ported, and why:
//   BaseLockTests.test_repr, test_locked_repr, RLockTests.test_repr_count,
//   EventTests.test_repr                  mpx objects have no repr. (The count
//                                         RLock's repr shows is RLock::count(),
//                                         tested by test_recursion_count.)
//   BaseLockTests.test_weakref_exists, test_weakref_deleted
//                                         no weak references in C++; an mpx
//                                         primitive is a handle (copies share it).
//   BaseLockTests.test_timeout, "can't set timeout if not blocking"
//                                         acquire(bool) and acquire(duration) are
//                                         separate overloads: a non-blocking call
//                                         with a timeout cannot be written.
//   BaseLockTests.test_timeout, OverflowError for 1e100 / TIMEOUT_MAX + 1
//                                         TIMEOUT_MAX is a limit of _thread's C
//                                         timeout; a std::chrono timeout beyond a
//                                         century is "forever" (detail/deadline.hpp).
//                                         "TIMEOUT_MAX is ok" is ported (mpx::forever).
//   LockTests.test_at_fork_reinit, EventTests.test_at_fork_reinit
//                                         private API re-initialising a thread lock
//                                         in a fork child; mpx primitives live in
//                                         shared memory and are shared with the child.
//   RLockTests.test_release_save_unacquired
//                                         private API (Condition's helper); the public
//                                         side (wait() without the lock) is
//                                         ConditionTests.test_unacquired_wait.
//   BaseLockTests.test_thread_leak's threading.enumerate() check
//                                         Python's foreign-thread bookkeeping; the 15
//                                         threads are ported, the leak guard checks
//                                         what they could leave behind.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "mpx/synchronize.hpp"
#include "support/bunch.hpp"
#include "support/sync_flavours.hpp"

using namespace std::chrono_literals;
using mpx::test::Bunch;
using mpx::test::eventually;
using mpx::test::expect_timeout;
using mpx::test::Multiprocessing;
using mpx::test::Threading;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

/// Python's TypeError raised inside `with lock:`.
struct TypeError : std::exception {};

/// The lock kinds BaseLockTests runs on: Lock and RLock of each flavour.
template <class F, bool Recursive>
struct LockCase {
  using Flavour = F;
  using Lock = std::conditional_t<Recursive, typename F::RLock, typename F::Lock>;
  static constexpr bool kRecursive = Recursive;
};

struct LockNames {
  template <class T>
  static std::string GetName(int) {
    return std::string(std::is_same_v<typename T::Flavour, Threading> ? "Threading" : "Multiprocessing") +
           (T::kRecursive ? "RLock" : "Lock");
  }
};

using AllLocks = ::testing::Types<LockCase<Threading, false>, LockCase<Threading, true>,
                                  LockCase<Multiprocessing, false>, LockCase<Multiprocessing, true>>;
using PlainLocks = ::testing::Types<LockCase<Threading, false>, LockCase<Multiprocessing, false>>;
using RecursiveLocks = ::testing::Types<LockCase<Threading, true>, LockCase<Multiprocessing, true>>;

}  // namespace

// ---- BaseLockTests ------------------------------------------------------------

template <class T>
class BaseLockTests : public ::testing::Test {};
TYPED_TEST_SUITE(BaseLockTests, AllLocks, LockNames);

// CPython: lock_tests.BaseLockTests.test_constructor
TYPED_TEST(BaseLockTests, Constructor) {
  typename TypeParam::Lock lock;
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.BaseLockTests.test_constructor_noargs
TYPED_TEST(BaseLockTests, ConstructorNoargs) {
  // Python: TypeError for locktype(1), locktype(x=1). C++: it does not compile.
  static_assert(!std::is_constructible_v<typename TypeParam::Lock, int>);
  static_assert(!std::is_constructible_v<typename TypeParam::Lock, int, int>);
  static_assert(std::is_default_constructible_v<typename TypeParam::Lock>);
}

// CPython: lock_tests.BaseLockTests.test_acquire_destroy
TYPED_TEST(BaseLockTests, AcquireDestroy) {
  auto lock = std::make_unique<typename TypeParam::Lock>();
  EXPECT_TRUE(lock->acquire());
  lock.reset();  // destroying a held lock is allowed
}

// CPython: lock_tests.BaseLockTests.test_acquire_release
TYPED_TEST(BaseLockTests, AcquireRelease) {
  typename TypeParam::Lock lock;
  EXPECT_TRUE(lock.acquire());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.BaseLockTests.test_try_acquire
TYPED_TEST(BaseLockTests, TryAcquire) {
  typename TypeParam::Lock lock;
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

// CPython: lock_tests.BaseLockTests.test_try_acquire_contended
TYPED_TEST(BaseLockTests, TryAcquireContended) {
  typename TypeParam::Lock lock;
  lock.acquire();
  std::atomic<int> result{-1};
  {
    Bunch bunch([&] { result = lock.acquire(false) ? 1 : 0; }, 1);
  }
  EXPECT_EQ(result.load(), 0);
  lock.release();
}

// CPython: lock_tests.BaseLockTests.test_acquire_contended
TYPED_TEST(BaseLockTests, AcquireContended) {
  typename TypeParam::Lock lock;
  lock.acquire();
  auto f = [&] {
    lock.acquire();
    lock.release();
  };
  constexpr int N = 5;
  {
    Bunch bunch(f, N);
    // Threads block on lock.acquire()
    bunch.wait_blocked();
    EXPECT_EQ(bunch.finished(), 0);
    // Threads unblocked
    lock.release();
    bunch.wait_for_finished();
    EXPECT_EQ(bunch.finished(), N);
  }
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.BaseLockTests.test_with
TYPED_TEST(BaseLockTests, With) {
  typename TypeParam::Lock lock;
  auto f = [&] {
    lock.acquire();
    lock.release();
  };
  // Acquire the lock, do nothing, with releases the lock
  {
    std::scoped_lock hold(lock);
    EXPECT_TRUE(lock.locked());
  }
  // Check that the lock is unacquired
  ASSERT_FALSE(lock.locked());
  { Bunch bunch(f, 1); }
  // Acquire the lock, raise an exception, with releases the lock
  EXPECT_THROW(
      {
        std::scoped_lock hold(lock);
        throw TypeError();
      },
      TypeError);
  // Check that the lock is unacquired even after an exception was raised in
  // the previous "with lock:" block
  ASSERT_FALSE(lock.locked());
  { Bunch bunch(f, 1); }
}

// CPython: lock_tests.BaseLockTests.test_thread_leak
TYPED_TEST(BaseLockTests, ThreadLeak) {
  typename TypeParam::Lock lock;
  std::atomic<int> done{0};
  auto f = [&] {
    lock.acquire();
    lock.release();
    ++done;
  };
  // We run many threads in the hope that existing threads ids won't be recycled.
  { Bunch bunch(f, 15); }
  EXPECT_EQ(done.load(), 15);
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.BaseLockTests.test_timeout
TYPED_TEST(BaseLockTests, Timeout) {
  typename TypeParam::Lock lock;
  // TIMEOUT_MAX is ok
  EXPECT_TRUE(lock.acquire(mpx::forever));
  lock.release();
  auto t1 = Clock::now();
  EXPECT_TRUE(lock.acquire(5s));
  // Just a sanity test that it didn't actually wait for the timeout.
  EXPECT_LT(Clock::now() - t1, 5s);
  std::atomic<int> result{-1};
  Seconds elapsed{};
  {
    Bunch bunch(
        [&] {
          auto t = Clock::now();
          result = lock.acquire(500ms) ? 1 : 0;
          elapsed = Clock::now() - t;
        },
        1);
  }
  EXPECT_EQ(result.load(), 0);
  expect_timeout(elapsed, 500ms);
  lock.release();
}

// CPython: lock_tests.BaseLockTests.test_timeout ("invalid timeout values")
TYPED_TEST(BaseLockTests, TimeoutNegative) {
  typename TypeParam::Lock lock;
  if constexpr (std::is_same_v<typename TypeParam::Flavour, Threading>) {
    // threading: acquire(timeout=-100) raises ValueError (only -1, "forever", is allowed).
    EXPECT_THROW(lock.acquire(-100s), mpx::ValueError);
    EXPECT_FALSE(lock.locked());
  } else {
    // lock_tests runs on threading only; multiprocessing's rule is that a
    // negative timeout is zero (_multiprocessing/semaphore.c): one try, no wait.
    EXPECT_TRUE(lock.acquire(-100s));
    EXPECT_EQ(lock.acquire(-100s), TypeParam::kRecursive);  // held: only an RLock's owner re-enters
  }
}

// ---- LockTests ------------------------------------------------------------------

template <class T>
class LockTests : public ::testing::Test {};
TYPED_TEST_SUITE(LockTests, PlainLocks, LockNames);

// CPython: lock_tests.LockTests.test_reacquire
TYPED_TEST(LockTests, Reacquire) {
  // Lock needs to be released before re-acquiring.
  typename TypeParam::Lock lock;
  std::atomic<int> phase{0};
  auto f = [&] {
    lock.acquire();
    ++phase;
    lock.acquire();
    ++phase;
  };
  {
    Bunch bunch(f, 1);
    // Thread blocked on lock.acquire()
    ASSERT_TRUE(eventually([&] { return phase >= 1; }));
    bunch.wait_blocked();
    EXPECT_EQ(phase.load(), 1);
    // Thread unblocked
    lock.release();
    ASSERT_TRUE(eventually([&] { return phase >= 2; }));
    EXPECT_EQ(phase.load(), 2);
  }
}

// CPython: lock_tests.LockTests.test_different_thread
TYPED_TEST(LockTests, DifferentThread) {
  // Lock can be released from a different thread.
  typename TypeParam::Lock lock;
  lock.acquire();
  {
    Bunch bunch([&] { lock.release(); }, 1);
  }
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

// CPython: lock_tests.LockTests.test_state_after_timeout
TYPED_TEST(LockTests, StateAfterTimeout) {
  // Issue #11618: check that lock is in a proper state after a (non-zero) timeout.
  typename TypeParam::Lock lock;
  lock.acquire();
  EXPECT_FALSE(lock.acquire(10ms));
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
}

// ---- RLockTests -----------------------------------------------------------------

template <class T>
class RLockTests : public ::testing::Test {};
TYPED_TEST_SUITE(RLockTests, RecursiveLocks, LockNames);

// CPython: lock_tests.RLockTests.test_reacquire
TYPED_TEST(RLockTests, Reacquire) {
  typename TypeParam::Lock lock;
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.RLockTests.test_release_unacquired
TYPED_TEST(RLockTests, ReleaseUnacquired) {
  // Cannot release an unacquired lock
  using Error = typename TypeParam::Flavour::RLockReleaseError;
  typename TypeParam::Lock lock;
  EXPECT_THROW(lock.release(), Error);
  lock.acquire();
  lock.acquire();
  lock.release();
  lock.acquire();
  lock.release();
  lock.release();
  EXPECT_THROW(lock.release(), Error);
}

// CPython: lock_tests.RLockTests.test_locked
TYPED_TEST(RLockTests, Locked) {
  typename TypeParam::Lock lock;
  EXPECT_FALSE(lock.locked());
  lock.acquire();
  EXPECT_TRUE(lock.locked());
  lock.acquire();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// CPython: lock_tests.RLockTests.test_locked_with_2threads
TYPED_TEST(RLockTests, LockedWith2threads) {
  // see gh-134323: check that a rlock which is acquired in a different thread,
  // is still locked in the main thread.
  typename TypeParam::Lock rlock;
  std::atomic<int> before{-1}, after{-1};
  EXPECT_FALSE(rlock.locked());
  {
    Bunch bunch(
        [&] {
          before = rlock.locked();
          rlock.acquire();
          after = rlock.locked();
        },
        1);
  }
  EXPECT_TRUE(rlock.locked());
  EXPECT_EQ(before.load(), 0);
  EXPECT_EQ(after.load(), 1);
}

// CPython: lock_tests.RLockTests.test_recursion_count
TYPED_TEST(RLockTests, RecursionCount) {
  // Python's _recursion_count() is RLock::count().
  typename TypeParam::Lock lock;
  EXPECT_EQ(0u, lock.count());
  lock.acquire();
  EXPECT_EQ(1u, lock.count());
  lock.acquire();
  lock.acquire();
  EXPECT_EQ(3u, lock.count());
  lock.release();
  EXPECT_EQ(2u, lock.count());
  lock.release();
  lock.release();
  EXPECT_EQ(0u, lock.count());

  std::atomic<int> phase{0};
  auto f = [&] {
    lock.acquire();
    ++phase;
    EXPECT_TRUE(eventually([&] { return phase >= 2; }));
    lock.release();
    ++phase;
  };
  {
    Bunch bunch(f, 1);
    // Thread blocked on lock.acquire()
    ASSERT_TRUE(eventually([&] { return phase >= 1; }));
    EXPECT_EQ(0u, lock.count());
    // Thread unblocked
    ++phase;
    ASSERT_TRUE(eventually([&] { return phase >= 3; }));
    EXPECT_EQ(0u, lock.count());
  }
}

// CPython: lock_tests.RLockTests.test_different_thread
TYPED_TEST(RLockTests, DifferentThread) {
  // Cannot release from a different thread
  typename TypeParam::Lock lock;
  Bunch bunch([&] { lock.acquire(); }, 1, /*wait_before_exit=*/true);
  bunch.wait_for_finished();  // it holds the lock now (Python does not wait: either error fits)
  EXPECT_THROW(lock.release(), typename TypeParam::Flavour::RLockReleaseError);
  EXPECT_TRUE(lock.locked());
  bunch.do_finish();
}

// CPython: lock_tests.RLockTests.test__is_owned
TYPED_TEST(RLockTests, IsOwned) {
  // Python's _is_owned() is count() > 0.
  typename TypeParam::Lock lock;
  EXPECT_FALSE(lock.count() > 0);
  lock.acquire();
  EXPECT_TRUE(lock.count() > 0);
  lock.acquire();
  EXPECT_TRUE(lock.count() > 0);
  std::atomic<int> result{-1};
  {
    Bunch bunch([&] { result = lock.count() > 0 ? 1 : 0; }, 1);
  }
  EXPECT_EQ(result.load(), 0);
  lock.release();
  EXPECT_TRUE(lock.count() > 0);
  lock.release();
  EXPECT_FALSE(lock.count() > 0);
}

// ---- EventTests (threading.Event and multiprocessing.Event are one mpx::Event) ----

// CPython: lock_tests.EventTests.test_is_set
TEST(EventTests, IsSet) {
  mpx::Event evt;
  EXPECT_FALSE(evt.is_set());
  evt.set();
  EXPECT_TRUE(evt.is_set());
  evt.set();
  EXPECT_TRUE(evt.is_set());
  evt.clear();
  EXPECT_FALSE(evt.is_set());
  evt.clear();
  EXPECT_FALSE(evt.is_set());
}

namespace {

// CPython: lock_tests.EventTests._check_notify — all threads get notified.
void check_notify(mpx::Event& evt) {
  constexpr int N = 5;
  std::mutex mu;
  std::vector<bool> results1, results2;
  auto f = [&] {
    // wait() has no timeout in Python; a bound keeps a failure from hanging.
    bool r1 = evt.wait(mpx::test::kShortTimeout);
    {
      std::scoped_lock hold(mu);
      results1.push_back(r1);
    }
    bool r2 = evt.wait(mpx::test::kShortTimeout);
    std::scoped_lock hold(mu);
    results2.push_back(r2);
  };
  {
    Bunch bunch(f, N);
    // Threads blocked on first evt.wait()
    bunch.wait_blocked();
    {
      std::scoped_lock hold(mu);
      EXPECT_EQ(results1.size(), 0u);
    }
    // Threads unblocked
    evt.set();
  }
  EXPECT_EQ(results1, std::vector<bool>(N, true));
  EXPECT_EQ(results2, std::vector<bool>(N, true));
}

}  // namespace

// CPython: lock_tests.EventTests.test_notify
TEST(EventTests, Notify) {
  mpx::Event evt;
  check_notify(evt);
  // Another time, after an explicit clear()
  evt.set();
  evt.clear();
  check_notify(evt);
}

// CPython: lock_tests.EventTests.test_timeout
TEST(EventTests, Timeout) {
  mpx::Event evt;
  constexpr int N = 5;
  std::mutex mu;
  std::vector<bool> results1;
  std::vector<std::pair<bool, Seconds>> results2;
  auto f = [&] {
    bool r1 = evt.wait(0s);
    auto t1 = Clock::now();
    bool r = evt.wait(500ms);
    Seconds dt = Clock::now() - t1;
    std::scoped_lock hold(mu);
    results1.push_back(r1);
    results2.emplace_back(r, dt);
  };
  { Bunch bunch(f, N); }
  EXPECT_EQ(results1, std::vector<bool>(N, false));
  for (auto [r, dt] : results2) {
    EXPECT_FALSE(r);
    expect_timeout(dt, 500ms);
  }
  // The event is set
  results1.clear();
  results2.clear();
  evt.set();
  { Bunch bunch(f, N); }
  EXPECT_EQ(results1, std::vector<bool>(N, true));
  for (auto [r, dt] : results2) EXPECT_TRUE(r);
}

// CPython: lock_tests.EventTests.test_set_and_clear
TEST(EventTests, SetAndClear) {
  // gh-57711: check that wait() returns true even when the event is cleared
  // before the waiting thread is woken up.
  mpx::Event event;
  std::mutex mu;
  std::vector<bool> results;
  auto f = [&] {
    bool r = event.wait(5s);  // Python: support.LONG_TIMEOUT
    std::scoped_lock hold(mu);
    results.push_back(r);
  };
  constexpr int N = 5;
  {
    Bunch bunch(f, N);
    // Threads blocked on event.wait()
    bunch.wait_blocked();
    // Threads unblocked
    event.set();
    event.clear();
  }
  EXPECT_EQ(results, std::vector<bool>(N, true));
}
