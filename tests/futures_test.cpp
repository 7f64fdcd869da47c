// mpx::futures: the future core, ThreadPoolExecutor, map, wait, as_completed.
// Label `thread`: also run under TSan. CPython's own tests are ported in
// conformance/futures_conformance_test.cpp; these cover what mpx adds or
// must get right beyond them (which thread runs a callback, copies of
// arguments, move-only results, races between completion, cancellation and
// waiting). Orderings come from flags and latches, never from sleeps.
#include "mpx/futures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <memory>
#include <numeric>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
namespace fut = mpx::futures;
namespace th = mpx::threading;
using mpx::test::capture_stderr;
using mpx::test::Flag;
using mpx::test::Gate;

namespace {

struct Custom : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

// ---- Future on its own -------------------------------------------------------

TEST(FuturesFuture, StartsPendingAndTakesOneResult) {
  fut::Future<int> f;
  EXPECT_EQ(f.state(), fut::State::PENDING);
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_THROW(f.result(0ms), mpx::TimeoutError);
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.result(0ms), 42);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_THROW(f.set_result(1), mpx::InvalidStateError);
  EXPECT_THROW(f.set_exception(Custom("x")), mpx::InvalidStateError);
  EXPECT_EQ(f.result(), 42);
}

TEST(FuturesFuture, CopiesShareOneStateAndHash) {
  fut::Future<std::string> a;
  fut::Future<std::string> b = a;
  fut::Future<std::string> c;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  std::unordered_set<fut::Future<std::string>> set{a, b, c};
  EXPECT_EQ(set.size(), 2u);
  b.set_result("shared");
  EXPECT_EQ(a.result(), "shared");
}

TEST(FuturesFuture, ExceptionKeepsItsType) {
  fut::Future<int> f;
  f.set_exception(Custom("bad"));
  EXPECT_THROW(f.result(), Custom);
  auto e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), Custom);
  EXPECT_NE(f.repr().find("raised Custom"), std::string::npos) << f.repr();
}

TEST(FuturesFuture, VoidFuture) {
  fut::Future<void> f;
  EXPECT_FALSE(f.try_result(0ms));
  f.set_result();
  EXPECT_TRUE(f.try_result(0ms));
  f.result();
  EXPECT_NE(f.repr().find("returned None"), std::string::npos) << f.repr();
}

TEST(FuturesFuture, TryResultGivesAPointerOrNull) {
  fut::Future<int> f;
  EXPECT_EQ(f.try_result(1ms), nullptr);
  f.set_result(7);
  const int* p = f.try_result(0ms);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(FuturesFuture, MoveOnlyResult) {
  fut::Future<std::unique_ptr<int>> f;
  f.set_result(std::make_unique<int>(5));
  EXPECT_EQ(*f.result(), 5);
}

TEST(FuturesFuture, CancelWakesAWaiterWithCancelledError) {
  fut::Future<int> f;
  std::atomic<bool> got{false};
  std::thread t([&] {
    try {
      f.result(20s);
    } catch (const mpx::CancelledError&) {
      got = true;
    }
  });
  ASSERT_TRUE(mpx::test::eventually([&] { return (f.core()->word() & mpx::detail::FutureCore::kSleepers) != 0; }))
      << "the waiter never went to sleep";
  EXPECT_TRUE(f.cancel());
  t.join();
  EXPECT_TRUE(got);
  EXPECT_THROW(f.exception(), mpx::CancelledError);
}

TEST(FuturesFuture, ResultWakesSleepingWaiters) {
  fut::Future<int> f;
  std::vector<std::thread> ts;
  std::atomic<int> sum{0};
  for (int i = 0; i < 4; ++i) ts.emplace_back([&] { sum += f.result(20s); });
  ASSERT_TRUE(mpx::test::eventually([&] { return (f.core()->word() & mpx::detail::FutureCore::kSleepers) != 0; }));
  f.set_result(10);
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum, 40);
}

