// Ports of CPython's Lib/test/test_concurrent_futures/ (python/cpython main,
// 3.14 era: executor.py with buffersize and map's iteration going on after a
// failed call) for the thread executor: test_future.py (FutureTests),
// executor.py (ExecutorTest), test_thread_pool.py (ThreadPoolExecutorTest),
// test_wait.py (WaitTests, ThreadPoolWaitTests), test_as_completed.py
// (AsCompletedTests), test_shutdown.py (ExecutorShutdownTest,
// ThreadPoolShutdownTest) and test_init.py (InitializerMixin,
// FailingInitializerMixin). Each test is named as CPython's: the class that
// create_executor_tests() makes for the thread pool (ThreadPoolWaitTest,
// ThreadPoolShutdownTest...), then the method; section headers name the file.
//
// CPython sleeps to create orderings (time.sleep(1.5) as "a call that is
// still running", sleep(1) before set_result "so the main thread waits").
// Here a still-running call holds its worker on a Gate the test releases, and
// "the main thread waits" is seen in the future's state word (a sleeper or a
// waiter installed). The only sleeps left are the timeouts under test.
// CPython's `python -c` scripts are scenarios of support/futures_exit_helper.
//
// Not ported, and why:
//   test_future.test_repr's id() formatting     ported with mpx's repr (same format).
//   ExecutorTest.test_submit_keyword's kwargs    C++ has no keyword arguments: the positional
//                                                call is ported; submit(fn=..., arg=...)
//                                                TypeErrors cannot be written.
//   ExecutorTest.test_map_buffersize_type_validation
//                                                buffersize is a std::optional<long>: "foo"
//                                                and 2.0 do not compile.
//   ExecutorTest.test_free_reference, test_no_stale_references,
//   AsCompletedTests.test_free_reference_yielded_future
//                                                no weakref/gc: ported with what C++ can see
//                                                (shared_ptr use counts, the future's handle count).
//   ExecutorTest.test_swallows_falsey_exceptions Python truthiness: ported as exceptions whose
//                                                value is 0 or empty.
//   ThreadPoolExecutorTest.test_hang_global_shutdown_lock
//                                                needs ProcessPoolExecutor (not in mpx yet).
//   ThreadPoolExecutorTest.test_process_fork_from_a_threadpool
//                                                ported; skipped under TSan (a fork child of
//                                                a threaded parent).
//   test_deadlock.py, test_process_pool.py, test_interpreter_pool.py, the
//   ProcessPool* mixins of the other files      process and interpreter pools: not in mpx yet.
//   test_init.py's log_queue (process pools)     the thread pool's log goes to stderr, checked.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <ranges>
#include <regex>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mpx/futures.hpp"
#include "mpx/process.hpp"
#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
namespace fut = mpx::futures;
namespace th = mpx::threading;
using fut::Future;
using fut::State;
using mpx::test::capture_stderr;
using mpx::test::eventually;
using mpx::test::Flag;
using mpx::test::Gate;
using mpx::test::kShortTimeout;
using FutureSet = std::unordered_set<Future<int>>;

#if defined(__SANITIZE_THREAD__)
constexpr bool kUnderTsan = true;
#else
constexpr bool kUnderTsan = false;
#endif

namespace {

struct ZeroDivisionError : std::runtime_error {
  ZeroDivisionError() : std::runtime_error("integer division or modulo by zero") {}
};
struct OSError : std::runtime_error {
  OSError() : std::runtime_error("") {}
};

int mul(int x, int y) { return x * y; }
std::pair<int, int> divmod(int a, int b) {
  if (b == 0) throw ZeroDivisionError();
  return {a / b, a % b};
}

// util.create_future(state, exception, result), through the public API.
Future<int> create_future(State state, std::exception_ptr exception = nullptr, int result = 0) {
  Future<int> f;
  switch (state) {
    case State::PENDING:
      break;
    case State::RUNNING:
      f.set_running_or_notify_cancel();
      break;
    case State::CANCELLED:
      f.cancel();
      break;
    case State::CANCELLED_AND_NOTIFIED:
      f.cancel();
      f.set_running_or_notify_cancel();
      break;
    case State::FINISHED:
      if (exception) {
        f.set_exception(exception);
      } else {
        f.set_result(result);
      }
      break;
  }
  return f;
}

// util.py's module-level futures (fresh ones per test here).
struct Canned {
  Future<int> PENDING_FUTURE = create_future(State::PENDING);
  Future<int> RUNNING_FUTURE = create_future(State::RUNNING);
  Future<int> CANCELLED_FUTURE = create_future(State::CANCELLED);
  Future<int> CANCELLED_AND_NOTIFIED_FUTURE = create_future(State::CANCELLED_AND_NOTIFIED);
  Future<int> EXCEPTION_FUTURE = create_future(State::FINISHED, std::make_exception_ptr(OSError()));
  Future<int> SUCCESSFUL_FUTURE = create_future(State::FINISHED, nullptr, 42);
};

template <class T>
bool has_sleeper(const Future<T>& f) {
  return (f.core()->word() & mpx::detail::FutureCore::kSleepers) != 0;
}
template <class T>
bool has_waiter(const Future<T>& f) {
  return (f.core()->word() & mpx::detail::FutureCore::kLists) != 0;
}

/// util.ExecutorMixin with ThreadPoolMixin: a ThreadPoolExecutor of
/// worker_count workers, shut down (wait=True) after the test.
class ThreadPoolExecutorTest : public ::testing::Test {
 protected:
  static constexpr int worker_count = 5;
  void TearDown() override {
    release_all();
    if (executor) executor->shutdown(true);
    executor.reset();
  }
  /// Lets every Gate made by gate() go.
  void release_all() {
    for (auto& g : gates_) g->release.set();
  }
  Gate& gate() { return *gates_.emplace_back(std::make_unique<Gate>()); }
  /// A call that runs until the test releases it (CPython: time.sleep(1.5)).
  Future<int> still_running() {
    Gate& g = gate();
    return executor->submit([&g] {
      g();
      return 0;
    });
  }

