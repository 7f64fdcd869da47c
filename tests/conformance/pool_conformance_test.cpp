// Ports of CPython's Lib/test/_test_multiprocessing.py's _TestPool for
// mpx/pool.hpp (python/cpython v3.13.0). This is the 'processes' type: every
// Pool is mpx::Pool with real worker processes (the default start method,
// fork). Python's class-wide self.pool = Pool(4) is one Pool(4) per test here:
// the leak guard checks every test on its own. The workers' errors, lifetime
// and initializers are pool_worker_conformance_test.cpp's; what both share is
// conformance/pool_conformance.hpp.
//
// Ported (Python test -> TEST in suite PoolConformance):
//   _TestPool.test_apply                         Apply (no keyword arguments in C++: apply(sqr, 3))
//   _TestPool.test_map                           Map
//   _TestPool.test_starmap                       Starmap
//   _TestPool.test_starmap_async                 StarmapAsync
//   _TestPool.test_map_async                     MapAsync
//   _TestPool.test_map_async_callbacks           MapAsyncCallbacks (int('a') -> a parser raising ValueError)
//   _TestPool.test_map_unplicklable              MapUnplicklable (an item whose serialize() throws:
//                                                a type that cannot be encoded at all does not compile)
//   _TestPool.test_map_chunksize                 MapChunksize
//   _TestPool.test_map_handle_iterable_exception MapHandleIterableException (a generator -> an input
//                                                range whose iterator throws)
//   _TestPool.test_async                         Async
//   _TestPool.test_async_timeout                 AsyncTimeout
//   _TestPool.test_imap                          Imap (StopIteration -> next() returns nullopt)
//   _TestPool.test_imap_handle_iterable_exception
//                                                ImapHandleIterableException (mpx gap: skipped, see there)
//   _TestPool.test_imap_unordered                ImapUnordered
//   _TestPool.test_imap_unordered_handle_iterable_exception
//                                                ImapUnorderedHandleIterableException (mpx gap: skipped)
//   _TestPool.test_make_pool                     MakePool (len(p._pool) -> workers().size())
//   _TestPool.test_terminate                     Terminate (Python's sleep(0.2) "give some tasks a
//                                                chance to start" -> an Event the first task sets)
//   _TestPool.test_empty_iterable                EmptyIterable
//   _TestPool.test_context                       Context (`with` -> the Pool's scope; its exit is
//                                                terminate(), then join() is allowed)
//   _TestPool.test_traceback                     Traceback (the exception's type and message; C++
//                                                has no traceback: a non-standard type arrives as
//                                                RemoteError naming it, which is checked instead)
//   _TestPool.test_wrapped_exception             WrappedException
//   _TestPool.test_map_no_failfast               MapNoFailfast (without the finally's sleep(0.5): it
//                                                only gave the failing job time to fill the pipe)
//   _TestPool.test_release_task_refs             ReleaseTaskRefs (weakrefs -> a count of the live
//                                                objects in the parent)
//
// Not ported, and why:
//   _TestPool.test_enter                         bpo-35477: `with pool:` on a pool that is no longer
//                                                running raises ValueError. C++ has no __enter__: a
//                                                Pool's scope is entered once, when it is made.
//   _TestPool.test_resource_warning              ResourceWarning from __del__ of a running pool; C++
//                                                has no such warning (~Pool terminates the pool).
//   TestSyncManagerTypes.test_pool, the 'manager' type of _TestPool
//                                                multiprocessing.managers is not part of mpx.
//   the 'threads' type of _TestPool              multiprocessing.dummy.Pool (ThreadPool): not mpx::Pool.
//
// Timing: Python's assertTimingAlmostEqual is a no-op (CHECK_TIMINGS is off);
// here a timed-out call takes at least its timeout (less kClockRes). Every
// wait that should not time out is bounded by kLong; tasks that sleep do so
// as their work (Python's sqr(x, wait)), never to synchronise the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "conformance/pool_conformance.hpp"
#include "mpx/errors.hpp"
#include "mpx/pool.hpp"
#include "mpx/synchronize.hpp"

