// Value, Array, RawValue, RawArray: shared with fork children, locked as
// Python's synchronized wrappers are.
#include "mpx/sharedctypes.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <ranges>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "mpx/process.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;
using mpx::test::ChildGuard;
using mpx::test::run_in_child;

namespace {
struct Point {
  int x;
  double y;
};

using Ints = std::vector<int>;

/// Runs `fn` in a forked child while this process holds `lock`, and says
/// whether the child waited for it: it must reach fn, still be inside fn
/// 150 ms later with `unchanged()` still true, and finish once the lock is
/// released. (The child announces itself through a RawValue, so a slow fork
/// cannot pass for a wait.)
::testing::AssertionResult waits_for_lock(
    mpx::Lock& lock, const std::function<void()>& fn, const std::function<bool()>& unchanged = [] { return true; }) {
  mpx::RawValue<int> stage(0);  // 1: about to call fn; 2: fn returned
  lock.acquire();
  mpx::Process p([&] {
    stage = 1;
    fn();
    stage = 2;
  });
  ChildGuard guard;
  guard.add(p);
  p.start();
  for (int i = 0; i < 20000 && stage.value() == 0; ++i) std::this_thread::sleep_for(1ms);
  const int reached = stage.value();
  std::this_thread::sleep_for(150ms);
  const int after_wait = stage.value();
  const bool kept = unchanged();
  lock.release();
  if (!p.join(20s)) return ::testing::AssertionFailure() << "the child did not finish once the lock was released";
  if (p.exitcode() != 0) return ::testing::AssertionFailure() << "the child failed: exit code " << *p.exitcode();
  if (reached != 1) return ::testing::AssertionFailure() << "the child never reached the call";
  if (after_wait != 1) return ::testing::AssertionFailure() << "the call did not wait for the lock";
  if (!kept) return ::testing::AssertionFailure() << "the call changed the object without the lock";
  if (stage.value() != 2) return ::testing::AssertionFailure() << "the call did not complete";
  return ::testing::AssertionSuccess();
}
}  // namespace

TEST(Value, SharedWithAChild) {
  mpx::Value<int> v(5);
  mpx::RawValue<Point> p(Point{1, 2.5});
  mpx::Process child([&] {
    v = v.value() * 2;
    p = Point{p.value().x + 1, 0.5};
  });
  child.start();
  ASSERT_TRUE(child.join(20s));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(v.value(), 10);
  EXPECT_EQ(p.value().x, 2);
  EXPECT_EQ(p.value().y, 0.5);
}