  std::unique_ptr<fut::ThreadPoolExecutor> executor = std::make_unique<fut::ThreadPoolExecutor>(worker_count);

 private:
  std::vector<std::unique_ptr<Gate>> gates_;
};

// CPython's create_executor_tests() names: the thread variant of each mixin.
using ThreadPoolWaitTest = ThreadPoolExecutorTest;
using ThreadPoolAsCompletedTest = ThreadPoolExecutorTest;
using ThreadPoolShutdownTest = ThreadPoolExecutorTest;

}  // namespace

// ==== test_future.py: FutureTests ===============================================

TEST(FutureTests, test_done_callback_with_result) {
  std::optional<int> callback_result;
  Future<int> f;
  f.add_done_callback([&](Future<int>& cf) { callback_result = cf.result(); });
  f.set_result(5);
  EXPECT_EQ(callback_result, 5);
}

TEST(FutureTests, test_done_callback_with_exception) {
  std::string callback_exception;
  Future<int> f;
  f.add_done_callback([&](Future<int>& cf) {
    try {
      std::rethrow_exception(cf.exception());
    } catch (const std::runtime_error& e) {
      callback_exception = e.what();
    }
  });
  f.set_exception(std::runtime_error("test"));
  EXPECT_EQ(callback_exception, "test");
}

TEST(FutureTests, test_done_callback_with_cancel) {
  std::optional<bool> was_cancelled;
  Future<int> f;
  f.add_done_callback([&](Future<int>& cf) { was_cancelled = cf.cancelled(); });
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(was_cancelled, true);
}

TEST(FutureTests, test_done_callback_raises) {
  bool raising_was_called = false;
  bool fn_was_called = false;
  std::string err = capture_stderr([&] {
    Future<int> f;
    f.add_done_callback([&](Future<int>&) {
      raising_was_called = true;
      throw std::runtime_error("doh!");
    });
    f.add_done_callback([&](Future<int>&) { fn_was_called = true; });
    f.set_result(5);
  });
  EXPECT_TRUE(raising_was_called);
  EXPECT_TRUE(fn_was_called);
  EXPECT_NE(err.find("runtime_error: doh!"), std::string::npos) << err;  // Python: "Exception: doh!"
}

TEST(FutureTests, test_done_callback_already_successful) {
  std::optional<int> callback_result;
  Future<int> f;
  f.set_result(5);
  f.add_done_callback([&](Future<int>& cf) { callback_result = cf.result(); });
  EXPECT_EQ(callback_result, 5);
}

TEST(FutureTests, test_done_callback_already_failed) {
  std::string callback_exception;
  Future<int> f;
  f.set_exception(std::runtime_error("test"));
  f.add_done_callback([&](Future<int>& cf) {
    try {
      std::rethrow_exception(cf.exception());
    } catch (const std::runtime_error& e) {
      callback_exception = e.what();
    }
  });
  EXPECT_EQ(callback_exception, "test");
}

TEST(FutureTests, test_done_callback_already_cancelled) {
  std::optional<bool> was_cancelled;
  Future<int> f;
  EXPECT_TRUE(f.cancel());
  f.add_done_callback([&](Future<int>& cf) { was_cancelled = cf.cancelled(); });
  EXPECT_EQ(was_cancelled, true);
}

TEST(FutureTests, test_done_callback_raises_already_succeeded) {
  std::string err = capture_stderr([&] {
    Future<int> f;
    // Set the result first to simulate a future that runs instantly,
    // effectively allowing the callback to be run immediately.
    f.set_result(5);
    f.add_done_callback([](Future<int>&) { throw std::runtime_error("doh!"); });
  });
  EXPECT_NE(err.find("exception calling callback for"), std::string::npos) << err;
  EXPECT_NE(err.find("doh!"), std::string::npos) << err;
}

TEST(FutureTests, test_repr) {
  Canned c;
  auto matches = [](const Future<int>& f, const char* re) { return std::regex_match(f.repr(), std::regex(re)); };
  EXPECT_TRUE(matches(c.PENDING_FUTURE, "<Future at 0x[0-9a-f]+ state=pending>")) << c.PENDING_FUTURE.repr();
  EXPECT_TRUE(matches(c.RUNNING_FUTURE, "<Future at 0x[0-9a-f]+ state=running>"));
  EXPECT_TRUE(matches(c.CANCELLED_FUTURE, "<Future at 0x[0-9a-f]+ state=cancelled>"));
  EXPECT_TRUE(matches(c.CANCELLED_AND_NOTIFIED_FUTURE, "<Future at 0x[0-9a-f]+ state=cancelled>"));
  EXPECT_TRUE(matches(c.EXCEPTION_FUTURE, "<Future at 0x[0-9a-f]+ state=finished raised OSError>"))
      << c.EXCEPTION_FUTURE.repr();
  EXPECT_TRUE(matches(c.SUCCESSFUL_FUTURE, "<Future at 0x[0-9a-f]+ state=finished returned int>"));
}