using namespace std::chrono_literals;
using namespace mpx::test::pool_conformance;
using Clock = std::chrono::steady_clock;

namespace {

// _test_multiprocessing's constants (CHECK_TIMINGS off).
constexpr auto TIMEOUT1 = 100ms, TIMEOUT2 = 100ms;
// A timed-out call takes at least its timeout, less this.
constexpr auto kClockRes = 10ms;

template <class F>
Clock::duration timed(F&& f) {
  auto t0 = Clock::now();
  f();
  return Clock::now() - t0;
}

std::vector<int> sqr_all(const std::vector<int>& xs) {
  std::vector<int> out;
  for (int x : xs) out.push_back(sqr(x));
  return out;
}

int mul(int x, int y) { return x * y; }

// Python: int(s) — ValueError for "a".
int parse_int(std::string s) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    throw mpx::ValueError("invalid literal for int() with base 10: '" + s + "'");
  }
  return v;
}

int raise_large_valuerror(double wait) {
  std::this_thread::sleep_for(std::chrono::duration<double>(wait));  // the task's work
  throw mpx::ValueError(std::string(1024 * 1024, 'x'));
}

// Python: CountedObject — counts the instances alive in this process. A
// moved-from object is not one (Python has no moves; a C++ move hands the
// object on).
struct CountedObject {
  static inline std::atomic<int> n_instances{0};
  int payload = 0;  // something to encode (the codec refuses a vector of empty things)
  bool live = true;

  CountedObject() { ++n_instances; }
  CountedObject(const CountedObject& o) : payload(o.payload), live(o.live) {
    if (live) ++n_instances;
  }
  CountedObject(CountedObject&& o) noexcept : payload(o.payload), live(std::exchange(o.live, false)) {}
  CountedObject& operator=(const CountedObject& o) {
    if (live && !o.live) --n_instances;
    if (!live && o.live) ++n_instances;
    payload = o.payload;
    live = o.live;
    return *this;
  }
  CountedObject& operator=(CountedObject&& o) noexcept {
    if (live) --n_instances;
    payload = o.payload;
    live = std::exchange(o.live, false);
    return *this;
  }
  ~CountedObject() {
    if (live) --n_instances;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(payload);
  }
};

CountedObject identity(CountedObject x) { return x; }

// Python: class SayWhenError(ValueError).
struct SayWhenError : mpx::ValueError {
  SayWhenError() : mpx::ValueError("Somebody said when") {}
};

// Python: exception_throwing_generator(total, when) — an input range whose
// iterator raises SayWhenError where the generator would: at the first
// next() if when == -1, else on reaching item `when`.
struct ExceptionThrowingGenerator {
  ExceptionThrowingGenerator(int total, int when) : total_(total), when_(when) {}

  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const ExceptionThrowingGenerator* g, int i) : g_(g), i_(i) { check(); }
    int operator*() const { return i_; }
    iterator& operator++() {
      ++i_;
      check();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return it.i_ >= it.g_->total_; }

   private:
    void check() const {
      if (g_->when_ == -1 || (i_ < g_->total_ && i_ == g_->when_)) throw SayWhenError();
    }
    const ExceptionThrowingGenerator* g_ = nullptr;
    int i_ = 0;
  };
  iterator begin() const { return iterator(this, 0); }
  std::default_sentinel_t end() const { return {}; }

  int total_;
  int when_;
};
static_assert(std::ranges::input_range<ExceptionThrowingGenerator>);

// Python's SpecialIterable: __len__ is 1, __next__ raises SayWhenError.
class SpecialIterable {
 public:
  class iterator {
   public:
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int operator*() const { throw SayWhenError(); }
    iterator& operator++() { throw SayWhenError(); }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator&, std::default_sentinel_t) { return false; }
  };
  iterator begin() const { return {}; }
  std::default_sentinel_t end() const { return {}; }
  std::size_t size() const { return 1; }
};
static_assert(std::ranges::input_range<SpecialIterable> && std::ranges::sized_range<SpecialIterable>);

