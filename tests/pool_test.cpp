// mpx::Pool: the calls of multiprocessing.Pool, and what mpx adds (dead
// workers, per-task timeouts, exceptions by type, callbacks' thread).
// CPython's own cases are ported in conformance/pool_conformance_test.cpp and
// conformance/pool_worker_conformance_test.cpp;
// kill -9 from outside at random points is in fault/pool_fault_test.cpp.
#include "mpx/pool.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mpx/threading.hpp"
#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
using mpx::test::capture_stderr;

namespace {

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
int my_pid() { return static_cast<int>(::getpid()); }
void nothing() {}
std::string shout(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s + "!";
}
int fail_on_5(int x) {
  if (x == 5) throw std::invalid_argument("five is not allowed");
  return x;
}
struct Custom : std::runtime_error {
  using std::runtime_error::runtime_error;
};
int throw_custom(int) { throw Custom("custom failure"); }
int throw_int(int) { throw 42; }
int throw_os(int) { throw mpx::OSError(EACCES, "open(/x): Permission denied"); }
int die_by(int signo) {
  ::signal(signo, SIG_DFL);  // a sanitizer's SEGV handler would make the death an exit(1)
  ::raise(signo);
  return 0;
}
int segfault(int) {
  ::signal(SIGSEGV, SIG_DFL);  // as die_by
  // A real fault, at an address UBSan's null check does not stop first
  // (read from a volatile, so the compiler cannot see it is bogus).
  volatile std::uintptr_t address = 8;
  return *reinterpret_cast<volatile int*>(address);
}
int hang(int) {
  for (;;) ::pause();
}
int exit_with(int code) { mpx::exit(code); }
int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // the task's work, not synchronization
  return ms;
}

int g_init_value = 0;
void set_init_value(int v) { g_init_value = v; }
int read_init_value(int) { return g_init_value; }
void failing_init() { throw std::runtime_error("initializer failed"); }

// Calls whose callbacks note the threads they run on.
struct CallbackThreads {
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> count{0};
  std::vector<mpx::AsyncResult<int>> submit_squares(mpx::Pool& pool, int n) {
    std::vector<mpx::AsyncResult<int>> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(pool.apply_async({.callback =
                                          [this](const int&) {
                                            std::lock_guard lock(mu);
                                            ids.insert(std::this_thread::get_id());
                                            ++count;
                                          }},
                                     square, i));
    }
    return out;
  }
};

}  // namespace

TEST(Pool, ApplyRunsInAWorker) {
  mpx::Pool pool(2);
  EXPECT_EQ(pool.processes(), 2);
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_EQ(pool.apply(add, 2, 3), 5);
  EXPECT_NE(pool.apply(my_pid), ::getpid());
  EXPECT_EQ(pool.apply(shout, std::string("hi")), "HI!");
  pool.apply(nothing);
}

TEST(Pool, ApplyAsyncResultApi) {
  mpx::Pool pool(2);
  auto r = pool.apply_async(square, 9);
  EXPECT_EQ(r.get(10s), 81);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_TRUE(r.wait(0s));
  auto h = pool.apply_async(hang, 0);
  EXPECT_FALSE(h.ready());
  EXPECT_THROW(h.successful(), mpx::ValueError);
  EXPECT_THROW(h.get(10ms), mpx::TimeoutError);
  EXPECT_FALSE(h.wait(10ms));
}

TEST(Pool, MapKeepsOrderForEveryChunking) {
  mpx::Pool pool(2);
  std::vector<int> in(1000);
  std::iota(in.begin(), in.end(), 0);
  std::vector<int> want;
  for (int x : in) want.push_back(x * x);
  EXPECT_EQ(pool.map(square, in), want);
  for (long cs : {1L, 3L, 7L, 1000L, 5000L}) EXPECT_EQ(pool.map({.chunksize = cs}, square, in), want) << cs;
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
  EXPECT_THROW(pool.map({.chunksize = 0}, square, in), mpx::ValueError);
  // Any input range, materialized as Python's list(iterable).
  EXPECT_EQ(pool.map(square, std::views::iota(0, 5)), (std::vector<int>{0, 1, 4, 9, 16}));
}

