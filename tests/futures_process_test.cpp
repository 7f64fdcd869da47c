// futures::ProcessPoolExecutor: Python's executor over worker processes, and
// what mpx adds (replace_dead_workers). CPython's test_concurrent_futures
// process cases are ported in conformance/futures_process_*_conformance_test.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mpx/futures.hpp"
#include "mpx/synchronize.hpp"
#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
namespace fut = mpx::futures;

namespace {

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
int my_pid() { return static_cast<int>(::getpid()); }
void nothing() {}
int fail(int) { throw std::out_of_range("out of range in a worker"); }
int die_by(int signo) {
  ::signal(signo, SIG_DFL);  // a sanitizer's SEGV handler would make the death an exit(1)
  ::raise(signo);
  return 0;
}
int hang(int) {
  for (;;) ::pause();
}
int g_value = 0;
void init_value(int v) { g_value = v; }
int read_value() { return g_value; }
void bad_init() { throw std::runtime_error("no init for you"); }

// Set before the workers fork; opened once every callback is in place.
std::optional<mpx::Event> g_go;
int gated(int x) {
  g_go->wait();
  if (x % 50 == 7) throw std::out_of_range("out of range in a worker");
  return x * x;
}

}  // namespace

TEST(ProcessPoolExecutor, SubmitRunsInAnotherProcess) {
  fut::ProcessPoolExecutor ex(2);
  EXPECT_EQ(ex.max_workers(), 2);
  auto f = ex.submit(square, 8);
  EXPECT_EQ(f.result(10s), 64);
  EXPECT_NE(ex.submit(my_pid).result(10s), ::getpid());
  EXPECT_EQ(ex.submit(add, 2, 40).result(10s), 42);
  ex.submit(nothing).result(10s);
  EXPECT_EQ(f.state(), fut::State::FINISHED);
}

TEST(ProcessPoolExecutor, ExceptionsArriveByType) {
  fut::ProcessPoolExecutor ex(1);
  auto f = ex.submit(fail, 1);
  EXPECT_THROW(f.result(10s), std::out_of_range);
  EXPECT_NE(f.exception(), nullptr);
}

TEST(ProcessPoolExecutor, MapInOrderWithChunksAndSeveralIterables) {
  fut::ProcessPoolExecutor ex(2);
  std::vector<int> xs(100);
  for (int i = 0; i < 100; ++i) xs[static_cast<std::size_t>(i)] = i;
  for (int cs : {1, 7, 100}) {
    std::vector<int> got;
    for (int v : ex.map({.chunksize = cs}, square, xs)) got.push_back(v);
    ASSERT_EQ(got.size(), 100u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i);
  }
  std::vector<int> sums;
  for (int v : ex.map(add, std::vector<int>{1, 2, 3}, std::vector<int>{10, 20})) sums.push_back(v);
  EXPECT_EQ(sums, (std::vector<int>{11, 22}));
  EXPECT_THROW(ex.map({.chunksize = 0}, square, xs), mpx::ValueError);
}

TEST(ProcessPoolExecutor, DoneCallbacksRunOnTheResultThread) {
  fut::ProcessPoolExecutor ex(1);
  mpx::test::Flag ran;
  std::atomic<std::thread::id> who{};
  auto f = ex.submit(square, 3);
  f.add_done_callback([&](fut::Future<int>&) {
    who = std::this_thread::get_id();
    ran.set();
  });
  EXPECT_EQ(f.result(10s), 9);
  ASSERT_TRUE(ran.wait(10s));
  // Either the result thread (it completed the future) or this thread, if
  // the future was already done when the callback was added (Python's rule).
  EXPECT_TRUE(who.load() != std::thread::id{});
}

TEST(ProcessPoolExecutor, PendingCallsCanBeCancelled) {
  fut::ProcessPoolExecutor ex(1);
  // One running and two in the call queue (max_workers + 1 besides the running); the rest pending.
  auto blocker = ex.submit(hang, 0);
  std::vector<fut::Future<int>> fs;
  for (int i = 0; i < 5; ++i) fs.push_back(ex.submit(square, i));
  EXPECT_FALSE(fs.front().cancel());  // already handed to the workers
  EXPECT_TRUE(fs.back().cancel());
  EXPECT_TRUE(fs.back().cancelled());
  ex.shutdown({.wait = false, .cancel_futures = true});
  EXPECT_FALSE(fs[1].cancelled());  // in the call queue
  for (std::size_t i = 2; i < fs.size(); ++i) EXPECT_TRUE(fs[i].cancelled()) << i;
  EXPECT_THROW(ex.submit(square, 1), mpx::RuntimeError);
  for (auto& p : ex.processes()) p.kill();  // let shutdown(wait) in the destructor finish
}

TEST(ProcessPoolExecutor, AKilledWorkerBreaksThePoolAsInPython) {
  fut::ProcessPoolExecutor ex(2);
  EXPECT_EQ(ex.submit(square, 2).result(10s), 4);
  auto f = ex.submit(die_by, SIGKILL);
  EXPECT_THROW(f.result(10s), mpx::BrokenProcessPool);
  EXPECT_NE(ex.broken(), "");
  EXPECT_THROW(ex.submit(square, 1), mpx::BrokenProcessPool);
}

TEST(ProcessPoolExecutor, ReplaceDeadWorkersFailsOnlyThatCall) {
  fut::ProcessPoolExecutor ex({.max_workers = 2, .replace_dead_workers = true});
  auto f = ex.submit(die_by, SIGSEGV);
  try {
    f.result(10s);
    FAIL();
  } catch (const mpx::WorkerLost& e) {
    EXPECT_EQ(e.exitcode(), -SIGSEGV);
  }
  EXPECT_EQ(ex.submit(square, 5).result(10s), 25);
  EXPECT_EQ(ex.broken(), "");
}