// Python: RuntimeError(123) raised by _test_traceback / RuntimeError('foo').
void raise_runtime_123() { throw mpx::RuntimeError("123"); }
void raise_runtime_foo() { throw mpx::RuntimeError("foo"); }
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void raise_user_error() { throw UserError("123"); }

// Python: time.sleep as a map function (test_terminate). The first call says
// so through an Event the workers inherited (the pool forks them).
mpx::Event* g_task_started = nullptr;
void long_sleep(double seconds) {
  if (g_task_started) g_task_started->set();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the task's work
}

}  // namespace

// ---- _TestPool -------------------------------------------------------------------

// Python: _TestPool.test_apply
TEST(PoolConformance, Apply) {
  mpx::Pool pool(4);
  EXPECT_EQ(pool.apply(sqr, 5), sqr(5));
  EXPECT_EQ(pool.apply(sqr, 3), sqr(3));  // Python: papply(sqr, (), {'x': 3})
}

// Python: _TestPool.test_map
TEST(PoolConformance, Map) {
  mpx::Pool pool(4);
  EXPECT_EQ(pool.map(sqr, range(10)), sqr_all(range(10)));
  EXPECT_EQ(pool.map({.chunksize = 20}, sqr, range(100)), sqr_all(range(100)));
}

namespace {
std::vector<std::tuple<int, int>> zip_down(int n) {  // zip(range(n), range(n-1, -1, -1))
  std::vector<std::tuple<int, int>> t;
  for (int i = 0; i < n; ++i) t.emplace_back(i, n - 1 - i);
  return t;
}
std::vector<int> starmap_mul(const std::vector<std::tuple<int, int>>& t) {
  std::vector<int> out;
  for (auto [x, y] : t) out.push_back(mul(x, y));
  return out;
}
}  // namespace

// Python: _TestPool.test_starmap
TEST(PoolConformance, Starmap) {
  mpx::Pool pool(4);
  auto tuples = zip_down(10);
  EXPECT_EQ(pool.starmap(mul, tuples), starmap_mul(tuples));
  tuples = zip_down(100);
  EXPECT_EQ(pool.starmap({.chunksize = 20}, mul, tuples), starmap_mul(tuples));
}

// Python: _TestPool.test_starmap_async
TEST(PoolConformance, StarmapAsync) {
  mpx::Pool pool(4);
  auto tuples = zip_down(100);
  EXPECT_EQ(pool.starmap_async(mul, tuples).get(kLong), starmap_mul(tuples));
}

// Python: _TestPool.test_map_async
TEST(PoolConformance, MapAsync) {
  mpx::Pool pool(4);
  EXPECT_EQ(pool.map_async(sqr, range(10)).get(kLong), sqr_all(range(10)));
}

// Python: _TestPool.test_map_async_callbacks
TEST(PoolConformance, MapAsyncCallbacks) {
  mpx::Pool pool(4);
  std::vector<std::variant<std::vector<int>, std::exception_ptr>> call_args;
  auto append = [&](const std::vector<int>& v) { call_args.emplace_back(v); };
  auto append_error = [&](std::exception_ptr e) { call_args.emplace_back(e); };
  EXPECT_TRUE(
      pool.map_async({.callback = append, .error_callback = append_error}, parse_int, std::vector<std::string>{"1"})
          .wait(kLong));
  ASSERT_EQ(call_args.size(), 1u);
  ASSERT_EQ(call_args[0].index(), 0u);
  EXPECT_EQ(std::get<0>(call_args[0]), std::vector<int>{1});
  EXPECT_TRUE(
      pool.map_async({.callback = append, .error_callback = append_error}, parse_int, std::vector<std::string>{"a"})
          .wait(kLong));
  ASSERT_EQ(call_args.size(), 2u);
  ASSERT_EQ(call_args[1].index(), 1u);
  EXPECT_THROW(std::rethrow_exception(std::get<1>(call_args[1])), mpx::ValueError);
}