TEST(Pool, StarmapUnpacksTuples) {
  mpx::Pool pool(2);
  std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<int>{3, 7, 11}));
  auto r = pool.starmap_async({.chunksize = 2}, add, pairs);
  EXPECT_EQ(r.get(10s), (std::vector<int>{3, 7, 11}));
}

TEST(Pool, MapOfVoidGivesNones) {
  mpx::Pool pool(1);
  auto out = pool.map([](int) {}, std::vector<int>{1, 2, 3});
  EXPECT_EQ(out.size(), 3u);
}

TEST(Pool, ImapInOrderAndUnordered) {
  mpx::Pool pool(2);
  std::vector<int> in(200);
  std::iota(in.begin(), in.end(), 0);
  std::vector<int> got;
  for (int v : pool.imap(square, in)) got.push_back(v);
  std::vector<int> want;
  for (int x : in) want.push_back(x * x);
  EXPECT_EQ(got, want);
  got.clear();
  for (int v : pool.imap({.chunksize = 16}, square, in)) got.push_back(v);
  EXPECT_EQ(got, want);
  std::multiset<int> unordered;
  for (int v : pool.imap_unordered({.chunksize = 5}, square, in)) unordered.insert(v);
  EXPECT_EQ(unordered, std::multiset<int>(want.begin(), want.end()));
  auto it = pool.imap(square, std::vector<int>{3});
  EXPECT_EQ(it.next(10s), 9);
  EXPECT_EQ(it.next(), std::nullopt);
}

TEST(Pool, ImapNextTimesOutThenGoesOn) {
  mpx::Pool pool(1);
  auto it = pool.imap(sleep_ms, std::vector<int>{200});
  EXPECT_THROW(it.next(1ms), mpx::TimeoutError);
  EXPECT_EQ(it.next(10s), 200);
}

TEST(Pool, ImapRaisesAtTheFailingItemAndGoesOn) {
  mpx::Pool pool(2);
  auto it = pool.imap(fail_on_5, std::vector<int>{4, 5, 6});
  EXPECT_EQ(it.next(), 4);
  EXPECT_THROW(it.next(), std::invalid_argument);
  EXPECT_EQ(it.next(), 6);
  EXPECT_EQ(it.next(), std::nullopt);
}

TEST(Pool, ExceptionsArriveByType) {
  mpx::Pool pool(1);
  try {
    pool.apply(fail_on_5, 5);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "five is not allowed");
  }
  try {
    pool.apply(throw_custom, 0);
    FAIL();
  } catch (const mpx::RemoteError& e) {
    EXPECT_NE(e.type_name().find("Custom"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "custom failure");
  }
  try {
    pool.apply(throw_os, 0);
    FAIL();
  } catch (const mpx::OSError& e) {
    EXPECT_EQ(e.errno_value(), EACCES);
  }
  EXPECT_THROW(pool.apply(throw_int, 0), mpx::RemoteError);
  EXPECT_THROW(pool.map(fail_on_5, std::vector<int>{1, 5, 9}), std::invalid_argument);
  // The worker survived all of it.
  EXPECT_EQ(pool.apply(square, 3), 9);
}