TEST(FutureTests, test_cancel) {
  auto f1 = create_future(State::PENDING);
  auto f2 = create_future(State::RUNNING);
  auto f3 = create_future(State::CANCELLED);
  auto f4 = create_future(State::CANCELLED_AND_NOTIFIED);
  auto f5 = create_future(State::FINISHED, std::make_exception_ptr(OSError()));
  auto f6 = create_future(State::FINISHED, nullptr, 5);

  EXPECT_TRUE(f1.cancel());
  EXPECT_EQ(f1.state(), State::CANCELLED);
  EXPECT_FALSE(f2.cancel());
  EXPECT_EQ(f2.state(), State::RUNNING);
  EXPECT_TRUE(f3.cancel());
  EXPECT_EQ(f3.state(), State::CANCELLED);
  EXPECT_TRUE(f4.cancel());
  EXPECT_EQ(f4.state(), State::CANCELLED_AND_NOTIFIED);
  EXPECT_FALSE(f5.cancel());
  EXPECT_EQ(f5.state(), State::FINISHED);
  EXPECT_FALSE(f6.cancel());
  EXPECT_EQ(f6.state(), State::FINISHED);
}

TEST(FutureTests, test_cancelled) {
  Canned c;
  EXPECT_FALSE(c.PENDING_FUTURE.cancelled());
  EXPECT_FALSE(c.RUNNING_FUTURE.cancelled());
  EXPECT_TRUE(c.CANCELLED_FUTURE.cancelled());
  EXPECT_TRUE(c.CANCELLED_AND_NOTIFIED_FUTURE.cancelled());
  EXPECT_FALSE(c.EXCEPTION_FUTURE.cancelled());
  EXPECT_FALSE(c.SUCCESSFUL_FUTURE.cancelled());
}

TEST(FutureTests, test_done) {
  Canned c;
  EXPECT_FALSE(c.PENDING_FUTURE.done());
  EXPECT_FALSE(c.RUNNING_FUTURE.done());
  EXPECT_TRUE(c.CANCELLED_FUTURE.done());
  EXPECT_TRUE(c.CANCELLED_AND_NOTIFIED_FUTURE.done());
  EXPECT_TRUE(c.EXCEPTION_FUTURE.done());
  EXPECT_TRUE(c.SUCCESSFUL_FUTURE.done());
}

TEST(FutureTests, test_running) {
  Canned c;
  EXPECT_FALSE(c.PENDING_FUTURE.running());
  EXPECT_TRUE(c.RUNNING_FUTURE.running());
  EXPECT_FALSE(c.CANCELLED_FUTURE.running());
  EXPECT_FALSE(c.CANCELLED_AND_NOTIFIED_FUTURE.running());
  EXPECT_FALSE(c.EXCEPTION_FUTURE.running());
  EXPECT_FALSE(c.SUCCESSFUL_FUTURE.running());
}

TEST(FutureTests, test_result_with_timeout) {
  Canned c;
  EXPECT_THROW(c.PENDING_FUTURE.result(0s), fut::TimeoutError);
  EXPECT_THROW(c.RUNNING_FUTURE.result(0s), fut::TimeoutError);
  EXPECT_THROW(c.CANCELLED_FUTURE.result(0s), fut::CancelledError);
  EXPECT_THROW(c.CANCELLED_AND_NOTIFIED_FUTURE.result(0s), fut::CancelledError);
  EXPECT_THROW(c.EXCEPTION_FUTURE.result(0s), OSError);
  EXPECT_EQ(c.SUCCESSFUL_FUTURE.result(0s), 42);
}

TEST(FutureTests, test_result_with_success) {
  auto f1 = create_future(State::PENDING);
  std::thread t([&] {
    // Wait until the main thread is waiting for the result (CPython: sleep(1)).
    eventually([&] { return has_sleeper(f1); });
    f1.set_result(42);
  });
  EXPECT_EQ(f1.result(5s), 42);
  t.join();
}

TEST(FutureTests, test_result_with_cancel) {
  auto f1 = create_future(State::PENDING);
  std::thread t([&] {
    eventually([&] { return has_sleeper(f1); });
    f1.cancel();
  });
  EXPECT_THROW(f1.result(kShortTimeout), fut::CancelledError);
  t.join();
}

TEST(FutureTests, test_exception_with_timeout) {
  Canned c;
  EXPECT_THROW(c.PENDING_FUTURE.exception(0s), fut::TimeoutError);
  EXPECT_THROW(c.RUNNING_FUTURE.exception(0s), fut::TimeoutError);
  EXPECT_THROW(c.CANCELLED_FUTURE.exception(0s), fut::CancelledError);
  EXPECT_THROW(c.CANCELLED_AND_NOTIFIED_FUTURE.exception(0s), fut::CancelledError);
  EXPECT_THROW(std::rethrow_exception(c.EXCEPTION_FUTURE.exception(0s)), OSError);
  EXPECT_EQ(c.SUCCESSFUL_FUTURE.exception(0s), nullptr);
}

TEST(FutureTests, test_exception_with_success) {
  auto f1 = create_future(State::PENDING);
  std::thread t([&] {
    eventually([&] { return has_sleeper(f1); });
    f1.set_exception(OSError());
  });
  auto e = f1.exception(kShortTimeout);
  EXPECT_THROW(std::rethrow_exception(e), OSError);
  t.join();
}

TEST(FutureTests, test_multiple_set_result) {
  auto f = create_future(State::PENDING);
  f.set_result(1);
  try {
    f.set_result(2);
    FAIL() << "no InvalidStateError";
  } catch (const fut::InvalidStateError& e) {
    EXPECT_TRUE(std::regex_match(e.what(), std::regex("FINISHED: <Future at 0x[0-9a-f]+ state=finished returned int>")))
        << e.what();
  }
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 1);
}

TEST(FutureTests, test_multiple_set_exception) {
  auto f = create_future(State::PENDING);
  f.set_exception(mpx::ValueError(""));
  auto e = f.exception();
  try {
    f.set_exception(std::runtime_error(""));
    FAIL() << "no InvalidStateError";
  } catch (const fut::InvalidStateError& err) {
    EXPECT_TRUE(std::regex_match(err.what(), std::regex("FINISHED: <Future at 0x[0-9a-f]+ state=finished raised ValueError>")))
        << err.what();
  }
  EXPECT_EQ(f.exception(), e);
}