// Python: _TestPool.test_map_unplicklable — issue #19425: failure to pickle
// should not cause a hang. The item's serialize() throws in the parent: map
// raises it, and the pool goes on.
TEST(PoolConformance, MapUnplicklable) {
  mpx::Pool pool(4);
  EXPECT_THROW(pool.map([](Unpicklable a) { return a.value; }, std::vector<Unpicklable>(10)), std::runtime_error);
  EXPECT_EQ(pool.map(sqr, range(10)), sqr_all(range(10)));
}

// Python: _TestPool.test_map_chunksize
TEST(PoolConformance, MapChunksize) {
  mpx::Pool pool(4);
  EXPECT_NO_THROW(pool.map_async({.chunksize = 1}, sqr, std::vector<int>{}).get(TIMEOUT1))
      << "pool.map_async with chunksize stalled on null list";
}

// Python: _TestPool.test_map_handle_iterable_exception
TEST(PoolConformance, MapHandleIterableException) {
  mpx::Pool pool(4);
  // SayWhenError seen at the very first of the iterable
  EXPECT_THROW(pool.map({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1)), SayWhenError);
  // again, make sure it's reentrant
  EXPECT_THROW(pool.map({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1)), SayWhenError);
  EXPECT_THROW(pool.map({.chunksize = 1}, sqr, ExceptionThrowingGenerator(10, 3)), SayWhenError);
  EXPECT_THROW(pool.map({.chunksize = 1}, sqr, SpecialIterable()), SayWhenError);
  EXPECT_THROW(pool.map({.chunksize = 1}, sqr, SpecialIterable()), SayWhenError);
  // The pool is still usable.
  EXPECT_EQ(pool.map(sqr, range(10)), sqr_all(range(10)));
}

// Python: _TestPool.test_async
TEST(PoolConformance, Async) {
  mpx::Pool pool(4);
  auto res = pool.apply_async(sqr_wait, 7, std::chrono::duration<double>(TIMEOUT1).count());
  int got = 0;
  auto elapsed = timed([&] { got = res.get(kLong); });
  EXPECT_EQ(got, 49);
  EXPECT_GE(elapsed, TIMEOUT1 - kClockRes);
}

// Python: _TestPool.test_async_timeout
TEST(PoolConformance, AsyncTimeout) {
  mpx::Pool p(3);
  auto res = p.apply_async(sqr_wait, 6, 1.0);
  auto elapsed = timed([&] { EXPECT_THROW(res.get(TIMEOUT2), mpx::TimeoutError); });
  EXPECT_GE(elapsed, TIMEOUT2 - kClockRes);
  p.terminate();
  p.join();
  // Beyond Python (whose get() would wait for ever): the terminated task fails.
  EXPECT_THROW(res.get(kLong), mpx::ProcessError);
}

// Python: _TestPool.test_imap
TEST(PoolConformance, Imap) {
  mpx::Pool pool(4);
  {
    std::vector<int> got;
    for (int v : pool.imap(sqr, range(10))) got.push_back(v);
    EXPECT_EQ(got, sqr_all(range(10)));
  }
  {
    auto it = pool.imap(sqr, range(10));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(it.next(kLong), i * i);
    EXPECT_EQ(it.next(kLong), std::nullopt);  // StopIteration
  }
  {
    auto it = pool.imap({.chunksize = 100}, sqr, range(1000));
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(it.next(kLong), i * i);
    EXPECT_EQ(it.next(kLong), std::nullopt);
  }
}