TEST(Pool, CallbacksRunOnTheResultThreadBeforeGetReturns) {
  mpx::Pool pool(2);
  std::atomic<std::thread::id> callback_thread{};
  std::atomic<int> seen{0};
  auto r = pool.apply_async({.callback =
                                 [&](const int& v) {
                                   callback_thread = std::this_thread::get_id();
                                   seen = v;
                                 }},
                            square, 6);
  EXPECT_EQ(r.get(10s), 36);
  EXPECT_EQ(seen.load(), 36);  // Python's _set: the callback ran before get() returned
  EXPECT_NE(callback_thread.load(), std::this_thread::get_id());
  std::atomic<std::thread::id> error_thread{};
  std::string error_text;
  auto e = pool.apply_async({.error_callback =
                                 [&](std::exception_ptr x) {
                                   error_thread = std::this_thread::get_id();
                                   try {
                                     std::rethrow_exception(x);
                                   } catch (const std::exception& ex) {
                                     error_text = ex.what();
                                   }
                                 }},
                            fail_on_5, 5);
  EXPECT_THROW(e.get(10s), std::invalid_argument);
  EXPECT_EQ(error_text, "five is not allowed");
  EXPECT_EQ(error_thread.load(), callback_thread.load());  // one result thread for the pool
  std::vector<int> list;
  auto m = pool.map_async({.callback = [&](const std::vector<int>& v) { list = v; }}, square, std::vector<int>{1, 2});
  m.wait();
  EXPECT_EQ(list, (std::vector<int>{1, 4}));
}

TEST(Pool, ACallbackThatThrowsIsReportedAndTheResultStands) {
  mpx::Pool pool(1);
  std::string err = capture_stderr([&] {
    auto r = pool.apply_async({.callback = [](const int&) { throw std::runtime_error("callback broke"); }}, square, 2);
    EXPECT_EQ(r.get(10s), 4);
  });
  EXPECT_NE(err.find("callback broke"), std::string::npos) << err;
  EXPECT_EQ(pool.apply(square, 5), 25);
}

// ---- beyond Python: dead and hung workers ---------------------------------------

