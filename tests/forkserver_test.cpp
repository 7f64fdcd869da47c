// The forkserver start method (src/os/popen_forkserver.hpp): a child forked
// by a server process must be joined, waited for, signalled and watched
// exactly as a fork child is, and must not inherit the parent's threads.
// The server is a fresh run of this test binary (tests/support/main.cpp
// calls mpx::init, which serves there).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mpx/connection.hpp"
#include "mpx/context.hpp"
#include "mpx/process.hpp"
#include "mpx/queues.hpp"
#include "mpx/synchronize.hpp"
#include "os/popen_forkserver.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;
using mpx::test::ChildGuard;

namespace {

int g_touched_by_parent = 0;
std::timed_mutex g_held_by_a_thread;

mpx::Context fs() { return mpx::get_context("forkserver"); }

void exit_with(int code) { mpx::exit(code); }
void exit_with_global() { mpx::exit(g_touched_by_parent); }
void throw_error() { throw mpx::ValueError("bad value in the forkserver child"); }
void wait_for(mpx::Event go) { go.wait(); }
void sleep_forever() {
  for (;;) ::pause();
}

void print_args(int n, std::string s) {
  std::printf("n=%d s=%s\n", n, s.c_str());
  std::fflush(stdout);
}

// What the child knows of itself and its parents.
void report_family(mpx::Connection& w) {
  auto parent = mpx::parent_process();
  w.send(std::make_tuple(static_cast<int>(::getppid()), parent ? parent->pid() : 0, parent ? parent->is_alive() : false,
                         mpx::current_process().name(), mpx::get_start_method()));
}

void try_the_mutex() { mpx::exit(g_held_by_a_thread.try_lock_for(10s) ? 0 : 1); }

bool readable_within(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

}  // namespace

TEST(Forkserver, IsAStartMethod) {
  auto all = mpx::get_all_start_methods();
  EXPECT_EQ(all, (std::vector<std::string>{"fork", "spawn", "forkserver"}));  // Python's order on Linux
  EXPECT_EQ(fs().get_start_method(), "forkserver");
  EXPECT_EQ(mpx::forkserver_context().get_start_method(), "forkserver");
  mpx::set_forkserver_preload({"__main__", "anything"});  // accepted, nothing to preload
}

TEST(Forkserver, RunsAShippedFunctionWithItsArgumentsAndTheParentsStdout) {
  std::string out = mpx::test::capture_stdout([&] {
    auto p = fs().Process(print_args, 7, std::string("seven"));
    p.start();
    ASSERT_TRUE(p.join(20s));
    EXPECT_EQ(p.exitcode(), 0);
  });
  EXPECT_EQ(out, "n=7 s=seven\n");
}

TEST(Forkserver, ExitCodesAsUnderFork) {
  auto p = fs().Process(exit_with, 3);
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 3);

  auto e = fs().Process(throw_error);  // uncaught exception: 1, reported on stderr
  e.start();
  ASSERT_TRUE(e.join(20s));
  EXPECT_EQ(e.exitcode(), 1);

  auto k = fs().Process(sleep_forever);
  k.start();
  k.kill();
  ASSERT_TRUE(k.join(20s));
  EXPECT_EQ(k.exitcode(), -SIGKILL);

  auto t = fs().Process(sleep_forever);
  t.start();
  t.terminate();
  ASSERT_TRUE(t.join(20s));
  EXPECT_EQ(t.exitcode(), -SIGTERM);
  t.terminate();  // after exit: nothing, as in Python
  t.kill();
}

TEST(Forkserver, JoinIsAliveExitcodeAndSentinel) {
  mpx::Event go;
  auto p = fs().Process(wait_for, go);
  p.start();
  ChildGuard guard;
  guard.add(p);
  EXPECT_GT(p.pid(), 0);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.join(0s));
  EXPECT_FALSE(p.join(10ms));
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_TRUE(mpx::test::in_active_children(p));
  const int sentinel = p.sentinel();
  EXPECT_FALSE(readable_within(sentinel, 0));
  EXPECT_THROW(p.close(), mpx::ValueError);  // still running
  go.set();
  EXPECT_TRUE(readable_within(sentinel, 20000));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_TRUE(p.join(0s));
  EXPECT_TRUE(readable_within(sentinel, 0));  // stays readable, as a pidfd does
  EXPECT_FALSE(mpx::test::in_active_children(p));
  p.close();
  EXPECT_THROW(p.sentinel(), mpx::ValueError);
}