// ==== executor.py: ExecutorTest (ThreadPoolExecutorTest) ===========================

TEST_F(ThreadPoolExecutorTest, test_submit) {
  auto future = executor->submit([](double b, double e) { return std::pow(b, e); }, 2, 8);
  EXPECT_EQ(256, future.result());
}

TEST_F(ThreadPoolExecutorTest, test_submit_keyword) {
  auto future = executor->submit(mul, 2, 8);  // Python: submit(mul, 2, y=8)
  EXPECT_EQ(16, future.result());
}

TEST_F(ThreadPoolExecutorTest, test_map) {
  auto pow_ = [](int b, int e) { return static_cast<long>(std::pow(b, e)); };
  std::vector<long> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(pow_(i, i));
  std::vector<long> got;
  for (long v : executor->map(pow_, std::views::iota(0, 10), std::views::iota(0, 10))) got.push_back(v);
  EXPECT_EQ(got, expected);
  got.clear();
  for (long v : executor->map({.chunksize = 3}, pow_, std::views::iota(0, 10), std::views::iota(0, 10)))
    got.push_back(v);
  EXPECT_EQ(got, expected);
}

TEST_F(ThreadPoolExecutorTest, test_map_exception) {
  auto i = executor->map(divmod, std::vector{5, 5, 5, 5}, std::vector{2, 3, 0, 5});
  EXPECT_EQ(i.next(), std::make_pair(2, 1));
  EXPECT_EQ(i.next(), std::make_pair(1, 2));
  EXPECT_THROW(i.next(), ZeroDivisionError);
  EXPECT_EQ(i.next(), std::make_pair(1, 0));
  EXPECT_EQ(i.next(), std::nullopt);
  EXPECT_EQ(i.next(), std::nullopt);

  auto j = executor->map({.chunksize = 3}, divmod, std::vector{5, 5, 5, 5}, std::vector{2, 0, 3, 5});
  EXPECT_EQ(j.next(), std::make_pair(2, 1));
  EXPECT_THROW(j.next(), ZeroDivisionError);
  EXPECT_EQ(j.next(), std::make_pair(1, 2));
  EXPECT_EQ(j.next(), std::make_pair(1, 0));
  EXPECT_EQ(j.next(), std::nullopt);
  EXPECT_EQ(j.next(), std::nullopt);
}

TEST_F(ThreadPoolExecutorTest, test_map_timeout_from_callable) {
  // A TimeoutError from the callable is not the map() timeout, whether or not
  // a map() timeout is set.
  auto timeout_on_one = [](int x) {
    if (x == 1) throw fut::TimeoutError("");
    return x;
  };
  for (auto timeout : {std::chrono::nanoseconds(mpx::forever), std::chrono::nanoseconds(kShortTimeout)}) {
    auto i = executor->map({.timeout = timeout}, timeout_on_one, std::vector{0, 1, 2, 3});
    EXPECT_EQ(i.next(), 0);
    EXPECT_THROW(i.next(), fut::TimeoutError);
    EXPECT_EQ(i.next(), 2);
    EXPECT_EQ(i.next(), 3);
    EXPECT_EQ(i.next(), std::nullopt);
  }
}

TEST_F(ThreadPoolExecutorTest, test_map_timeout) {
  // CPython: map(time.sleep, [0, 0, 6], timeout=5); the third call holds here.
  Gate& g = gate();
  std::vector<std::monostate> results;
  auto i = executor->map(
      {.timeout = 200ms},
      [&g](int x) {
        if (x) g();
      },
      std::vector{0, 0, 1});
  bool timed_out = false;
  try {
    for (auto r : i) results.push_back(r);
  } catch (const fut::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out) << "expected TimeoutError";
  EXPECT_LE(results.size(), 2u);  // gh-110097: a loaded machine may start even the first late
  // The remaining calls are cancelled, so the iterator is exhausted.
  EXPECT_EQ(i.next(), std::nullopt);
  EXPECT_EQ(i.next(), std::nullopt);
}