TEST(FuturesFuture, CallbacksRunInOrderByTheCompleter) {
  fut::Future<int> f;
  std::vector<int> order;
  std::uint64_t ran_in = 0;
  f.add_done_callback([&](fut::Future<int>& g) {
    order.push_back(g.result());
    ran_in = th::get_ident();
  });
  f.add_done_callback([&](const fut::Future<int>&) { order.push_back(2); });
  std::thread t([&] { f.set_result(1); });
  const auto setter = t.native_handle();
  t.join();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(ran_in, static_cast<std::uint64_t>(setter));
  // Already done: the caller runs it, now.
  f.add_done_callback([&](fut::Future<int>&) {
    order.push_back(3);
    ran_in = th::get_ident();
  });
  EXPECT_EQ(order.back(), 3);
  EXPECT_EQ(ran_in, th::get_ident());
}

TEST(FuturesFuture, ThrowingCallbackIsLoggedAndTheOthersRun) {
  fut::Future<int> f;
  bool second = false;
  f.add_done_callback([](fut::Future<int>&) { throw Custom("doh!"); });
  f.add_done_callback([&](fut::Future<int>&) { second = true; });
  auto err = capture_stderr([&] { f.set_result(5); });
  EXPECT_TRUE(second);
  EXPECT_NE(err.find("exception calling callback for <Future at 0x"), std::string::npos) << err;
  EXPECT_NE(err.find("state=finished returned int>"), std::string::npos) << err;
  EXPECT_NE(err.find("Custom: doh!"), std::string::npos) << err;
}

TEST(FuturesFuture, ReprAndInvalidStateMessage) {
  fut::Future<int> f;
  EXPECT_TRUE(f.repr().starts_with("<Future at 0x")) << f.repr();
  EXPECT_TRUE(f.repr().ends_with(" state=pending>")) << f.repr();
  f.set_running_or_notify_cancel();
  EXPECT_TRUE(f.repr().ends_with(" state=running>")) << f.repr();
  f.set_result(3);
  try {
    f.set_result(4);
    FAIL() << "no InvalidStateError";
  } catch (const mpx::InvalidStateError& e) {
    EXPECT_EQ(std::string(e.what()), "FINISHED: " + f.repr());
  }
}

TEST(FuturesFuture, SetRunningTwiceIsAnError) {
  fut::Future<int> f;
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  std::string err = capture_stderr([&] { EXPECT_THROW(f.set_running_or_notify_cancel(), mpx::RuntimeError); });
  EXPECT_NE(err.find("in unexpected state: RUNNING"), std::string::npos) << err;
}

// ---- ThreadPoolExecutor ----------------------------------------------------------

TEST(FuturesThreadPool, SubmitCopiesArgumentsNow) {
  fut::ThreadPoolExecutor ex(2);
  std::string s = "before";
  auto f = ex.submit([](std::string v, int n) { return v + std::to_string(n); }, s, 1);
  s = "after";
  EXPECT_EQ(f.result(20s), "before1");
}

TEST(FuturesThreadPool, ReferenceResultsAreCopied) {
  fut::ThreadPoolExecutor ex(1);
  static const std::string kept = "kept";
  auto f = ex.submit([]() -> const std::string& { return kept; });
  static_assert(std::is_same_v<decltype(f), fut::Future<std::string>>);
  EXPECT_EQ(f.result(20s), "kept");
}

TEST(FuturesThreadPool, ExceptionsAndVoid) {
  fut::ThreadPoolExecutor ex(2);
  auto bad = ex.submit([] {
    throw Custom("boom");
    return 1;
  });
  EXPECT_THROW(bad.result(20s), Custom);
  std::atomic<int> hit{0};
  fut::Future<void> v = ex.submit([&] { hit = 1; });
  v.result(20s);
  EXPECT_EQ(hit, 1);
  auto thrown_void = ex.submit([] { throw 7; });
  EXPECT_THROW(thrown_void.result(20s), int);
}

TEST(FuturesThreadPool, MoveOnlyArgumentsAndResults) {
  fut::ThreadPoolExecutor ex(1);
  auto f = ex.submit([](std::unique_ptr<int> p) { return std::make_unique<int>(*p + 1); }, std::make_unique<int>(1));
  EXPECT_EQ(*f.result(20s), 2);
}

TEST(FuturesThreadPool, WorkersAreNamedThreadsInEnumerate) {
  fut::ThreadPoolExecutor ex({.max_workers = 2, .thread_name_prefix = "Named"});
  auto name = ex.submit([] { return th::current_thread().name(); });
  EXPECT_EQ(name.result(20s), "Named_0");
  auto all = th::enumerate();
  for (auto& t : ex.threads()) EXPECT_TRUE(mpx::test::contains(all, t));
  fut::ThreadPoolExecutor unnamed(1);
  auto n2 = unnamed.submit([] { return th::current_thread().name(); }).result(20s);
  EXPECT_TRUE(n2.starts_with("ThreadPoolExecutor-")) << n2;
  EXPECT_TRUE(n2.ends_with("_0")) << n2;
}