TEST(Forkserver, TheChildIsForkedByTheServerNotByUs) {
  g_touched_by_parent = 9;  // a fork child would see 9; the server never ran main()
  auto p = fs().Process(exit_with_global);
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  g_touched_by_parent = 0;

  const int server = mpx::detail::forkserver_ids().pid;
  ASSERT_GT(server, 0);
  auto [r, w] = mpx::Pipe(false);
  auto q = fs().Process(mpx::ProcessOptions{.name = "fs-child"}, report_family, std::move(w));
  q.start();
  ChildGuard guard;
  guard.add(q);
  ASSERT_TRUE(r.poll(20s));
  auto [ppid, parent_pid, parent_alive, name, method] = r.recv<std::tuple<int, int, bool, std::string, std::string>>();
  EXPECT_EQ(ppid, server);            // the kernel's parent: the server
  EXPECT_EQ(parent_pid, ::getpid());  // Python's parent_process(): us
  EXPECT_TRUE(parent_alive);
  EXPECT_EQ(name, "fs-child");
  EXPECT_EQ(method, "forkserver");
  ASSERT_TRUE(q.join(20s));
  EXPECT_EQ(q.exitcode(), 0);
  EXPECT_EQ(mpx::detail::forkserver_ids().pid, server);  // one server for every start
}

// The point of forkserver: a thread of the parent holds a mutex, and the
// child needs it. A fork child would wait for ever (examples/21).
TEST(Forkserver, AThreadHoldingAMutexDoesNotDeadlockTheChild) {
  std::atomic<bool> held{false}, release{false};
  std::thread holder([&] {
    std::lock_guard lock(g_held_by_a_thread);
    held = true;
    held.notify_all();
    release.wait(false);
  });
  held.wait(false);
  auto p = fs().Process(try_the_mutex);
  p.start();
  bool joined = p.join(20s);
  release = true;
  release.notify_all();
  holder.join();
  ASSERT_TRUE(joined);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Forkserver, ACallableThatCannotTravelIsRefused) {
  int captured = 1;
  EXPECT_THROW(fs().Process([captured] { mpx::exit(captured); }), mpx::ProcessError);
  mpx::set_start_method("forkserver", true);
  mpx::Process p([captured] { mpx::exit(captured); });
  EXPECT_THROW(p.start(), mpx::ProcessError);
  EXPECT_EQ(p.pid(), 0);
  mpx::set_start_method("fork", true);
  p.start();  // under fork the same callable runs
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(Forkserver, StartsFromManyThreadsAtOnce) {
  constexpr int kThreads = 3, kEach = 8;
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto p = fs().Process(exit_with, t * 10 + i);
        p.start();
        if (p.join(20s) && p.exitcode() == t * 10 + i) ++right;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), kThreads * kEach);
}

TEST(Forkserver, DaemonChildDiesWithItsParent) {
  // The daemon's parent is a fork child we SIGKILL (it starts a server of its
  // own): the server sees EOF and exits, and the daemon dies with it.
  auto [r, w] = mpx::Pipe(false);
  mpx::Process middle([&] {
    auto d = fs().Process(mpx::ProcessOptions{.daemon = true}, sleep_forever);
    d.start();
    w.send(d.pid());
    for (;;) ::pause();
  });
  middle.start();
  ChildGuard guard;
  guard.add(middle);
  ASSERT_TRUE(r.poll(20s));
  int daemon_pid = r.recv<int>();
  int pidfd = mpx::detail::Fd::pidfd_open(daemon_pid).release();
  middle.kill();
  ASSERT_TRUE(middle.join(20s));
  EXPECT_TRUE(readable_within(pidfd, 20000)) << "the daemon outlived its SIGKILLed parent";
  ::close(pidfd);
}