TEST_F(ThreadPoolExecutorTest, test_map_close) {
  auto i = executor->map(divmod, std::vector{5, 5, 5, 5}, std::vector{2, 0, 3, 5});
  EXPECT_EQ(i.next(), std::make_pair(2, 1));
  i.close();
  EXPECT_EQ(i.next(), std::nullopt);
  EXPECT_EQ(i.next(), std::nullopt);

  auto j = executor->map({.chunksize = 3}, divmod, std::vector{5, 5, 5, 5}, std::vector{2, 0, 3, 5});
  EXPECT_EQ(j.next(), std::make_pair(2, 1));
  j.close();
  EXPECT_EQ(j.next(), std::nullopt);
  EXPECT_EQ(j.next(), std::nullopt);
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_value_validation) {
  auto str = [](int x) { return std::to_string(x); };
  for (long buffersize : {0L, -1L}) {
    try {
      executor->map({.buffersize = buffersize}, str, std::views::iota(0, 4));
      FAIL() << "no ValueError";
    } catch (const mpx::ValueError& e) {
      EXPECT_STREQ(e.what(), "buffersize must be None or > 0");
    }
  }
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize) {
  auto str = [](int x) { return std::to_string(x); };
  for (long buffersize : {1L, 2L, 4L, 8L}) {
    std::vector<std::string> res;
    for (auto&& s : executor->map({.buffersize = buffersize}, str, std::views::iota(0, 4))) res.push_back(s);
    EXPECT_EQ(res, (std::vector<std::string>{"0", "1", "2", "3"})) << buffersize;
  }
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_on_multiple_iterables) {
  auto add = [](int a, int b) { return a + b; };
  for (long buffersize : {1L, 2L, 4L, 8L}) {
    std::vector<int> res;
    for (int v : executor->map({.buffersize = buffersize}, add, std::views::iota(0, 4), std::views::iota(0, 4)))
      res.push_back(v);
    EXPECT_EQ(res, (std::vector<int>{0, 2, 4, 6})) << buffersize;
  }
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_on_infinite_iterable) {
  auto res = executor->map({.buffersize = 2}, [](long x) { return std::to_string(x); }, std::views::iota(0L));
  EXPECT_EQ(res.next(), "0");
  EXPECT_EQ(res.next(), "1");
  EXPECT_EQ(res.next(), "2");
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_on_multiple_infinite_iterables) {
  auto res = executor->map(
      {.buffersize = 2}, [](long a, long b) { return a + b; }, std::views::iota(0L), std::views::iota(0L));
  EXPECT_EQ(res.next(), 0);
  EXPECT_EQ(res.next(), 2);
  EXPECT_EQ(res.next(), 4);
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_on_empty_iterable) {
  auto res = executor->map({.buffersize = 2}, [](int x) { return std::to_string(x); }, std::vector<int>{});
  EXPECT_EQ(res.next(), std::nullopt);
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_without_iterable) {
  auto res = executor->map({.buffersize = 2}, [] { return std::string(); });
  EXPECT_EQ(res.next(), std::nullopt);
}

TEST_F(ThreadPoolExecutorTest, test_map_buffersize_when_buffer_is_full) {
  std::atomic<int> fetched{0};  // CPython: ints = iter(range(4)); next(ints) afterwards
  auto ints = std::views::iota(0, 4) | std::views::transform([&](int x) {
                ++fetched;
                return x;
              });
  executor->map({.buffersize = 2}, [](int x) { return std::to_string(x); }, ints);
  executor->shutdown(true);  // wait for tasks to complete
  EXPECT_EQ(fetched, 2) << "should have fetched only `buffersize` elements from `ints`.";
}

TEST_F(ThreadPoolExecutorTest, test_shutdown_race_issue12456) {
  executor->map([](int x) { return std::to_string(x); }, std::vector<int>(worker_count + 1, 2));
  executor->shutdown();
}

TEST_F(ThreadPoolExecutorTest, test_no_stale_references) {
  // Issue #16284: check that the executors don't unnecessarily hang onto references.
  Flag my_object_collected;
  auto my_object = std::shared_ptr<int>(new int(0), [&](int* p) {
    delete p;
    my_object_collected.set();
  });
  // Deliberately discarding the future.
  executor->submit([o = my_object] { (void)*o; });
  my_object.reset();
  EXPECT_TRUE(my_object_collected.wait(kShortTimeout)) << "Stale reference not collected within timeout.";
}

TEST_F(ThreadPoolExecutorTest, test_max_workers_negative) {
  for (int number : {0, -1}) {
    try {
      fut::ThreadPoolExecutor e(number);
      FAIL() << "no ValueError";
    } catch (const mpx::ValueError& e) {
      EXPECT_STREQ(e.what(), "max_workers must be greater than 0");
    }
  }
}

TEST_F(ThreadPoolExecutorTest, test_free_reference) {
  // Issue #14406: Result iterator should not keep an internal reference to result objects.
  for (auto obj : executor->map([](int) { return std::make_shared<int>(0); }, std::views::iota(0, 10))) {
    EXPECT_EQ(obj.use_count(), 1);
  }
}

TEST_F(ThreadPoolExecutorTest, test_swallows_falsey_exceptions) {
  // gh-132063: exceptions that evaluate as false are still raised.
  EXPECT_THROW(executor->submit([] { throw 0; }).result(), int);
  EXPECT_THROW(executor->submit([] { throw std::string(); }).result(), std::string);
}

// ==== test_thread_pool.py: ThreadPoolExecutorTest ===================================

TEST_F(ThreadPoolExecutorTest, test_map_submits_without_iteration) {
  // Tests verifying issue 11777.
  std::mutex mu;
  std::vector<int> finished;
  executor->map(
      [&](int n) {
        std::lock_guard l(mu);
        finished.push_back(n);
      },
      std::views::iota(0, 10));
  executor->shutdown(true);
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(ThreadPoolExecutorTest, test_default_workers) {
  fut::ThreadPoolExecutor e;
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);  // os.process_cpu_count()
  EXPECT_EQ(e.max_workers(), std::min(32, CPU_COUNT(&set) + 4));
}

TEST_F(ThreadPoolExecutorTest, test_saturation) {
  fut::ThreadPoolExecutor e(4);
  th::Semaphore sem(0);
  for (int i = 0; i < 15 * e.max_workers(); ++i) e.submit([&] { sem.acquire(); });
  EXPECT_EQ(static_cast<int>(e.threads().size()), e.max_workers());
  for (int i = 0; i < 15 * e.max_workers(); ++i) sem.release();
  e.shutdown(true);
}

TEST_F(ThreadPoolExecutorTest, test_idle_thread_reuse) {
  fut::ThreadPoolExecutor e;
  e.submit(mul, 21, 2).result();
  e.submit(mul, 6, 7).result();
  e.submit(mul, 3, 14).result();
  EXPECT_EQ(e.threads().size(), 1u);  // deterministic here: a worker counts as idle before its result is seen
  e.shutdown(true);
}