TEST(FuturesThreadPool, CallbackRunsInTheWorker) {
  fut::ThreadPoolExecutor ex({.max_workers = 1, .thread_name_prefix = "cb"});
  Flag ran;
  std::string where;
  Gate gate;
  auto f = ex.submit([&] { gate(); });
  ASSERT_TRUE(gate.started.wait());
  f.add_done_callback([&](fut::Future<void>&) {
    where = th::current_thread().name();
    ran.set();
  });
  gate.release.set();
  ASSERT_TRUE(ran.wait());
  EXPECT_EQ(where, "cb_0");
}

TEST(FuturesThreadPool, CancelPendingButNotRunning) {
  fut::ThreadPoolExecutor ex(1);
  Gate gate;
  auto running = ex.submit([&] { gate(); });
  ASSERT_TRUE(gate.started.wait());
  std::atomic<bool> ran{false};
  auto queued = ex.submit([&] { ran = true; });
  EXPECT_TRUE(running.running());
  EXPECT_FALSE(running.cancel());
  EXPECT_TRUE(queued.cancel());
  EXPECT_EQ(queued.state(), fut::State::CANCELLED);
  gate.release.set();
  running.result(20s);
  ex.shutdown();
  EXPECT_FALSE(ran);
  EXPECT_EQ(queued.state(), fut::State::CANCELLED_AND_NOTIFIED);  // the worker noticed it
}

TEST(FuturesThreadPool, DroppedFuturesStillRunAndFreeTheirCall) {
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> weak = token;
  std::atomic<int> runs{0};
  {
    fut::ThreadPoolExecutor ex(2);
    for (int i = 0; i < 100; ++i) ex.submit([&runs, token] { ++runs; });
    token.reset();
  }
  EXPECT_EQ(runs, 100);
  EXPECT_TRUE(weak.expired());
}

TEST(FuturesThreadPool, CallIsReleasedWhileTheFutureLives) {
  // CPython issue 16284: a finished task keeps no reference to its callable.
  fut::ThreadPoolExecutor ex(1);
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> weak = token;
  auto f = ex.submit([t = std::move(token)] { return *t; });
  EXPECT_EQ(f.result(20s), 1);
  EXPECT_TRUE(weak.expired());
}

TEST(FuturesThreadPool, SubmitFromManyThreads) {
  fut::ThreadPoolExecutor ex(3);
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<fut::Future<long>>> fs(kThreads);
  std::latch go(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      go.arrive_and_wait();
      for (long i = 0; i < kEach; ++i) fs[t].push_back(ex.submit([i, t] { return i * kThreads + t; }));
    });
  }
  for (auto& t : ts) t.join();
  long sum = 0;
  for (auto& v : fs)
    for (auto& f : v) sum += f.result(20s);
  const long n = static_cast<long>(kThreads) * kEach;
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

TEST(FuturesThreadPool, SubmitFromInsideATask) {
  fut::ThreadPoolExecutor ex(2);
  auto outer = ex.submit([&] { return ex.submit([] { return 5; }); });
  EXPECT_EQ(outer.result(20s).result(20s), 5);
}

TEST(FuturesThreadPool, ShutdownFromATaskDoesNotJoinItself) {
  auto ex = std::make_unique<fut::ThreadPoolExecutor>(2);
  auto f = ex->submit([&] {
    ex->shutdown();  // waits for the other workers only
    return 1;
  });
  EXPECT_EQ(f.result(20s), 1);
  EXPECT_THROW(ex->submit([] {}), mpx::RuntimeError);
  ex.reset();
}