TEST(Value, IncrementsUnderTheLockAreExact) {
  // CPython: _test_multiprocessing._TestValue / the seeds' shared counter.
  mpx::Value<long> counter(0);
  constexpr int kProcs = 3, kIters = 3000;
  std::vector<mpx::Process> procs;
  for (int i = 0; i < kProcs; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::scoped_lock hold(counter.get_lock());
        counter = counter.value() + 1;  // RLock: value() re-enters it
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(counter.value(), kProcs * kIters);
}

TEST(Value, WithoutALockHasNoGetLock) {
  mpx::Value<int> v(1, false);
  EXPECT_THROW(v.get_lock(), mpx::AttributeError);
  v = 3;
  EXPECT_EQ(v.value(), 3);
  mpx::RLock shared;
  mpx::Value<int> a(0, shared), b(0, shared);
  EXPECT_TRUE(a.get_lock().acquire(false));
  std::thread([&] { EXPECT_FALSE(b.get_lock().acquire(false)); }).join();  // the same lock
  EXPECT_EQ(shared.count(), 1u);
  a.get_lock().release();
}

TEST(Value, SynchronizedWrapsARawValue) {
  mpx::RawValue<int> raw(7);
  mpx::Value<int> sync(raw);
  sync = 8;
  EXPECT_EQ(raw.value(), 8);
  EXPECT_EQ(sync.get_obj(), raw.get_obj());
  mpx::Lock lock;  // synchronized(raw, lock)
  mpx::Value<int> with_lock(raw, lock);
  ASSERT_TRUE(lock.acquire(false));
  EXPECT_TRUE(with_lock.get_lock().locked());
  lock.release();
}

// Python: Value('i', 0, lock=Lock()) — any lock, and get_lock() is that lock.
TEST(Value, TakesAPlainLockAndGetLockIsIt) {
  mpx::Lock lock;
  mpx::Value<int> v(4, lock);
  mpx::Lock& got = v.get_lock();
  EXPECT_EQ(v.value(), 4);  // not held: value() takes and gives it back
  ASSERT_TRUE(lock.acquire(false));
  EXPECT_TRUE(got.locked());
  EXPECT_FALSE(got.acquire(false));  // a plain Lock: not re-entrant
  // Held for another process too.
  EXPECT_EQ(run_in_child([&] {
              if (v.get_lock().acquire(false)) mpx::exit(3);
            }),
            0);
  got.release();  // a plain Lock: anyone may release it, as in Python
  EXPECT_FALSE(lock.locked());
  // Two objects can share one lock (Python: lock=v.get_lock()).
  mpx::Value<double> w(0.5, v.get_lock());
  ASSERT_TRUE(w.get_lock().acquire(false));
  EXPECT_TRUE(lock.locked());
  lock.release();
}

// Python's documented idiom with a plain Lock: hold it, and go through
// get_obj() (value would take the lock again).
TEST(Value, PlainLockIncrementsThroughGetObjAreExact) {
  mpx::Lock lock;
  mpx::Value<long> counter(0, lock);
  constexpr int kProcs = 3, kIters = 2000;
  std::vector<mpx::Process> procs;
  ChildGuard guard;
  for (int i = 0; i < kProcs; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::scoped_lock hold(counter.get_lock());
        *counter.get_obj() += 1;
      }
    });
    guard.add(procs.back());
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(counter.value(), kProcs * kIters);
}