TEST_F(ThreadPoolExecutorTest, test_process_fork_from_a_threadpool) {
  // bpo-43944: a process forked from a worker exits without joining the parent's threads.
  if (kUnderTsan) GTEST_SKIP() << "TSan: a fork child of a threaded parent";
  fut::ThreadPoolExecutor pool(1);
  auto exitcode = pool.submit([] {
                        mpx::Process p([] {});
                        p.start();
                        p.join();
                        return p.exitcode();
                      })
                      .result(kShortTimeout);
  EXPECT_EQ(exitcode, 0);
}

TEST_F(ThreadPoolExecutorTest, test_executor_map_current_future_cancel) {
  Flag stop_event;
  std::mutex mu;
  std::vector<std::string> log;
  auto log_n_wait = [&](std::string ident) {
    {
      std::lock_guard l(mu);
      log.push_back("ident='" + ident + "' started");
    }
    stop_event.wait();
    std::lock_guard l(mu);
    log.push_back("ident='" + ident + "' stopped");
  };
  {
    fut::ThreadPoolExecutor pool(1);
    // submit work to saturate the pool
    auto f = pool.submit(log_n_wait, std::string("first"));
    {
      auto gen = pool.map({.timeout = 0s}, log_n_wait, std::vector<std::string>{"second", "third"});
      EXPECT_THROW(gen.next(), fut::TimeoutError);
      gen.close();
    }
    stop_event.set();
    f.result();
  }
  // ident='second' is cancelled as a result of raising a TimeoutError
  // ident='third' is cancelled because it remained in the collection of futures
  EXPECT_EQ(log, (std::vector<std::string>{"ident='first' started", "ident='first' stopped"}));
}

// ==== test_wait.py: WaitTests, ThreadPoolWaitTests ===================================

TEST_F(ThreadPoolWaitTest, test_20369) {
  // See https://bugs.python.org/issue20369
  Gate& g = gate();
  auto future = executor->submit([&g] {
    g();
    return 0;
  });
  std::thread releaser([&] {
    eventually([&] { return has_waiter(future); });  // wait() is waiting
    g.release.set();
  });
  auto [done, not_done] = fut::wait({future, future}, fut::ALL_COMPLETED);
  releaser.join();
  EXPECT_EQ(done, FutureSet{future});
  EXPECT_TRUE(not_done.empty());
}

TEST_F(ThreadPoolWaitTest, test_first_completed) {
  Canned c;
  auto future1 = executor->submit(mul, 21, 2);
  auto future2 = still_running();
  auto [done, not_done] = fut::wait({c.CANCELLED_FUTURE, future1, future2}, fut::FIRST_COMPLETED);
  EXPECT_EQ(done, FutureSet{future1});
  EXPECT_EQ(not_done, (FutureSet{c.CANCELLED_FUTURE, future2}));
}

TEST_F(ThreadPoolWaitTest, test_first_completed_some_already_completed) {
  Canned c;
  auto future1 = still_running();
  auto [finished, pending] =
      fut::wait({c.CANCELLED_AND_NOTIFIED_FUTURE, c.SUCCESSFUL_FUTURE, future1}, fut::FIRST_COMPLETED);
  EXPECT_EQ(finished, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.SUCCESSFUL_FUTURE}));
  EXPECT_EQ(pending, FutureSet{future1});
}

TEST_F(ThreadPoolWaitTest, test_first_exception) {
  auto future1 = executor->submit(mul, 2, 21);
  // CPython: sleep_and_raise(1.5): raises once future1 is surely done.
  auto future2 = executor->submit([future1] {
    future1.result();
    throw std::runtime_error("this is an exception");
    return 0;
  });
  auto future3 = still_running();
  auto [finished, pending] = fut::wait({future1, future2, future3}, fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, (FutureSet{future1, future2}));
  EXPECT_EQ(pending, FutureSet{future3});
}

TEST_F(ThreadPoolWaitTest, test_first_exception_some_already_complete) {
  Canned c;
  auto future1 = executor->submit([] { return divmod(21, 0).first; });
  auto future2 = still_running();
  auto [finished, pending] = fut::wait(
      {c.SUCCESSFUL_FUTURE, c.CANCELLED_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, future1, future2}, fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, (FutureSet{c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, future1}));
  EXPECT_EQ(pending, (FutureSet{c.CANCELLED_FUTURE, future2}));
}

TEST_F(ThreadPoolWaitTest, test_first_exception_one_already_failed) {
  Canned c;
  auto future1 = still_running();
  auto [finished, pending] = fut::wait({c.EXCEPTION_FUTURE, future1}, fut::FIRST_EXCEPTION);
  EXPECT_EQ(finished, FutureSet{c.EXCEPTION_FUTURE});
  EXPECT_EQ(pending, FutureSet{future1});
}

TEST_F(ThreadPoolWaitTest, test_all_completed) {
  Canned c;
  auto future1 = executor->submit([] { return divmod(2, 0).first; });
  auto future2 = executor->submit(mul, 2, 21);
  auto [finished, pending] = fut::wait(
      {c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, future1, future2}, fut::ALL_COMPLETED);
  EXPECT_EQ(finished, (FutureSet{c.SUCCESSFUL_FUTURE, c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, future1,
                                 future2}));
  EXPECT_TRUE(pending.empty());
}

TEST_F(ThreadPoolWaitTest, test_timeout) {
  Canned c;
  auto future = still_running();  // CPython: sleep(long_timeout)
  auto [finished, pending] =
      fut::wait({c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future}, 50ms,
                fut::ALL_COMPLETED);
  EXPECT_EQ(finished, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE}));
  EXPECT_EQ(pending, FutureSet{future});
}

TEST_F(ThreadPoolWaitTest, test_pending_calls_race) {
  // Issue #14406: multi-threaded race condition when waiting on all futures.
  th::Event event;
  std::vector<Future<void>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(executor->submit([&] { event.wait(); }));
  event.set();
  auto r = fut::wait(fs, fut::ALL_COMPLETED);
  EXPECT_EQ(r.done.size(), 100u);
}