TEST(FuturesThreadPool, RacingCancelAndCompletion) {
  fut::ThreadPoolExecutor ex(2);
  for (int round = 0; round < 200; ++round) {
    std::vector<fut::Future<int>> fs;
    for (int i = 0; i < 20; ++i) fs.push_back(ex.submit([i] { return i; }));
    std::atomic<int> callbacks{0};
    for (auto& f : fs) f.add_done_callback([&](fut::Future<int>&) { ++callbacks; });
    for (int i = 0; i < 20; i += 2) fs[i].cancel();
    for (int i = 0; i < 20; ++i) {
      if (fs[i].cancelled()) {
        EXPECT_THROW(fs[i].result(20s), mpx::CancelledError);
      } else {
        EXPECT_EQ(fs[i].result(20s), i);
      }
    }
    EXPECT_TRUE(mpx::test::eventually([&] { return callbacks.load() == 20; }));
  }
}

TEST(FuturesThreadPool, ShutdownCancelFuturesTellsWaiters) {
  fut::ThreadPoolExecutor ex(1);
  Gate gate;
  auto first = ex.submit([&] { gate(); });
  ASSERT_TRUE(gate.started.wait());
  std::vector<fut::Future<void>> rest;
  for (int i = 0; i < 10; ++i) rest.push_back(ex.submit([] {}));
  std::thread waiter([&] {
    auto r = fut::wait(rest, 20s);
    EXPECT_EQ(r.done.size(), 10u);
  });
  ex.shutdown({.wait = false, .cancel_futures = true});
  for (auto& f : rest) EXPECT_TRUE(f.cancelled());
  waiter.join();  // Python would leave them CANCELLED, unseen by wait(), until its timeout
  gate.release.set();
  ex.shutdown();
}

TEST(FuturesThreadPool, IdleWorkerIsReused) {
  fut::ThreadPoolExecutor ex(4);
  for (int i = 0; i < 50; ++i) ex.submit([] { return 1; }).result(20s);
  EXPECT_EQ(ex.threads().size(), 1u);
}

TEST(FuturesThreadPool, DefaultMaxWorkers) {
  fut::ThreadPoolExecutor ex;
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(ex.max_workers(), std::min(32, CPU_COUNT(&set) + 4));
  EXPECT_THROW(fut::ThreadPoolExecutor(0), mpx::ValueError);
  EXPECT_THROW(fut::ThreadPoolExecutor({.max_workers = -1}), mpx::ValueError);
}

TEST(FuturesThreadPool, ThroughTheExecutorBase) {
  fut::ThreadPoolExecutor tpe(2);
  fut::Executor& ex = tpe;
  EXPECT_EQ(ex.submit([](int a, int b) { return a * b; }, 6, 7).result(20s), 42);
  ex.shutdown();
  EXPECT_THROW(ex.submit([] {}), mpx::RuntimeError);
}

TEST(FuturesThreadPool, BrokenInitializerFailsPendingAndLaterSubmits) {
  std::string err;
  err = capture_stderr([&] {
    Flag proceed;
    fut::ThreadPoolExecutor ex({.max_workers = 1, .initializer = [&] {
                                  proceed.wait();
                                  throw Custom("error in initializer");
                                }});
    auto a = ex.submit([] { return 1; });  // starts the worker, which waits in its initializer
    auto b = ex.submit([] { return 2; });
    proceed.set();
    EXPECT_THROW(a.result(20s), mpx::BrokenThreadPool);
    EXPECT_THROW(b.result(20s), mpx::BrokenThreadPool);
    EXPECT_THROW(ex.submit([] { return 3; }), mpx::BrokenThreadPool);
    EXPECT_EQ(ex.broken(), "A thread initializer failed, the thread pool is not usable anymore");
  });
  EXPECT_NE(err.find("Exception in initializer:"), std::string::npos) << err;
  EXPECT_NE(err.find("Custom: error in initializer"), std::string::npos) << err;
}

// ---- map -------------------------------------------------------------------------

TEST(FuturesMap, ResultsInOrderOverSeveralRanges) {
  fut::ThreadPoolExecutor ex(3);
  std::vector<int> a{1, 2, 3, 4};
  std::vector<int> b{10, 20, 30};
  std::vector<int> got;
  for (int v : ex.map([](int x, int y) { return x * y; }, a, b)) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{10, 40, 90}));
  auto squares = ex.map([](int x) { return x * x; }, std::views::iota(0, 5));
  std::vector<int> s;
  for (auto v : squares) s.push_back(v);
  EXPECT_EQ(s, (std::vector<int>{0, 1, 4, 9, 16}));
}