TEST(Pool, AWorkerKilledFailsOnlyItsTaskWithWorkerLost) {
  mpx::Pool pool(2);
  for (int signo : {SIGKILL, SIGSEGV, SIGABRT, SIGTERM}) {
    try {
      pool.apply(die_by, signo);
      FAIL() << signo;
    } catch (const mpx::WorkerLost& e) {
      EXPECT_EQ(e.exitcode(), -signo);
      EXPECT_NE(std::string(e.what()).find(std::string("SIG") + ::sigabbrev_np(signo)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(pool.apply(segfault, 0), mpx::WorkerLost);
  try {  // mpx::exit() in a task is an error for the caller, not a death
    pool.apply(exit_with, 3);
    FAIL();
  } catch (const mpx::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "SystemExit");
  }
  // Replaced: the pool has its two workers and goes on.
  EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(pool.workers().size(), 2u);
}

TEST(Pool, AMapWithACrashingItemFailsAndTheOthersStillRun) {
  mpx::Pool pool(2);
  std::vector<int> in{0, 0, SIGKILL, 0};
  auto it = pool.imap(die_by, in);
  EXPECT_EQ(it.next(10s), 0);
  EXPECT_EQ(it.next(10s), 0);
  EXPECT_THROW(it.next(10s), mpx::WorkerLost);
  EXPECT_EQ(it.next(10s), 0);
}

TEST(Pool, ATimedOutTaskHasItsWorkerReplaced) {
  mpx::Pool pool(2);
  auto slow = pool.apply_async({.timeout = 100ms}, hang, 0);
  auto fast = pool.apply_async(square, 4);
  EXPECT_EQ(fast.get(10s), 16);
  EXPECT_THROW(slow.get(10s), mpx::TimeoutError);
  EXPECT_EQ(pool.apply(square, 5), 25);
  EXPECT_EQ(pool.apply_async({.timeout = 10s}, square, 6).get(10s), 36);  // armed and disarmed
}

TEST(Pool, APoolWideTimeoutAppliesToEveryTask) {
  mpx::Pool pool({.processes = 1, .timeout = 100ms});
  EXPECT_THROW(pool.apply(hang, 0), mpx::TimeoutError);
  EXPECT_THROW(pool.map({.chunksize = 1}, hang, std::vector<int>{1}), mpx::TimeoutError);
  EXPECT_EQ(pool.apply(square, 2), 4);
}

std::size_t length_of(std::string s) { return s.size(); }
std::size_t crash_with_data(std::string) {
  ::raise(SIGKILL);
  return 0;
}

TEST(Pool, TasksLargerThanTheRingTravelWhole) {
  mpx::Pool pool(2);
  const std::string big(9u << 20, 'x');  // twice the 4 MiB task ring
  EXPECT_EQ(pool.apply(length_of, big), big.size());
  auto sizes = pool.map({.chunksize = 1}, length_of, std::vector<std::string>(3, big));
  EXPECT_EQ(sizes, std::vector<std::size_t>(3, big.size()));
  // CPython's test_crash_big_data (gh-94777): big calls whose workers die
  // fail, and nothing hangs.
  std::vector<std::string> calls(6, std::string((4u << 20) + 1, 'a'));
  EXPECT_THROW(pool.map({.chunksize = 1}, crash_with_data, calls), mpx::WorkerLost);
  EXPECT_EQ(pool.apply(length_of, std::string(10, 'y')), 10u);
}

// ---- lifecycle -----------------------------------------------------------------

TEST(Pool, CloseThenJoinFinishesQueuedWork) {
  mpx::Pool pool(2);
  auto r = pool.map_async(sleep_ms, std::vector<int>{20, 20, 20, 20});
  pool.close();
  EXPECT_THROW(pool.apply(square, 1), mpx::ValueError);
  pool.join();
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get().size(), 4u);
  EXPECT_TRUE(pool.workers().empty());
}

TEST(Pool, JoinBeforeCloseIsAnError) {
  mpx::Pool pool(1);
  EXPECT_THROW(pool.join(), mpx::ValueError);
}

TEST(Pool, TerminateFailsWhatWasQueuedOrRunning) {
  mpx::Pool pool(1);
  auto running = pool.apply_async(hang, 0);
  auto queued = pool.apply_async(square, 2);
  pool.terminate();
  EXPECT_THROW(running.get(10s), mpx::ProcessError);
  EXPECT_THROW(queued.get(10s), mpx::ProcessError);
  EXPECT_THROW(pool.apply_async(square, 1), mpx::ValueError);
  EXPECT_TRUE(pool.workers().empty());
}

// map() feeds the ring from its caller's thread as completions make room
// (at most about two batches of messages wait in the parent). A terminate()
// from another thread must end that feeding too, not leave map() waiting
// for room that never comes.
TEST(Pool, TerminateEndsAMapWhoseCallerIsFeeding) {
  mpx::Pool pool(1);
  std::vector<int> items(100000, 0);  // more than the ring holds: the caller feeds
  auto mapping = std::async(std::launch::async, [&] {
    try {
      pool.map({.chunksize = 1}, hang, items);
    } catch (const mpx::ProcessError&) {  // terminated while feeding or waiting
      return true;
    } catch (const mpx::ValueError& e) {  // terminated between two batches
      return std::string(e.what()) == "Pool not running";
    }
    return false;
  });
  auto first = pool.apply_async(square, 3);  // queued behind the map's first batch
  (void)first;
  pool.terminate();
  ASSERT_EQ(mapping.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(mapping.get());
}

TEST(Pool, DestructionTerminatesLikeWith) {
  mpx::AsyncResult<int> r = [] {
    mpx::Pool pool(1);
    return pool.apply_async(hang, 0);
  }();
  EXPECT_THROW(r.get(10s), mpx::ProcessError);
}

TEST(Pool, InitializerRunsInEveryWorker) {
  mpx::Pool pool({.processes = 2, .initializer = {set_init_value, 7}});
  auto v = pool.map({.chunksize = 1}, read_init_value, std::vector<int>(8, 0));
  EXPECT_EQ(v, std::vector<int>(8, 7));
}

TEST(Pool, AFailingInitializerBreaksThePool) {
  std::string err = capture_stderr([] {
    mpx::Pool pool({.processes = 1, .initializer = failing_init});
    // The call fails at once if the pool already knows, else its result does.
    EXPECT_THROW(pool.apply_async(square, 2).get(10s), mpx::BrokenProcessPool);
    EXPECT_THROW(pool.apply_async(square, 2), mpx::BrokenProcessPool);
  });
  (void)err;
}

TEST(Pool, MaxTasksPerChildReplacesWorkers) {
  mpx::Pool pool({.processes = 1, .maxtasksperchild = 2});
  std::set<int> pids;
  for (int i = 0; i < 6; ++i) pids.insert(pool.apply(my_pid));
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_THROW(mpx::Pool({.processes = 1, .maxtasksperchild = 0}), mpx::ValueError);
  EXPECT_THROW(mpx::Pool(0), mpx::ValueError);
}

TEST(Pool, SpawnContextWorkers) {
  mpx::Pool pool({.processes = 2, .context = mpx::get_context("spawn")});
  EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
  EXPECT_THROW(pool.apply(die_by, SIGKILL), mpx::WorkerLost);
  EXPECT_EQ(pool.apply(shout, std::string("spawned")), "SPAWNED!");
}

TEST(Pool, WorksFromManyThreadsAtOnce) {
  mpx::Pool pool(2);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) ok += pool.apply(square, t * 100 + i) == (t * 100 + i) * (t * 100 + i);
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok.load(), 200);
}

// A map's results are decoded straight into the list: results of every
// kind land in their place, whatever the chunk size (a vector<bool>'s
// element is a proxy; a void function's results are None each).
namespace {
bool is_even(int x) { return x % 2 == 0; }
std::pair<int, std::string> labelled(int x) { return {x, std::to_string(x)}; }
void ignore(int) {}
}  // namespace

TEST(Pool, MapResultsOfEveryKindLandInTheirPlace) {
  mpx::Pool pool(2);
  std::vector<int> items(1000);
  std::iota(items.begin(), items.end(), 0);
  for (std::size_t chunksize : {std::size_t{1}, std::size_t{7}}) {
    std::vector<bool> even = pool.map({.chunksize = chunksize}, is_even, items);
    ASSERT_EQ(even.size(), items.size());
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(even[static_cast<std::size_t>(i)], i % 2 == 0) << i;
    auto pairs = pool.map({.chunksize = chunksize}, labelled, items);
    ASSERT_EQ(pairs.size(), items.size());
    for (int i = 0; i < 1000; ++i) {
      EXPECT_EQ(pairs[static_cast<std::size_t>(i)].first, i);
      EXPECT_EQ(pairs[static_cast<std::size_t>(i)].second, std::to_string(i));
    }
    EXPECT_EQ(pool.map({.chunksize = chunksize}, ignore, items).size(), items.size());
    EXPECT_EQ(pool.map({.chunksize = chunksize}, shout, std::vector<std::string>{"a", "bc"}),
              (std::vector<std::string>{"A!", "BC!"}));
  }
}

// A map()'s caller feeds the workers and reads the results itself (one
// thread does the parent's share of a map). Calls with callbacks submitted
// meanwhile by another thread land in the same result ring: the caller
// hands each of them, with the rest of what it read, to the result thread,
// and their callbacks still run there, in submission order per call.
TEST(Pool, AMapCallerReadingItsResultsLeavesCallbacksToTheResultThread) {
  mpx::Pool pool(2);
  std::vector<int> items(20000);
  std::iota(items.begin(), items.end(), 0);
  std::thread::id mapper;
  std::future<bool> mapping = std::async(std::launch::async, [&] {
    mapper = std::this_thread::get_id();
    bool right = true;
    for (int round = 0; round < 3; ++round) {
      auto out = pool.map({.chunksize = 1}, square, items);
      right = right && out.size() == items.size();
      for (std::size_t i = 0; right && i < out.size(); ++i) right = out[i] == items[i] * items[i];
    }
    return right;
  });
  CallbackThreads noted;
  std::vector<mpx::AsyncResult<int>> loud = noted.submit_squares(pool, 300);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(loud[static_cast<std::size_t>(i)].get(30s), i * i);
  ASSERT_EQ(mapping.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(mapping.get());
  EXPECT_EQ(noted.count.load(), 300);
  ASSERT_EQ(noted.ids.size(), 1u);
  EXPECT_EQ(noted.ids.count(mapper), 0u);
  EXPECT_EQ(noted.ids.count(std::this_thread::get_id()), 0u);
  // A map with a callback is not read by its caller: the callback runs on
  // the result thread too.
  std::thread::id map_callback;
  auto out = pool.map(
      {.chunksize = 1, .callback = [&](const std::vector<int>&) { map_callback = std::this_thread::get_id(); }}, square,
      items);
  EXPECT_EQ(out.size(), items.size());
  EXPECT_EQ(noted.ids.count(map_callback), 1u);
}

// A thread waiting in get() for a call without callbacks reads the results
// itself (detail/process_pool.hpp): calls with callbacks submitted meanwhile
// by another thread still have them run on the one result thread, and
// results nobody waits for still arrive.
TEST(Pool, WaitingThreadsReadResultsAndCallbacksStayOnTheResultThread) {
  mpx::Pool pool(2);
  CallbackThreads noted;
  std::vector<std::thread::id> waiters;
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i)
        ok += pool.apply_async(square, t * 1000 + i).get() == (t * 1000 + i) * (t * 1000 + i);
    });
    waiters.push_back(ts.back().get_id());
  }
  std::vector<mpx::AsyncResult<int>> loud = noted.submit_squares(pool, 200);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(loud[static_cast<std::size_t>(i)].get(), i * i);
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(noted.count.load(), 200);
  ASSERT_EQ(noted.ids.size(), 1u);  // the result thread, none of the waiting ones
  EXPECT_EQ(noted.ids.count(std::this_thread::get_id()), 0u);
  for (auto id : waiters) EXPECT_EQ(noted.ids.count(id), 0u);
  // Nobody waits: the result thread collects it (ready() only looks).
  auto r = pool.apply_async(square, 9);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!r.ready() && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  EXPECT_TRUE(r.ready());
  EXPECT_EQ(r.get(), 81);
}

