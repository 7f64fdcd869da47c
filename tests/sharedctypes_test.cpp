// Value, Array, RawValue, RawArray: shared with fork children, locked as
// Python's synchronized wrappers are.
#include "mpx/sharedctypes.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include "mpx/process.hpp"

using namespace std::chrono_literals;

namespace {
struct Point {
  int x;
  double y;
};
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
  a.get_lock().release();
}

TEST(Value, SynchronizedWrapsARawValue) {
  mpx::RawValue<int> raw(7);
  mpx::Value<int> sync(raw);
  sync = 8;
  EXPECT_EQ(raw.value(), 8);
  EXPECT_EQ(sync.get_obj(), raw.get_obj());
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
  EXPECT_EQ(a.to_vector(), (std::vector<int>{10, 20, 30, 40}));
  EXPECT_EQ(a.get(2), 30);
  a.set(2, 33);
  EXPECT_EQ(a[2], 33);
  EXPECT_THROW(a.get(4), mpx::ValueError);
  EXPECT_THROW(a.set(9, 1), mpx::ValueError);
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
}

TEST(Array, RawArrayHasNoLockAndLockFalseToo) {
  mpx::RawArray<int> r(2);
  r[0] = 1;
  EXPECT_EQ(r.at(0), 1);
  mpx::Array<int> unlocked(2, false);
  EXPECT_THROW(unlocked.get_lock(), mpx::AttributeError);
  unlocked.set(1, 5);
  EXPECT_EQ(unlocked.get(1), 5);
}

TEST(Array, ZeroLengthIsAllowed) {
  mpx::Array<int> empty(std::size_t{0});
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.begin(), empty.end());
}
