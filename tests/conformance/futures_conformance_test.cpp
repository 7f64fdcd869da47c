// Ports of CPython's Lib/test/test_concurrent_futures/ for the thread
// executor, part 1: test_future.py (FutureTests), executor.py (ExecutorTest)
// and test_thread_pool.py (ThreadPoolExecutorTest) — python/cpython main,
// 3.14 era: executor.py with buffersize, and map's iteration going on after a
// failed call. Part 2 (futures_wait_conformance_test.cpp) has test_wait.py,
// test_as_completed.py, test_shutdown.py and test_init.py; the shared part of
// util.py is support/futures_cpython.hpp. Each test is named as CPython's:
// the class create_executor_tests() makes for the thread pool, then the
// method; section headers name the file.
//
// CPython sleeps to create orderings (time.sleep(1.5) as "a call that is
// still running", sleep(1) before set_result "so the main thread waits").
// Here a still-running call holds its worker on a Gate the test releases, and
// "the main thread waits" is seen in the future's state word (a sleeper).
// The only sleeps left are the timeouts under test.
//
// Not ported, and why:
//   ExecutorTest.test_submit_keyword's kwargs    C++ has no keyword arguments: the positional
//                                                call is ported; submit(fn=..., arg=...)
//                                                TypeErrors cannot be written.
//   ExecutorTest.test_map_buffersize_type_validation
//                                                buffersize is a std::optional<long>: "foo"
//                                                and 2.0 do not compile.
//   ExecutorTest.test_free_reference, test_no_stale_references
//                                                no weakref/gc: ported with what C++ can see
//                                                (shared_ptr use counts, a deleter's flag).
//   ExecutorTest.test_swallows_falsey_exceptions Python truthiness: ported as exceptions whose
//                                                value is 0 or empty.
//   ThreadPoolExecutorTest.test_hang_global_shutdown_lock
//                                                needs ProcessPoolExecutor: ported in
//                                                futures_process_shutdown_conformance_test.cpp.
//   ThreadPoolExecutorTest.test_process_fork_from_a_threadpool
//                                                ported; skipped under TSan (a fork child of
//                                                a threaded parent).
//   test_deadlock.py, test_process_pool.py, the ProcessPool* mixins of the
//   other files                                 ported in futures_process_*_conformance_test.cpp
//                                                (one file per module).
//   test_interpreter_pool.py                    interpreter pools: not in mpx.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <regex>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mpx/futures.hpp"
#include "mpx/process.hpp"
#include "support/futures_cpython.hpp"
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
using namespace mpx::test::cpython;

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
    EXPECT_TRUE(
        std::regex_match(err.what(), std::regex("FINISHED: <Future at 0x[0-9a-f]+ state=finished raised ValueError>")))
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
  auto res = executor->map(
      {.buffersize = 2}, [](long x) { return std::to_string(x); }, std::views::iota(0L));
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
  auto res = executor->map(
      {.buffersize = 2}, [](int x) { return std::to_string(x); }, std::vector<int>{});
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
  executor->map(
      {.buffersize = 2}, [](int x) { return std::to_string(x); }, ints);
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