// Python: _TestPool.test_imap_handle_iterable_exception
TEST(PoolConformance, ImapHandleIterableException) {
  mpx::Pool pool(4);
  // SayWhenError seen at the very first of the iterable
  {
    auto it = pool.imap({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1));
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  // again, make sure it's reentrant
  {
    auto it = pool.imap({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1));
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  {
    auto it = pool.imap({.chunksize = 1}, sqr, ExceptionThrowingGenerator(10, 3));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(it.next(kLong), i * i);
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  // SayWhenError seen at start of problematic chunk's results
  {
    auto it = pool.imap({.chunksize = 2}, sqr, ExceptionThrowingGenerator(20, 7));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(it.next(kLong), i * i);
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  {
    auto it = pool.imap({.chunksize = 4}, sqr, ExceptionThrowingGenerator(20, 7));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(it.next(kLong), i * i);
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
}

// Python: _TestPool.test_imap_unordered
TEST(PoolConformance, ImapUnordered) {
  mpx::Pool pool(4);
  {
    std::vector<int> got;
    for (int v : pool.imap_unordered(sqr, range(10))) got.push_back(v);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, sqr_all(range(10)));
  }
  {
    std::vector<int> got;
    for (int v : pool.imap_unordered({.chunksize = 100}, sqr, range(1000))) got.push_back(v);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, sqr_all(range(1000)));
  }
}

// Python: _TestPool.test_imap_unordered_handle_iterable_exception
TEST(PoolConformance, ImapUnorderedHandleIterableException) {
  mpx::Pool pool(4);
  // SayWhenError seen at the very first of the iterable
  {
    auto it = pool.imap_unordered({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1));
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  // again, make sure it's reentrant
  {
    auto it = pool.imap_unordered({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1));
    EXPECT_THROW(it.next(kLong), SayWhenError);
  }
  for (auto [total, when, chunksize] : {std::tuple{10, 3, 1L}, std::tuple{20, 7, 2L}}) {
    auto it = pool.imap_unordered({.chunksize = chunksize}, sqr, ExceptionThrowingGenerator(total, when));
    std::multiset<int> expected_values;
    for (int x : sqr_all(range(total))) expected_values.insert(x);
    // imap_unordered makes it difficult to anticipate the SayWhenError
    EXPECT_THROW(
        {
          for (int i = 0; i < total; ++i) {
            auto value = it.next(kLong);
            ASSERT_TRUE(value.has_value());
            auto at = expected_values.find(*value);
            ASSERT_NE(at, expected_values.end()) << *value;
            expected_values.erase(at);
          }
        },
        SayWhenError);
  }
}

// Python: _TestPool.test_make_pool
TEST(PoolConformance, MakePool) {
  EXPECT_THROW(mpx::Pool(-1), mpx::ValueError);
  EXPECT_THROW(mpx::Pool(0), mpx::ValueError);
  mpx::Pool p(3);
  EXPECT_EQ(p.workers().size(), 3u);
  p.close();
  p.join();
}

// Python: _TestPool.test_terminate — slow tasks which take "forever" to complete.
TEST(PoolConformance, Terminate) {
  const double sleep_time = 300;  // support.LONG_TIMEOUT
  mpx::Event started;
  g_task_started = &started;  // before the Pool: its workers are forked with it
  {
    mpx::Pool p(3);
    auto result = p.map_async({.chunksize = 1}, long_sleep, std::vector<double>(10'000, sleep_time));
    EXPECT_TRUE(started.wait(kLong));  // Python: time.sleep(0.2), a chance for some tasks to start
    p.terminate();
    p.join();
    // Beyond Python (whose get() would wait for ever): the map fails.
    EXPECT_THROW(result.get(kLong), mpx::ProcessError);
  }
  g_task_started = nullptr;
}

// Python: _TestPool.test_empty_iterable — issue 12157.
TEST(PoolConformance, EmptyIterable) {
  mpx::Pool p(1);
  EXPECT_EQ(p.map(sqr, std::vector<int>{}), std::vector<int>{});
  std::vector<int> got;
  for (int v : p.imap(sqr, std::vector<int>{})) got.push_back(v);
  EXPECT_TRUE(got.empty());
  for (int v : p.imap_unordered(sqr, std::vector<int>{})) got.push_back(v);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(p.map_async(sqr, std::vector<int>{}).get(kLong), std::vector<int>{});
  p.close();
  p.join();
}

// Python: _TestPool.test_context — `with self.Pool(2) as p:` is the Pool's
// scope; its exit is terminate(), after which join() works and new tasks
// raise ValueError.
TEST(PoolConformance, Context) {
  auto L = range(10);
  auto expected = sqr_all(L);
  {
    mpx::Pool p(2);
    auto r = p.map_async(sqr, L);
    EXPECT_EQ(r.get(kLong), expected);
  }
  // What the `with` block's exit leaves, spelled out on a pool that is still in scope.
  mpx::Pool p(2);
  auto r = p.map_async(sqr, L);
  EXPECT_EQ(r.get(kLong), expected);
  p.terminate();  // Pool.__exit__
  p.join();
  EXPECT_THROW(p.map_async(sqr, L), mpx::ValueError);
}

// Python: _TestPool.test_traceback — the worker's exception arrives with its
// type and arguments; C++ exceptions carry no traceback (Python's
// RemoteTraceback __cause__), but one of a type the parent cannot rebuild
// arrives as RemoteError naming that type. An exception raised while reading
// the input is the input's own, not a remote one.
TEST(PoolConformance, Traceback) {
  {
    mpx::Pool p(1);
    std::exception_ptr exc;
    try {
      p.apply(raise_runtime_123);
      ADD_FAILURE() << "expected RuntimeError";
    } catch (...) {
      exc = std::current_exception();
    }
    try {
      std::rethrow_exception(exc);
    } catch (const mpx::RuntimeError& e) {
      EXPECT_EQ(typeid(e), typeid(mpx::RuntimeError));
      EXPECT_STREQ(e.what(), "123");
    } catch (...) {
      ADD_FAILURE() << "expected mpx::RuntimeError, got " << type_of(exc);
    }
    try {
      p.apply(raise_user_error);
      ADD_FAILURE() << "expected RemoteError";
    } catch (const mpx::RemoteError& e) {
      EXPECT_NE(e.type_name().find("UserError"), std::string::npos) << e.type_name();
      EXPECT_EQ(e.message(), "123");
    }
  }
  {
    // _helper_reraises_exception should not make the error a remote exception
    mpx::Pool p(1);
    std::exception_ptr exc;
    try {
      p.map({.chunksize = 1}, sqr, ExceptionThrowingGenerator(1, -1));
      ADD_FAILURE() << "expected SayWhenError";
    } catch (...) {
      exc = std::current_exception();
    }
    try {
      std::rethrow_exception(exc);
    } catch (const SayWhenError& e) {
      EXPECT_EQ(typeid(e), typeid(SayWhenError));
    } catch (...) {
      ADD_FAILURE() << "expected SayWhenError, got " << type_of(exc);
    }
  }
}

// Python: _TestPool.test_wrapped_exception — issue #20980.
TEST(PoolConformance, WrappedException) {
  mpx::Pool p(1);
  EXPECT_THROW(p.apply(raise_runtime_foo), mpx::RuntimeError);
}

// Python: _TestPool.test_map_no_failfast — issue #23992: the fail-fast
// behaviour when an exception is raised during map() would make
// Pool.join() deadlock.
TEST(PoolConformance, MapNoFailfast) {
  auto t_start = Clock::now();
  std::size_t what_size = 0;
  try {
    mpx::Pool p(2);
    try {
      p.map(raise_large_valuerror, std::vector<double>{0, 1});
    } catch (...) {
      p.close();
      p.join();
      throw;
    }
    ADD_FAILURE() << "expected ValueError";
  } catch (const mpx::ValueError& e) {
    what_size = std::string(e.what()).size();
  }
  EXPECT_EQ(what_size, 1024u * 1024u);
  // check that we indeed waited for all jobs
  EXPECT_GT(Clock::now() - t_start, 900ms);
}

// Python: _TestPool.test_release_task_refs — issue #29861: task arguments and
// results should not be kept alive after we are done with them.
TEST(PoolConformance, ReleaseTaskRefs) {
  mpx::Pool pool(4);
  ASSERT_EQ(CountedObject::n_instances.load(), 0);
  {
    std::vector<CountedObject> objs(10);
    auto results = pool.map(identity, objs);
    EXPECT_EQ(results.size(), 10u);
    EXPECT_EQ(CountedObject::n_instances.load(), 20);  // the arguments and the results, no more
  }
  // With a process pool, copies of the objects are returned, check they
  // were released too.
  EXPECT_EQ(CountedObject::n_instances.load(), 0);
}
