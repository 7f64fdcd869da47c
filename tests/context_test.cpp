// Start methods and contexts: set/get_start_method, get_context, and the
// spawn method (a fresh run of this test binary, told what to run by
// mpx::init in tests/support/main.cpp). The shared objects that travel are
// checked under spawn and forkserver alike (FreshSharedObjects); the rest of
// forkserver is in forkserver_test.cpp.
#include "mpx/context.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "mpx/queues.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/synchronize.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

int g_touched_by_parent = 0;

void exit_with(int code) { mpx::exit(code); }

void print_args(int n, std::string s, std::vector<double> v) {
  std::printf("n=%d s=%s v=%zu:%g\n", n, s.c_str(), v.size(), v.empty() ? 0.0 : v.back());
  std::fflush(stdout);
}

void exit_with_global() { mpx::exit(g_touched_by_parent); }

void report_identity() {
  auto parent = mpx::parent_process();
  std::printf("%s|%s|%d\n", mpx::current_process().name().c_str(), parent ? parent->name().c_str() : "none",
              parent ? parent->pid() : 0);
  std::fflush(stdout);
}

void throw_error() { throw mpx::ValueError("bad value in the child"); }

void sleep_forever() {
  for (;;) ::pause();
}

}  // namespace

TEST(StartMethods, AllAndDefault) {
  auto all = mpx::get_all_start_methods();
  EXPECT_EQ(all.front(), "fork");  // Python: the default first
  EXPECT_NE(std::find(all.begin(), all.end(), "spawn"), all.end());
  EXPECT_EQ(mpx::get_start_method(), "fork");
  EXPECT_EQ(mpx::get_context().get_start_method(), "fork");
  EXPECT_EQ(mpx::get_context("spawn").get_start_method(), "spawn");
  EXPECT_EQ(mpx::get_context("forkserver").get_start_method(), "forkserver");
  EXPECT_THROW(mpx::get_context("telepathy"), mpx::ValueError);
  EXPECT_THROW(mpx::set_start_method("telepathy"), mpx::ValueError);
}

TEST(StartMethods, SetOnceUnlessForced) {
  // Python: "context has already been set" once the default was fixed
  // (asking for it fixes it).
  EXPECT_EQ(mpx::get_start_method(), "fork");
  EXPECT_THROW(mpx::set_start_method("spawn"), mpx::RuntimeError);
  mpx::set_start_method("spawn", true);
  EXPECT_EQ(mpx::get_start_method(), "spawn");
  mpx::Process p(exit_with, 4);  // the default now spawns
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 4);
  mpx::set_start_method("fork", true);
  EXPECT_EQ(mpx::get_start_method(), "fork");
}

TEST(Spawn, RunsAShippedFunctionWithItsArguments) {
  auto ctx = mpx::get_context("spawn");
  std::string out = mpx::test::capture_stdout([&] {
    auto p = ctx.Process(print_args, 7, std::string("seven"), std::vector<double>{1, 2, 3.5});
    p.start();
    ASSERT_TRUE(p.join(20s));
    EXPECT_EQ(p.exitcode(), 0);
  });
  EXPECT_EQ(out, "n=7 s=seven v=3:3.5\n");
}

TEST(Spawn, ExitCodesAsUnderFork) {
  auto ctx = mpx::get_context("spawn");
  auto p = ctx.Process(exit_with, 3);
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 3);

  auto q = ctx.Process(throw_error);  // uncaught exception: 1, reported on stderr
  q.start();
  ASSERT_TRUE(q.join(20s));
  EXPECT_EQ(q.exitcode(), 1);

  auto k = ctx.Process(sleep_forever);
  k.start();
  k.kill();
  ASSERT_TRUE(k.join(20s));
  EXPECT_EQ(k.exitcode(), -SIGKILL);
}

TEST(Spawn, TheChildIsAFreshProgramNotACopy) {
  g_touched_by_parent = 9;  // a fork child would see 9
  auto p = mpx::get_context("spawn").Process(exit_with_global);
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  g_touched_by_parent = 0;
}