TEST(ProcessPoolExecutor, InitializerRunsFirstAndItsFailureBreaksThePool) {
  {
    fut::ProcessPoolExecutor ex({.max_workers = 2, .initializer = {init_value, 11}});
    EXPECT_EQ(ex.submit(read_value).result(10s), 11);
  }
  std::string err = mpx::test::capture_stderr([] {
    fut::ProcessPoolExecutor ex({.max_workers = 1, .initializer = bad_init});
    // The submit fails at once if the pool already knows, else its future does.
    EXPECT_THROW(ex.submit(square, 1).result(10s), mpx::BrokenProcessPool);
    EXPECT_NE(ex.broken().find("no init for you"), std::string::npos) << ex.broken();
  });
  (void)err;
}

TEST(ProcessPoolExecutor, WaitAndAsCompletedWork) {
  fut::ProcessPoolExecutor ex(2);
  std::vector<fut::Future<int>> fs;
  for (int i = 0; i < 10; ++i) fs.push_back(ex.submit(square, i));
  auto [done, not_done] = fut::wait(fs, 10s);
  EXPECT_EQ(done.size(), 10u);
  EXPECT_TRUE(not_done.empty());
  int sum = 0;
  for (auto f : fut::as_completed(fs, 10s)) sum += f.result();
  EXPECT_EQ(sum, 285);
}

TEST(ProcessPoolExecutor, Validation) {
  EXPECT_THROW(fut::ProcessPoolExecutor(0), mpx::ValueError);
  EXPECT_THROW(
      fut::ProcessPoolExecutor({.max_workers = 1, .mp_context = mpx::get_context("fork"), .max_tasks_per_child = 1}),
      mpx::ValueError);
  EXPECT_THROW(fut::ProcessPoolExecutor({.max_workers = 1, .max_tasks_per_child = 0}), mpx::ValueError);
}

TEST(ProcessPoolExecutor, MaxTasksPerChildUsesSpawnAndReplacesWorkers) {
  fut::ProcessPoolExecutor ex({.max_workers = 1, .max_tasks_per_child = 2});
  std::set<int> pids;
  for (int i = 0; i < 4; ++i) pids.insert(ex.submit(my_pid).result(20s));
  EXPECT_EQ(pids.size(), 2u);
}

// Spawned workers start on demand (Python 3.9+): one per submit that finds
// none idle. A done callback runs on the result thread, which must not wait
// for a worker to start (the supervisor may be waiting for it to read): its
// submit asks for one and returns.
TEST(ProcessPoolExecutor, SpawnWorkersStartOnDemandAlsoFromACallback) {
  fut::ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mpx::get_context("spawn")});
  EXPECT_TRUE(ex.processes().empty());
  auto first = ex.submit(square, 2);
  EXPECT_EQ(ex.processes().size(), 1u);
  std::vector<fut::Future<int>> more;
  std::promise<void> submitted;
  first.add_done_callback([&](fut::Future<int>&) {
    more.push_back(ex.submit(square, 3));  // takes the idle worker
    more.push_back(ex.submit(square, 4));  // none idle: asks for a second
    submitted.set_value();
  });
  EXPECT_EQ(first.result(20s), 4);
  ASSERT_EQ(submitted.get_future().wait_for(20s), std::future_status::ready);
  ex.shutdown();  // waits for the calls the callback made
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].result(), 9);
  EXPECT_EQ(more[1].result(), 16);
}

TEST(ProcessPoolExecutor, ShutdownWaitsForQueuedCalls) {
  fut::ProcessPoolExecutor ex(2);
  std::vector<fut::Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit(square, i));
  ex.shutdown();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), i * i);
  }
  EXPECT_TRUE(ex.processes().empty());
}

// A thread waiting in result() reads the executor's results itself
// (detail/process_pool.hpp) and completes the futures without callbacks;
// done callbacks still all run on the one result thread, waiters
// (as_completed) still hear of every future, exceptions still arrive.
TEST(ProcessPoolExecutor, WaitingThreadsLeaveDoneCallbacksToTheResultThread) {
  g_go.emplace();
  fut::ProcessPoolExecutor ex({.max_workers = 2, .mp_context = mpx::get_context("fork")});
  std::mutex mu;
  std::set<std::thread::id> callback_threads;
  std::atomic<int> callbacks{0};
  std::vector<fut::Future<int>> fs;
  for (int i = 0; i < 400; ++i) {
    fs.push_back(ex.submit(gated, i));
    if (i % 3 == 0) {
      fs.back().add_done_callback([&](fut::Future<int>&) {
        std::lock_guard lock(mu);
        callback_threads.insert(std::this_thread::get_id());
        ++callbacks;
      });
    }
  }
  std::vector<fut::Future<int>> watched(fs.begin() + 100, fs.begin() + 200);
  g_go->set();
  std::thread other([&] {
    int n = 0;
    for (fut::Future<int> f : fut::as_completed(watched, 60s)) n += f.done();
    EXPECT_EQ(n, 100);
  });
  for (int i = 0; i < 400; ++i) {
    if (i % 50 == 7) {
      EXPECT_THROW(fs[static_cast<std::size_t>(i)].result(30s), std::out_of_range);
    } else {
      EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(30s), i * i);
    }
  }
  other.join();
  ex.shutdown(true);
  EXPECT_EQ(callbacks.load(), 134);
  ASSERT_EQ(callback_threads.size(), 1u);
  EXPECT_EQ(callback_threads.count(std::this_thread::get_id()), 0u);
  g_go.reset();
}