// ---- progress ----------------------------------------------------------------

TEST(Pool, ProgressLineOnlyWhenStderrIsATerminal) {
  mpx::Pool pool(2);
  std::vector<int> in(300, 3);
  std::string quiet = capture_stderr([&] { pool.map({.progress = true}, square, in); });
  EXPECT_EQ(quiet, "");  // a file: nothing

  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
    GTEST_SKIP() << "no pseudo-terminal here (openpty: " << std::strerror(errno) << "): the terminal half is not run";
  }
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(slave, STDERR_FILENO), STDERR_FILENO);
  auto out = pool.map({.chunksize = 10, .progress = true}, square, in);
  std::vector<int> got;
  for (int v : pool.imap({.progress = true}, square, std::vector<int>{1, 2})) got.push_back(v);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(slave);
  EXPECT_EQ(out.size(), 300u);
  EXPECT_EQ(got, (std::vector<int>{1, 4}));
  std::string drawn;
  char buf[4096];
  pollfd pfd{master, POLLIN, 0};
  while (::poll(&pfd, 1, 100) > 0) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    drawn.append(buf, static_cast<std::size_t>(n));
  }
  ::close(master);
  EXPECT_NE(drawn.find("300/300"), std::string::npos) << drawn;
  EXPECT_NE(drawn.find("2/2"), std::string::npos) << drawn;
  EXPECT_NE(drawn.find("items/s"), std::string::npos) << drawn;
}

TEST(Pool, AContextsPoolUsesItsStartMethod) {
  for (const std::string method : {"fork", "spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    auto pool = mpx::get_context(method).Pool(2);
    EXPECT_EQ(pool.processes(), 2);
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
    auto pool2 = mpx::get_context(method).Pool({.processes = 1, .initializer = {set_init_value, 5}});
    EXPECT_EQ(pool2.apply(read_init_value, 0), 5);
  }
}