TEST(Spawn, NamesAndParent) {
  auto ctx = mpx::get_context("spawn");
  std::string out = mpx::test::capture_stdout([&] {
    auto p = ctx.Process(mpx::ProcessOptions{.name = "worker-7"}, report_identity);
    p.start();
    ASSERT_TRUE(p.join(20s));
  });
  EXPECT_EQ(out, "worker-7|MainProcess|" + std::to_string(::getpid()) + "\n");
}

TEST(Spawn, TheSpawnContextKnowsItsMethodAtCompileTime) {
  auto ctx = mpx::spawn_context();
  EXPECT_EQ(ctx.get_start_method(), "spawn");
  auto p = ctx.Process(exit_with, 6);  // a capturing lambda would not compile (a compile-fail ctest)
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 6);
}

TEST(Spawn, CapturelessLambdaTravels) {
  auto p = mpx::get_context("spawn").Process([](int a, int b) { mpx::exit(a + b); }, 2, 5);
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 7);
}

TEST(Spawn, ACallableThatCannotTravelIsRefused) {
  int captured = 1;
  auto ctx = mpx::get_context("spawn");
  // Through a spawn context: at once.
  EXPECT_THROW(ctx.Process([captured] { mpx::exit(captured); }), mpx::ProcessError);
  // Through the default method: at start(), and the process is not started.
  mpx::set_start_method("spawn", true);
  mpx::Process p([captured] { mpx::exit(captured); });
  EXPECT_THROW(p.start(), mpx::ProcessError);
  mpx::set_start_method("fork", true);
  // Under fork the same callable runs.
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(Spawn, DaemonChildDiesWithItsParent) {
  auto ctx = mpx::get_context("spawn");
  // The daemon's parent is a fork child we SIGKILL: the spawned daemon must
  // not outlive it (PR_SET_PDEATHSIG, as for fork daemons).
  auto [r, w] = mpx::Pipe(false);
  mpx::Process middle([&, ctx] {
    auto d = ctx.Process(mpx::ProcessOptions{.daemon = true}, sleep_forever);
    d.start();
    w.send(d.pid());
    for (;;) ::pause();
  });
  middle.start();
  int daemon_pid = r.recv<int>();
  middle.kill();
  ASSERT_TRUE(middle.join(20s));
  // The daemon is reparented and killed; wait until it is gone.
  auto until = std::chrono::steady_clock::now() + 20s;
  while (mpx::test::proc_state(daemon_pid) != 0 && mpx::test::proc_state(daemon_pid) != 'Z' &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  char state = mpx::test::proc_state(daemon_pid);
  EXPECT_TRUE(state == 0 || state == 'Z') << "state " << state;
}

namespace {

void hold_lock(mpx::Lock lock, mpx::Event held, mpx::Event go) {
  lock.acquire();
  held.set();
  go.wait();
  lock.release();
}

void use_everything(mpx::Value<int> v, mpx::Array<double> a, mpx::Queue<std::string> q, mpx::JoinableQueue<int> jq,
                    mpx::Semaphore sem, mpx::Condition cond, mpx::Connection& conn) {
  {
    std::scoped_lock hold(v.get_lock());
    v = v.value() + 41;
  }
  a.set(2, a.get(2) * 10);
  q.put("from the spawned child: " + std::to_string(conn.recv<int>()));
  int n = jq.get();
  jq.task_done();
  sem.release();
  {
    std::scoped_lock hold(cond);
    cond.notify_all();
  }
  conn.send(n * 2);
}

}  // namespace

// Spawn and forkserver children both get the call and its shared objects
// through the same request (os/popen_spawn.hpp).
class FreshSharedObjects : public ::testing::TestWithParam<std::string> {
 protected:
  mpx::Context ctx() const { return mpx::get_context(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(Method, FreshSharedObjects, ::testing::Values("spawn", "forkserver"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(FreshSharedObjects, AreTheSameObjectsInTheChild) {
  auto ctx = this->ctx();
  mpx::Lock lock;
  mpx::Event held, go;
  auto p = ctx.Process(hold_lock, lock, held, go);
  p.start();
  ASSERT_TRUE(held.wait(20s));
  EXPECT_FALSE(lock.acquire(false));  // the child holds *this* lock
  go.set();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(lock.acquire(5s));
  lock.release();
}

TEST_P(FreshSharedObjects, ValuesArraysQueuesSemaphoresConditionsAndConnectionsTravel) {
  auto ctx = this->ctx();
  mpx::Value<int> v(1);
  mpx::Array<double> a{1.0, 2.0, 3.0};
  mpx::Queue<std::string> q;
  mpx::JoinableQueue<int> jq;
  mpx::Semaphore sem(0);
  mpx::Condition cond;
  auto [mine, theirs] = mpx::Pipe();
  jq.put(21);
  auto p = ctx.Process(use_everything, v, a, q, jq, sem, cond, std::move(theirs));
  p.start();
  mine.send(5);
  EXPECT_EQ(q.get(20s), "from the spawned child: 5");
  EXPECT_TRUE(jq.join(20s));
  EXPECT_TRUE(sem.acquire(20s));
  EXPECT_EQ(mine.recv<int>(), 42);
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(v.value(), 42);
  EXPECT_EQ(a.get(2), 30.0);
}

namespace {
void meet(mpx::Barrier barrier, mpx::Value<int> index) { index = static_cast<int>(barrier.wait(20s)); }
}  // namespace

TEST_P(FreshSharedObjects, BarrierTravels) {
  mpx::Barrier barrier(2);
  mpx::Value<int> theirs(-1);
  auto p = ctx().Process(meet, barrier, theirs);
  p.start();
  std::uint32_t mine = barrier.wait(20s);
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(mine + static_cast<std::uint32_t>(theirs.value()), 1u);  // indices 0 and 1
  mpx::Barrier with_action(2, [] {});
  auto q = ctx().Process(meet, with_action, theirs);
  EXPECT_THROW(q.start(), mpx::ProcessError);
}

TEST(Spawn, SharedObjectsTravelOnlyByInheritance) {
  // Python: "Lock objects should only be shared between processes through
  // inheritance" — sending one through a pipe is refused.
  mpx::Lock lock;
  auto [a, b] = mpx::Pipe();
  EXPECT_THROW(a.send(lock), mpx::RuntimeError);
  mpx::Queue<int> q;
  EXPECT_THROW(a.send(q), mpx::RuntimeError);
}

// ---- a context's objects (Python: ctx.Queue(), ctx.Lock(), ctx.Pool()...) -----

namespace {
void put_squares(mpx::Queue<int> q, mpx::Lock lock, mpx::Value<int> counter, int n) {
  for (int i = 0; i < n; ++i) q.put(i * i);
  std::scoped_lock hold(lock);
  counter.set_value(counter.value() + n);
}
}  // namespace

TEST(ContextObjects, MadeByAContextWorkInItsChildren) {
  for (const std::string method : {"fork", "spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    auto ctx = mpx::get_context(method);
    auto q = ctx.Queue<int>();
    auto lock = ctx.Lock();
    auto counter = ctx.Value<int>(0);
    auto p = ctx.Process(put_squares, q, lock, counter, 3);
    p.start();
    std::vector<int> got;
    for (int i = 0; i < 3; ++i) got.push_back(q.get(std::chrono::seconds(30)));
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 4}));
    EXPECT_EQ(counter.value(), 3);
    auto [a, b] = ctx.Pipe();
    a.send(7);
    EXPECT_EQ(b.recv<int>(), 7);
    ctx.Event().set();
    EXPECT_TRUE(ctx.Semaphore(2).acquire());
  }
}