// ==== test_as_completed.py: AsCompletedTests ==========================================

TEST_F(ThreadPoolAsCompletedTest, test_no_timeout) {
  Canned c;
  auto future1 = executor->submit(mul, 2, 21);
  auto future2 = executor->submit(mul, 7, 6);
  FutureSet completed;
  for (auto f : fut::as_completed(
           {c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future1, future2}))
    completed.insert(f);
  EXPECT_EQ(completed, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future1,
                                  future2}));
}

TEST_F(ThreadPoolAsCompletedTest, test_zero_timeout) {
  Canned c;
  auto future1 = still_running();
  FutureSet completed_futures;
  try {
    for (auto f : fut::as_completed({c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE, future1},
                                    0s))
      completed_futures.insert(f);
  } catch (const fut::TimeoutError&) {
  }
  EXPECT_EQ(completed_futures, (FutureSet{c.CANCELLED_AND_NOTIFIED_FUTURE, c.EXCEPTION_FUTURE, c.SUCCESSFUL_FUTURE}));
}

TEST_F(ThreadPoolAsCompletedTest, test_duplicate_futures) {
  // Issue 20367. Duplicate futures should not raise exceptions or give duplicate responses.
  Gate& g = gate();
  auto future1 = executor->submit([&g] {
    g();
    return 0;
  });
  std::thread releaser([&] {
    eventually([&] { return has_waiter(future1); });
    g.release.set();
  });
  int completed = 0;
  for (auto f : fut::as_completed(std::vector<Future<int>>(3, future1))) {
    (void)f;
    ++completed;
  }
  releaser.join();
  EXPECT_EQ(completed, 1);
}

TEST_F(ThreadPoolAsCompletedTest, test_free_reference_yielded_future) {
  // Issue #14406: Generator should not keep references to finished futures.
  std::vector<Future<int>> futures_list(8);
  futures_list.push_back(create_future(State::CANCELLED_AND_NOTIFIED));
  futures_list.push_back(create_future(State::FINISHED, nullptr, 42));
  auto remove = [&](const Future<int>& f) { std::erase(futures_list, f); };

  EXPECT_THROW(
      {
        for (auto future : fut::as_completed(futures_list, 0s)) {
          remove(future);
          EXPECT_EQ(future.core()->use_count(), 1u);  // only `future`: gone with it
        }
      },
      fut::TimeoutError);

  futures_list[0].set_result(7);
  for (auto future : fut::as_completed(futures_list)) {
    remove(future);
    EXPECT_EQ(future.core()->use_count(), 1u);
    if (!futures_list.empty()) futures_list[0].set_result(7);
  }
}

TEST_F(ThreadPoolAsCompletedTest, test_correct_timeout_exception_msg) {
  Canned c;
  try {
    auto ac = fut::as_completed(
        {c.CANCELLED_AND_NOTIFIED_FUTURE, c.PENDING_FUTURE, c.RUNNING_FUTURE, c.SUCCESSFUL_FUTURE}, 0s);
    for (auto f : ac) (void)f;
    FAIL() << "no TimeoutError";
  } catch (const fut::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "2 (of 4) futures unfinished");
  }
}

// ==== test_shutdown.py: ExecutorShutdownTest, ThreadPoolShutdownTest ========================

TEST_F(ThreadPoolShutdownTest, test_run_after_shutdown) {
  executor->shutdown();
  try {
    executor->submit(mul, 2, 5);
    FAIL() << "no RuntimeError";
  } catch (const mpx::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
  }
}

#ifdef MPX_FUTURES_HELPER
namespace {
mpx::test::HelperResult helper(const char* scenario) {
  bool timed_out = false;
  auto r = mpx::test::run_futures_helper(scenario, &timed_out);
  EXPECT_FALSE(timed_out) << scenario << " hung at exit";
  return r;
}
}  // namespace

TEST_F(ThreadPoolShutdownTest, test_interpreter_shutdown) {
  // Test the atexit hook for shutdown of worker threads.
  auto r = helper("interpreter_shutdown");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "apple\n");
}

TEST_F(ThreadPoolShutdownTest, test_interpreter_shutdown_std_exit) {
  // mpx: std::exit() from main skips the executor's destructor; the hook drains it.
  auto r = helper("exit_from_main");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "apple\n");
}