// CPython (3.13) deadlocks in `with v.get_lock(): v.value += 1` when v was
// made with lock=Lock(): the value property acquires the lock the caller
// holds. mpx does the same (it does not guess); the child here blocks until
// it is killed, and the lock it held passes to the next acquirer.
TEST(Value, ValueUnderAHeldPlainLockDeadlocksAsInPython) {
  mpx::Lock lock;
  mpx::Value<int> v(0, lock);
  mpx::RawValue<int> reached(0);
  mpx::Process child([&] {
    std::scoped_lock hold(v.get_lock());
    reached = 1;
    v = v.value() + 1;  // waits for itself
    reached = 2;
  });
  ChildGuard guard;
  guard.add(child);
  child.start();
  for (int i = 0; i < 20000 && reached.value() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(reached.value(), 1);
  EXPECT_FALSE(child.join(300ms));
  EXPECT_EQ(reached.value(), 1);
  child.kill();
  ASSERT_TRUE(child.join(20s));
  EXPECT_EQ(v.value(), 0);  // the dead holder's lock is taken over
  EXPECT_TRUE(lock.owner_died());
}

TEST(Value, ValueAndAssignmentWaitForTheLock) {
  for (bool plain : {false, true}) {
    SCOPED_TRACE(plain ? "Lock" : "RLock");
    mpx::Value<int> v = plain ? mpx::Value<int>(1, mpx::Lock()) : mpx::Value<int>(1);
    EXPECT_TRUE(waits_for_lock(
        v.get_lock(), [&] { v = 2; }, [&] { return *v.get_obj() == 1; }));
    EXPECT_EQ(v.value(), 2);
    EXPECT_TRUE(waits_for_lock(v.get_lock(), [&] {
      if (v.value() != 2) mpx::exit(3);
    }));
  }
}

// Python: Value('i', 5, lock='navalue') raises AttributeError. In mpx only
// true, false and a Lock or RLock are lock arguments: anything else fails to
// compile (tests/compile_fail/value_lock_not_a_lock.cpp checks the message).
TEST(Value, LockArgumentsAreCheckedAtCompileTime) {
  using V = mpx::Value<int>;
  static_assert(std::is_constructible_v<V>);
  static_assert(std::is_constructible_v<V, int>);
  static_assert(std::is_constructible_v<V, int, bool>);
  static_assert(std::is_constructible_v<V, int, mpx::Lock&>);
  static_assert(std::is_constructible_v<V, int, const mpx::RLock&>);
  static_assert(std::is_constructible_v<V, int, mpx::RLock>);
  static_assert(!std::is_constructible_v<V, int, const char(&)[8]>);  // "navalue"
  static_assert(!std::is_constructible_v<V, int, const char*>);
  static_assert(!std::is_constructible_v<V, int, std::string>);
  static_assert(!std::is_constructible_v<V, int, int*>);
  static_assert(!std::is_constructible_v<V, int, int>);  // not a bool in disguise
  static_assert(!std::is_constructible_v<V, int, mpx::Semaphore&>);
  using A = mpx::Array<int>;
  static_assert(std::is_constructible_v<A, int, bool>);
  static_assert(std::is_constructible_v<A, std::initializer_list<int>, mpx::Lock&>);
  static_assert(std::is_constructible_v<A, std::vector<int>&, const mpx::RLock&>);
  static_assert(!std::is_constructible_v<A, int, const char(&)[9]>);  // "notalock"
  static_assert(!std::is_constructible_v<A, std::vector<int>&, const char*>);
  // What does compile keeps its meaning.
  EXPECT_NO_THROW(V(5).get_lock());
  EXPECT_NO_THROW(V(5, true).get_lock());
  EXPECT_THROW(V(5, false).get_lock(), mpx::AttributeError);
}

TEST(Array, SizeIndexIterationAndSharing) {
  mpx::Array<int> a{1, 2, 3, 4};
  EXPECT_EQ(a.size(), 4u);
  mpx::Array<double> zeros(3);
  for (double d : zeros) EXPECT_EQ(d, 0.0);
  mpx::Process child([&] {
    std::scoped_lock hold(a.get_lock());
    for (auto& x : a) x *= 10;
  });
  child.start();
  ASSERT_TRUE(child.join(20s));
  EXPECT_EQ(a.to_vector(), (Ints{10, 20, 30, 40}));
  EXPECT_EQ(a.get(2), 30);
  a.set(2, 33);
  EXPECT_EQ(a[2], 33);
  EXPECT_THROW(a.get(4), mpx::IndexError);
  EXPECT_THROW(a.set(9, 1), mpx::IndexError);
}

// Python: arr[-1], arr[-n]; IndexError("invalid index") outside [-n, n).
TEST(Array, NegativeIndexesAndIndexError) {
  mpx::Array<int> a{10, 20, 30, 40};
  EXPECT_EQ(a.get(-1), 40);
  EXPECT_EQ(a.get(-4), 10);
  a.set(-2, 33);
  EXPECT_EQ(a.get(2), 33);
  EXPECT_EQ(a.get(std::size_t{3}), 40);  // any integer type
  EXPECT_EQ(a.get(short{1}), 20);
  EXPECT_EQ(a.get(3u), 40);
  EXPECT_THROW(a.get(4), mpx::IndexError);
  EXPECT_THROW(a.get(-5), mpx::IndexError);
  EXPECT_THROW(a.set(-5, 1), mpx::IndexError);
  EXPECT_THROW(a.get(std::numeric_limits<long long>::min()), mpx::IndexError);
  EXPECT_THROW(a.get(std::numeric_limits<std::size_t>::max()), mpx::IndexError);
  try {
    a.get(4);
  } catch (const mpx::IndexError& e) {
    EXPECT_STREQ(e.what(), "invalid index");
  }
  mpx::RawArray<int> r{1, 2, 3};
  EXPECT_EQ(r.at(-1), 3);
  r.at(-3) = 7;
  EXPECT_EQ(r[0], 7);
  EXPECT_THROW(r.at(3), mpx::IndexError);
  EXPECT_THROW(r.at(-4), mpx::IndexError);
  mpx::Array<int> empty(std::size_t{0});
  EXPECT_THROW(empty.get(0), mpx::IndexError);
  EXPECT_THROW(empty.get(-1), mpx::IndexError);
}

// The values are CPython 3.13's for a = Array('i', range(10)).
TEST(Array, SlicesAsPython) {
  mpx::Array<int> a(std::views::iota(0, 10));
  EXPECT_EQ(a.slice(2, 5), (Ints{2, 3, 4}));          // a[2:5]
  EXPECT_EQ(a.slice(-3, a.size()), (Ints{7, 8, 9}));  // a[-3:]
  EXPECT_EQ(a.slice(5, 2), Ints{});                   // a[5:2]
  EXPECT_EQ(a.slice(-100, 3), (Ints{0, 1, 2}));       // a[-100:3]
  EXPECT_EQ(a.slice(8, 100), (Ints{8, 9}));           // a[8:100]
  EXPECT_EQ(a.slice(0, -8), (Ints{0, 1}));            // a[:-8]

  // a[0:3] = [1, 2]: ValueError, and nothing is written.
  try {
    a.set_slice(0, 3, {1, 2});
    ADD_FAILURE() << "no ValueError";
  } catch (const mpx::ValueError& e) {
    EXPECT_STREQ(e.what(), "Can only assign sequence of same size");
  }
  EXPECT_EQ(a.to_vector(), (Ints{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  a.set_slice(-2, 10, {7, 8});  // a[-2:] = [7, 8]
  EXPECT_EQ(a.to_vector(), (Ints{0, 1, 2, 3, 4, 5, 6, 7, 7, 8}));
  a.set_slice(5, 2, {});  // a[5:2] = []
  EXPECT_EQ(a.to_vector(), (Ints{0, 1, 2, 3, 4, 5, 6, 7, 7, 8}));
  EXPECT_THROW(a.set_slice(5, 2, {1}), mpx::ValueError);

  // Any sized or input range of convertible values; a slice of itself too.
  a.set_slice(0, 3, std::list<long>{30, 31, 32});
  a.set_slice(3, 5, std::views::iota(3, 5));
  a.set_slice(1, 4, a.slice(0, 3));  // overlapping: the right side is read first, as in Python
  EXPECT_EQ(a.slice(0, 5), (Ints{30, 30, 31, 32, 4}));

  // The same on a RawArray, without a lock.
  mpx::RawArray<int> r(std::views::iota(0, 4));
  EXPECT_EQ(r.slice(-2, 4), (Ints{2, 3}));
  r.set_slice(-2, 4, std::vector<int>{9, 9});
  EXPECT_EQ(r.to_vector(), (Ints{0, 1, 9, 9}));
  EXPECT_THROW(r.set_slice(0, 1, {1, 2}), mpx::ValueError);
}

TEST(Array, SliceAssignmentInAChild) {
  mpx::Array<int> a(6);
  EXPECT_EQ(run_in_child([&] { a.set_slice(-3, 6, {7, 8, 9}); }), 0);
  EXPECT_EQ(a.slice(0, 6), (Ints{0, 0, 0, 7, 8, 9}));
  EXPECT_EQ(run_in_child([&] {
              if (a.slice(3, 100) != Ints{7, 8, 9}) mpx::exit(3);
            }),
            0);
}

// Python's SynchronizedArray takes the lock for items and slices, and
// SynchronizedString for .value and .raw as well: a child that calls them
// waits while this process holds the lock.
TEST(Array, EveryAccessorWaitsForTheLock) {
  mpx::Array<int> a{1, 2, 3, 4};
  auto untouched = [&] { return a.get_obj().to_vector() == Ints{1, 2, 3, 4}; };
  EXPECT_TRUE(waits_for_lock(a.get_lock(), [&] { (void)a.get(0); }));
  EXPECT_TRUE(waits_for_lock(a.get_lock(), [&] { (void)a.slice(0, 2); }));
  EXPECT_TRUE(waits_for_lock(a.get_lock(), [&] { (void)a.to_vector(); }));
  EXPECT_TRUE(waits_for_lock(
      a.get_lock(), [&] { a.set(-1, 40); }, untouched));
  a.set(-1, 4);
  EXPECT_TRUE(waits_for_lock(
      a.get_lock(),
      [&] {
        a.set_slice(0, 2, {10, 20});
      },
      untouched));
  EXPECT_EQ(a.to_vector(), (Ints{10, 20, 3, 4}));

  mpx::Lock lock;  // a char array with a plain Lock
  mpx::Array<char> s(8, lock);
  s.set_value("hi");
  auto still_hi = [&] { return s.get_obj().value() == "hi"; };
  EXPECT_TRUE(waits_for_lock(lock, [&] { (void)s.value(); }));
  EXPECT_TRUE(waits_for_lock(lock, [&] { (void)s.raw(); }));
  EXPECT_TRUE(waits_for_lock(
      lock, [&] { s.set_value("hello"); }, still_hi));
  EXPECT_EQ(s.value(), "hello");
}

TEST(Array, CharArrayValueAndRaw) {
  // CPython: _test_multiprocessing._TestArray (c_char arrays' value and raw).
  mpx::Array<char> s(8);
  s.set_value("hi");
  EXPECT_EQ(s.value(), "hi");
  EXPECT_EQ(s.raw(), std::string("hi\0\0\0\0\0\0", 8));
  s.set_value("12345678");  // exactly full: no terminator
  EXPECT_EQ(s.value(), "12345678");
  EXPECT_THROW(s.set_value("123456789"), mpx::ValueError);
  EXPECT_EQ(s.value(), "12345678");  // a failed set writes nothing
}

TEST(Array, RawArrayHasNoLockAndLockFalseToo) {
  mpx::RawArray<int> r(2);
  r[0] = 1;
  EXPECT_EQ(r.at(0), 1);
  mpx::Array<int> unlocked(2, false);
  EXPECT_THROW(unlocked.get_lock(), mpx::AttributeError);
  unlocked.set(1, 5);
  EXPECT_EQ(unlocked.get(1), 5);
  EXPECT_EQ(unlocked.slice(0, 2), (Ints{0, 5}));
}

// Python: Array(tc, init, lock=True / False / a Lock or RLock), as for Value.
TEST(Array, TakesTheSameLockArgumentsAsValue) {
  mpx::Lock lock;
  mpx::Array<int> sized(4, lock);
  mpx::Array<int> listed({1, 2, 3}, lock);
  mpx::Array<int> ranged(std::views::iota(0, 3), lock);
  mpx::Value<int> value(0, lock);  // one lock for several objects
  ASSERT_TRUE(lock.acquire(false));
  for (mpx::Lock* l : {&sized.get_lock(), &listed.get_lock(), &ranged.get_lock(), &value.get_lock()}) {
    EXPECT_TRUE(l->locked());
    EXPECT_FALSE(l->acquire(false));  // a plain Lock
  }
  EXPECT_EQ(run_in_child([&] {
              if (listed.get_lock().acquire(false)) mpx::exit(3);
            }),
            0);
  lock.release();
  EXPECT_EQ(listed.to_vector(), (Ints{1, 2, 3}));  // free again: no deadlock

  mpx::RLock rlock;
  mpx::Array<int> with_rlock(std::vector<int>{5, 6}, rlock);
  ASSERT_TRUE(with_rlock.get_lock().acquire(false));
  EXPECT_EQ(rlock.count(), 1u);
  EXPECT_EQ(with_rlock.get(0), 5);  // re-enters the RLock
  with_rlock.get_lock().release();
  EXPECT_EQ(rlock.count(), 0u);

  for (bool on : {true, false}) {
    mpx::Array<int> a(2, on), b({1, 2}, on), c(std::span<const int>(Ints{1, 2}), on);
    if (on) {
      ASSERT_TRUE(a.get_lock().acquire(false));
      EXPECT_TRUE(a.get_lock().acquire(false));  // lock=true: a new RLock
      EXPECT_EQ(a.get(0), 0);
      a.get_lock().release();
      a.get_lock().release();
      EXPECT_FALSE(b.get_lock().locked());
      EXPECT_FALSE(c.get_lock().locked());
    } else {
      EXPECT_THROW(a.get_lock(), mpx::AttributeError);
      EXPECT_THROW(b.get_lock(), mpx::AttributeError);
      EXPECT_THROW(c.get_lock(), mpx::AttributeError);
    }
  }
}

// Python: arr.get_obj() is the wrapped ctypes array: the same elements, no lock.
TEST(Array, GetObjIsTheUnsynchronizedArray) {
  mpx::Lock lock;
  mpx::Array<int> a({1, 2, 3}, lock);
  static_assert(std::is_same_v<decltype(a.get_obj()), mpx::RawArray<int>&>);
  mpx::RawArray<int>& raw = a.get_obj();
  EXPECT_EQ(raw.data(), a.data());
  EXPECT_EQ(raw.size(), 3u);
  {
    // Under the held plain Lock, a.get()/set() would wait for themselves;
    // the raw array does not lock.
    std::scoped_lock hold(a.get_lock());
    raw[0] = 10;
    raw.at(-1) = 30;
    raw.set_slice(1, 2, {20});
    EXPECT_EQ(raw.to_vector(), (Ints{10, 20, 30}));
  }
  EXPECT_EQ(a.to_vector(), (Ints{10, 20, 30}));

  mpx::Array<char> s(8, lock);
  {
    std::scoped_lock hold(s.get_lock());
    s.get_obj().set_value("hi");
    EXPECT_EQ(s.get_obj().value(), "hi");
  }
  EXPECT_EQ(s.value(), "hi");

  const mpx::Array<int> unlocked(2, false);  // mpx keeps get_obj() here (Python has none)
  EXPECT_EQ(unlocked.get_obj().data(), unlocked.data());

  // Exact increments from several processes through get_obj() under the lock.
  mpx::Array<long> counters(2, lock);
  constexpr int kProcs = 3, kIters = 1000;
  std::vector<mpx::Process> procs;
  ChildGuard guard;
  for (int i = 0; i < kProcs; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::scoped_lock hold(counters.get_lock());
        counters.get_obj()[1] += 1;
      }
    });
    guard.add(procs.back());
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(counters.get(1), kProcs * kIters);
}

// Python: Array('i', range(10)) — any iterable. mpx: any input range of
// values convertible to T, with the same lock arguments.
TEST(Array, FromAnyInputRange) {
  mpx::Array<int> from_iota(std::views::iota(0, 5));
  EXPECT_EQ(from_iota.to_vector(), (Ints{0, 1, 2, 3, 4}));
  mpx::Array<int> from_list(std::list<short>{3, 1, 4});
  EXPECT_EQ(from_list.to_vector(), (Ints{3, 1, 4}));
  std::istringstream in("2 7 1 8");  // an input range: read once, size unknown
  mpx::Array<int> from_stream(std::views::istream<int>(in), false);
  EXPECT_EQ(from_stream.to_vector(), (Ints{2, 7, 1, 8}));
  EXPECT_THROW(from_stream.get_lock(), mpx::AttributeError);
  auto squares = std::views::iota(1, 4) | std::views::transform([](int i) { return i * i; });
  mpx::Array<double> from_view(squares);
  EXPECT_EQ(from_view.to_vector(), (std::vector<double>{1, 4, 9}));
  mpx::RawArray<int> raw(std::views::iota(0, 3));
  EXPECT_EQ(raw.to_vector(), (Ints{0, 1, 2}));
  mpx::Array<char> text(std::string("abc"));
  EXPECT_EQ(text.raw(), "abc");
  mpx::Array<int> empty(std::views::iota(0, 0));
  EXPECT_EQ(empty.size(), 0u);

  // Copies are handles, not a new array from a range.
  mpx::Array<int> copy(from_iota);
  copy.set(0, 50);
  EXPECT_EQ(from_iota.get(0), 50);
  mpx::RawArray<int> raw_copy(raw);
  raw_copy[0] = 60;
  EXPECT_EQ(raw[0], 60);

  // Shared with a child like any other array.
  EXPECT_EQ(run_in_child([&] { from_list.set(1, 10); }), 0);
  EXPECT_EQ(from_list.to_vector(), (Ints{3, 10, 4}));
}

TEST(Array, ZeroLengthIsAllowed) {
  mpx::Array<int> empty(std::size_t{0});
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_EQ(empty.slice(0, 10), Ints{});
  empty.set_slice(-5, 5, {});
}