TEST(FuturesMap, ExceptionThenTheRest) {
  fut::ThreadPoolExecutor ex(2);
  auto it = ex.map(
      [](int x) {
        if (x == 1) throw Custom("one");
        return x;
      },
      std::vector{0, 1, 2});
  EXPECT_EQ(it.next(), 0);
  EXPECT_THROW(it.next(), Custom);
  EXPECT_EQ(it.next(), 2);
  EXPECT_EQ(it.next(), std::nullopt);
}

TEST(FuturesMap, VoidCallsYieldMonostate) {
  fut::ThreadPoolExecutor ex(2);
  std::atomic<int> n{0};
  int count = 0;
  for (auto v : ex.map([&](int) { ++n; }, std::vector{1, 2, 3})) {
    static_assert(std::is_same_v<decltype(v), std::monostate>);
    ++count;
  }
  EXPECT_EQ(count, 3);
  EXPECT_EQ(n, 3);
}

TEST(FuturesMap, BufferedReadsInputsLazily) {
  fut::ThreadPoolExecutor ex(2);
  std::atomic<int> calls{0};
  auto it = ex.map(
      {.buffersize = 2}, [&](long x) { return ++calls, x * 2; }, std::views::iota(0L));  // infinite
  EXPECT_EQ(it.next(), 0);
  EXPECT_EQ(it.next(), 2);
  EXPECT_EQ(it.next(), 4);
  it.close();
  EXPECT_EQ(it.next(), std::nullopt);
  ex.shutdown();
  EXPECT_LE(calls, 5);
  EXPECT_THROW(ex.map(
                   {.buffersize = 0}, [](int x) { return x; }, std::vector{1}),
               mpx::ValueError);
}

TEST(FuturesMap, NoIterablesNoCalls) {
  fut::ThreadPoolExecutor ex(1);
  auto it = ex.map([] { return 1; });
  EXPECT_EQ(it.next(), std::nullopt);
}

// ---- wait and as_completed ------------------------------------------------------------

TEST(FuturesWait, FirstCompletedReturnsAsSoonAsOneFinishes) {
  fut::ThreadPoolExecutor ex(2);
  Gate gate;
  auto slow = ex.submit([&] {
    gate();
    return 1;
  });
  auto fast = ex.submit([] { return 2; });
  auto r = fut::wait({slow, fast}, 20s, fut::FIRST_COMPLETED);
  EXPECT_EQ(r.done, (std::unordered_set<fut::Future<int>>{fast}));
  EXPECT_EQ(r.not_done, (std::unordered_set<fut::Future<int>>{slow}));
  gate.release.set();
  auto [done, not_done] = fut::wait({slow, fast});
  EXPECT_EQ(done.size(), 2u);
  EXPECT_TRUE(not_done.empty());
}

TEST(FuturesWait, ManyFuturesFromManyCompleters) {
  fut::ThreadPoolExecutor ex(4);
  for (int round = 0; round < 50; ++round) {
    std::vector<fut::Future<int>> fs;
    for (int i = 0; i < 64; ++i) fs.push_back(ex.submit([i] { return i; }));
    auto r = fut::wait(fs, 20s, fut::ALL_COMPLETED);
    ASSERT_EQ(r.done.size(), 64u);
    std::set<int> seen;
    for (auto f : fut::as_completed(fs, 20s)) seen.insert(f.result());
    EXPECT_EQ(seen.size(), 64u);
  }
}

TEST(FuturesAsCompleted, YieldsInFinishingOrder) {
  std::vector<fut::Future<int>> fs(3);
  auto ac = fut::as_completed(fs, 20s);
  std::thread t([&] {
    fs[2].set_result(2);
    fs[0].set_result(0);
    fs[1].set_result(1);
  });
  std::vector<int> order;
  for (auto f : ac) order.push_back(f.result());
  t.join();
  EXPECT_EQ(order, (std::vector<int>{2, 0, 1}));
}

TEST(FuturesAsCompleted, TimeoutEndsTheIteration) {
  std::vector<fut::Future<int>> fs(2);
  fs[0].set_result(1);
  auto ac = fut::as_completed(fs, 10ms);
  EXPECT_EQ(ac.next()->result(), 1);
  try {
    ac.next();
    FAIL() << "no TimeoutError";
  } catch (const mpx::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "1 (of 2) futures unfinished");
  }
  EXPECT_EQ(ac.next(), std::nullopt);
}