TEST_F(ThreadPoolShutdownTest, test_submit_after_interpreter_shutdown) {
  auto r = helper("submit_after_interpreter_shutdown");
  EXPECT_NE(r.err.find("RuntimeError: cannot schedule new futures"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("after interpreter shutdown"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "runtime-error\n");
}

TEST_F(ThreadPoolShutdownTest, test_hang_gh83386) {
  // shutdown(wait=False) doesn't hang at exit with running futures.
  auto r = helper("shutdown_no_wait");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "apple\n");
}

TEST_F(ThreadPoolShutdownTest, test_cancel_futures_wait_false) {
  auto r = helper("cancel_futures_wait_false");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // gh-116682: stdout may be empty if shutdown happens before task starts executing.
  EXPECT_TRUE(r.out == "apple\n" || r.out.empty()) << r.out;
}
#endif

TEST_F(ThreadPoolShutdownTest, test_hang_issue12364) {
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(executor->submit([] { return std::this_thread::yield(), 0; }));
  executor->shutdown();
  for (auto& f : fs) f.result();
}

TEST_F(ThreadPoolShutdownTest, test_cancel_futures) {
  static_assert(worker_count <= 5, "test needs few workers");
  Gate& g = gate();  // CPython: submit(time.sleep, .1) x 50
  std::vector<Future<void>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(executor->submit([&g] { g(); }));
  std::thread releaser([&] {
    eventually([&] { return fs.back().cancelled(); });  // shutdown has drained the queue
    g.release.set();
  });
  executor->shutdown({.cancel_futures = true});
  releaser.join();
  // We can't guarantee the exact number of cancellations, but we can
  // guarantee that *some* were cancelled.
  int cancelled = 0, others = 0;
  for (auto& f : fs) {
    if (f.cancelled()) {
      ++cancelled;
    } else {
      ++others;
      EXPECT_TRUE(f.done()) << f.repr();
      EXPECT_EQ(f.exception(), nullptr);
    }
  }
  EXPECT_GT(cancelled, 20);
  EXPECT_GT(others, 0);
}

TEST_F(ThreadPoolShutdownTest, test_hang_gh94440) {
  // shutdown(wait=True) doesn't hang when a future was submitted and quickly
  // canceled right before shutdown (the test's own timeout is the alarm).
  fut::ThreadPoolExecutor e(1);
  e.submit([] { return 0; }).result();
  e.submit([] { return 0; }).cancel();
  e.shutdown(true);
}

TEST_F(ThreadPoolShutdownTest, test_threads_terminate) {
  th::Semaphore sem(0);
  for (int i = 0; i < 3; ++i) executor->submit([&] { sem.acquire(); });
  EXPECT_EQ(executor->threads().size(), 3u);
  for (int i = 0; i < 3; ++i) sem.release();
  executor->shutdown();
  for (auto& t : executor->threads()) t.join();
}

TEST_F(ThreadPoolShutdownTest, test_context_manager_shutdown) {
  std::vector<th::Thread> threads;
  {
    fut::ThreadPoolExecutor e(5);
    std::vector<int> got;
    for (int v : e.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5))) got.push_back(v);
    EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
    threads = e.threads();
  }
  for (auto& t : threads) EXPECT_FALSE(t.is_alive());
}

TEST_F(ThreadPoolShutdownTest, test_del_shutdown) {
  auto ex = std::make_unique<fut::ThreadPoolExecutor>(5);
  auto res = ex->map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
  auto threads = ex->threads();
  ex.reset();
  for (auto& t : threads) t.join();
  // Make sure the results were all computed before the executor got shutdown.
  int v = -5;
  for (int r : res) EXPECT_EQ(r, std::abs(v++));
}

TEST_F(ThreadPoolShutdownTest, test_shutdown_no_wait) {
  fut::ThreadPoolExecutor ex(5);
  auto res = ex.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
  auto threads = ex.threads();
  ex.shutdown(false);
  for (auto& t : threads) t.join();
  int v = -5;
  for (int r : res) EXPECT_EQ(r, std::abs(v++));
}

TEST_F(ThreadPoolShutdownTest, test_thread_names_assigned) {
  std::vector<th::Thread> threads;
  {
    fut::ThreadPoolExecutor ex({.max_workers = 5, .thread_name_prefix = "SpecialPool"});
    ex.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
    threads = ex.threads();
  }
  EXPECT_FALSE(threads.empty());
  for (auto& t : threads) {
    EXPECT_TRUE(std::regex_match(t.name(), std::regex("^SpecialPool_[0-4]$"))) << t.name();
    t.join();
  }
}

TEST_F(ThreadPoolShutdownTest, test_thread_names_default) {
  std::vector<th::Thread> threads;
  {
    fut::ThreadPoolExecutor ex(5);
    ex.map([](int x) { return std::abs(x); }, std::views::iota(-5, 5));
    threads = ex.threads();
  }
  for (auto& t : threads) {
    // Ensure that our default name is reasonably sane and unique when no thread_name_prefix was supplied.
    EXPECT_TRUE(std::regex_search(t.name(), std::regex("ThreadPoolExecutor-\\d+_[0-4]$"))) << t.name();
    t.join();
  }
}

// ==== test_init.py: InitializerMixin, FailingInitializerMixin ============================

namespace {
std::mutex g_init_mu;
std::string INITIALIZER_STATUS = "uninitialized";
void init(const std::string& x) {
  std::lock_guard l(g_init_mu);
  INITIALIZER_STATUS = x;
}
std::string get_init_status() {
  std::lock_guard l(g_init_mu);
  return INITIALIZER_STATUS;
}
}  // namespace

TEST(ThreadPoolInitializerTest, test_initializer) {
  init("uninitialized");
  constexpr int worker_count = 2;
  fut::ThreadPoolExecutor executor({.max_workers = worker_count, .initializer = [] { init("initialized"); }});
  std::vector<Future<std::string>> futures;
  for (int i = 0; i < worker_count; ++i) futures.push_back(executor.submit(get_init_status));
  for (auto& f : futures) EXPECT_EQ(f.result(), "initialized");
}

TEST(ThreadPoolFailingInitializerTest, test_initializer) {
  std::string err = capture_stderr([] {
    fut::ThreadPoolExecutor executor({.max_workers = 2, .initializer = [] {
                                        throw mpx::ValueError("error in initializer");
                                      }});
    try {
      auto future = executor.submit(get_init_status);
      EXPECT_THROW(future.result(), fut::BrokenExecutor);
    } catch (const fut::BrokenExecutor&) {
      // Perhaps the executor is already broken
    }
    // At some point, the executor should break
    EXPECT_TRUE(eventually([&] { return !executor.broken().empty(); })) << "executor not broken";
    // ... and from this point submit() is guaranteed to fail
    EXPECT_THROW(executor.submit(get_init_status), fut::BrokenExecutor);
  });
  EXPECT_NE(err.find("ValueError: error in initializer"), std::string::npos) << err;
}
