// mpx::Process with the fork start method: every behaviour of Python's
// Process, and the lifecycle guarantees (no zombies, daemons, exit handling).
#include "mpx/process.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "mpx/connection.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

// Blocks until the fd is readable (a sentinel, a pidfd), failing after 20 s.
bool readable_within(int fd, int ms = 20000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

struct Worker : mpx::Process {
  int code;
  explicit Worker(int c) : code(c) {}
  void run() override { mpx::exit(code); }
};

}  // namespace

TEST(Process, TargetWithArgumentsRunsInAChild) {
  auto [r, w] = mpx::Pipe(false);
  int parent = ::getpid();
  mpx::Process p(
      [&](int x, const std::string& s) { w.send(std::make_tuple(x, s, ::getpid() != parent, ::getppid() == parent)); },
      7, std::string("seven"));
  p.start();
  auto [x, s, other, child_of_us] = r.recv<std::tuple<int, std::string, bool, bool>>();
  p.join();
  EXPECT_EQ(x, 7);
  EXPECT_EQ(s, "seven");
  EXPECT_TRUE(other);
  EXPECT_TRUE(child_of_us);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, ArgumentsAreCopiedAtConstruction) {
  auto [r, w] = mpx::Pipe(false);
  std::string s = "before";
  mpx::Process p([&w](std::string v) { w.send(v); }, s);
  s = "after";
  p.start();
  EXPECT_EQ(r.recv<std::string>(), "before");
  p.join();
}

TEST(Process, SubclassRunAndExitCodes) {
  for (int code : {0, 3, 255}) {
    Worker w(code);
    w.start();
    w.join();
    EXPECT_EQ(w.exitcode(), code);
  }
}

TEST(Process, UncaughtExceptionExitsOneAndReportsOnStderr) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p([fd = w.fileno()] {
    ::dup2(fd, STDERR_FILENO);
    throw std::runtime_error("boom in child");
  });
  p.start();
  w.close();
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = ::read(r.fileno(), buf, sizeof buf)) > 0) err.append(buf, static_cast<std::size_t>(n));
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_NE(err.find("Process " + p.name() + ":"), std::string::npos) << err;
  EXPECT_NE(err.find("std::runtime_error: boom in child"), std::string::npos) << err;
}

TEST(Process, ExitUnwindsTheChildStack) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p([&] {
    struct Guard {
      mpx::Connection& c;
      ~Guard() { c.send(std::string("unwound")); }
    } g{w};
    mpx::exit(5);
  });
  p.start();
  EXPECT_EQ(r.recv<std::string>(), "unwound");
  p.join();
  EXPECT_EQ(p.exitcode(), 5);
}

TEST(Process, SignalledChildHasNegativeExitCode) {
  mpx::Process p([] {
    for (;;) ::pause();
  });
  p.start();
  EXPECT_TRUE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  p.terminate();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGTERM);

  mpx::Process q([] {
    for (;;) ::pause();
  });
  q.start();
  q.kill();
  q.join();
  EXPECT_EQ(q.exitcode(), -SIGKILL);
  q.terminate();  // after exit: a no-op, as in Python
}

TEST(Process, AbortAndSegfaultAreReportedBySignal) {
  mpx::Process p([] { std::abort(); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGABRT);
}

TEST(Process, JoinWithTimeout) {
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] { (void)w.recv<int>(); });
  p.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_FALSE(p.join(0s));
  r.send(1);
  EXPECT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(p.join(0s));  // joining again is fine
}

TEST(Process, MisuseRaisesPythonsErrors) {
  mpx::Process p([] {});
  EXPECT_THROW(p.join(), mpx::AssertionError);  // can only join a started process
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), std::nullopt);
  EXPECT_EQ(p.pid(), 0);
  EXPECT_THROW(p.sentinel(), mpx::ValueError);
  EXPECT_THROW(p.terminate(), mpx::AssertionError);
  p.start();
  EXPECT_THROW(p.start(), mpx::AssertionError);  // cannot start a process twice
  EXPECT_THROW(p.set_daemon(true), mpx::AssertionError);
  p.join();
  EXPECT_THROW(mpx::current_process().join(), mpx::AssertionError);
}

TEST(Process, StartTwiceMessageIsPythons) {
  mpx::Process p([] {});
  p.start();
  try {
    p.start();
    FAIL();
  } catch (const mpx::AssertionError& e) {
    EXPECT_STREQ(e.what(), "cannot start a process twice");
  }
  p.join();
}

TEST(Process, CloseRules) {
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] { (void)w.recv<int>(); });
  p.start();
  try {
    p.close();
    FAIL();
  } catch (const mpx::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("Cannot close a process while it is still running"), std::string::npos);
  }
  r.send(1);
  p.join();
  p.close();
  p.close();  // idempotent
  EXPECT_TRUE(p.closed());
  EXPECT_THROW(p.is_alive(), mpx::ValueError);
  EXPECT_THROW(p.join(), mpx::ValueError);
  EXPECT_THROW(p.pid(), mpx::ValueError);
  EXPECT_THROW(p.exitcode(), mpx::ValueError);
  EXPECT_THROW(p.start(), mpx::ValueError);
}

TEST(Process, NamesFollowPythonsScheme) {
  mpx::Process a([] {});
  mpx::Process b([] {});
  auto na = a.name(), nb = b.name();
  ASSERT_EQ(na.rfind("Process-", 0), 0u);
  EXPECT_EQ(std::stoi(nb.substr(8)), std::stoi(na.substr(8)) + 1);
  Worker w(0);
  EXPECT_EQ(w.name().rfind("Worker-", 0), 0u);
  mpx::Process named(mpx::ProcessOptions{.name = "fetcher"}, [] {});
  EXPECT_EQ(named.name(), "fetcher");
  named.set_name("other");
  EXPECT_EQ(named.name(), "other");
  EXPECT_EQ(mpx::current_process().name(), "MainProcess");

  // In a child, the child's own children are named Process-N:M, counting from 1.
  auto [r, wr] = mpx::Pipe(false);
  mpx::Process outer([&] {
    mpx::Process inner([] {});
    wr.send(std::make_pair(mpx::current_process().name(), inner.name()));
  });
  outer.start();
  auto [me, child] = r.recv<std::pair<std::string, std::string>>();
  outer.join();
  EXPECT_EQ(me, outer.name());
  EXPECT_EQ(child, outer.name() + ":1");
}

TEST(Process, PidIdentAndCurrentProcessInTheChild) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p([&] {
    auto parent = mpx::parent_process();
    w.send(std::make_tuple(mpx::current_process().pid(), static_cast<int>(::getpid()), parent.has_value(),
                           parent ? parent->pid() : 0, parent ? parent->name() : std::string(),
                           parent ? parent->is_alive() : false));
  });
  p.start();
  auto [cur, real, has_parent, ppid, pname, palive] = r.recv<std::tuple<int, int, bool, int, std::string, bool>>();
  p.join();
  EXPECT_EQ(cur, real);
  EXPECT_EQ(p.pid(), real);
  EXPECT_EQ(p.ident(), real);
  EXPECT_TRUE(has_parent);
  EXPECT_EQ(ppid, ::getpid());
  EXPECT_EQ(pname, "MainProcess");
  EXPECT_TRUE(palive);
  EXPECT_FALSE(mpx::parent_process().has_value());
  EXPECT_EQ(mpx::current_process().pid(), ::getpid());
  EXPECT_TRUE(mpx::current_process().is_alive());
}

TEST(Process, DaemonFlag) {
  mpx::Process p(mpx::ProcessOptions{.daemon = true}, [] {});
  EXPECT_TRUE(p.daemon());
  mpx::Process q([] {});
  EXPECT_FALSE(q.daemon());
  q.set_daemon(true);
  EXPECT_TRUE(q.daemon());
}

TEST(Process, DaemonMayNotHaveChildren) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process p(mpx::ProcessOptions{.daemon = true}, [&] {
    mpx::Process grandchild([] {});
    try {
      grandchild.start();
      w.send(std::string("started"));
    } catch (const mpx::AssertionError& e) {
      w.send(std::string(e.what()));
    }
  });
  p.start();
  EXPECT_EQ(r.recv<std::string>(), "daemonic processes are not allowed to have children");
  p.join();
}

TEST(Process, SentinelBecomesReadableAtExit) {
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] { (void)w.recv<int>(); });
  p.start();
  int s = p.sentinel();
  EXPECT_FALSE(readable_within(s, 0));
  r.send(1);
  EXPECT_TRUE(readable_within(s));
  p.join();
}

TEST(Process, JoinLeavesNoZombie) {
  auto [r, w] = mpx::Pipe();
  mpx::Process p([] {});
  p.start();
  ASSERT_TRUE(readable_within(p.sentinel()));
  EXPECT_EQ(mpx::test::proc_state(p.pid()), 'Z');  // exited, not yet reaped
  p.join();
  EXPECT_EQ(mpx::test::proc_state(p.pid()), 0);
}

TEST(Process, ActiveChildrenListsLiveOnesAndReapsTheRest) {
  auto [r, w] = mpx::Pipe();
  mpx::Process running([&] { (void)w.recv<int>(); });
  mpx::Process done([] {});
  running.start();
  done.start();
  ASSERT_TRUE(readable_within(done.sentinel()));
  auto kids = mpx::active_children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].pid(), running.pid());
  EXPECT_EQ(mpx::test::proc_state(done.pid()), 0);  // reaped by active_children()
  EXPECT_EQ(done.exitcode(), 0);
  r.send(1);
  kids[0].join();  // a handle from active_children() joins the same child
  EXPECT_EQ(running.exitcode(), 0);
  EXPECT_TRUE(mpx::active_children().empty());
}

TEST(Process, HandlesAreSharedLikePythonReferences) {
  mpx::Process p([] {});
  mpx::Process copy = p;
  p.start();
  EXPECT_THROW(copy.start(), mpx::AssertionError);
  copy.join();
  EXPECT_EQ(p.exitcode(), 0);
  std::vector<mpx::Process> many;
  for (int i = 0; i < 5; ++i) many.emplace_back([] {});
  for (auto& m : many) m.start();
  for (auto& m : many) m.join();
  for (auto& m : many) EXPECT_EQ(m.exitcode(), 0);
}

TEST(Process, ChildDoesNotFlushTheParentsBuffersAgain) {
  auto out = mpx::test::capture_stdout([] {
    std::fputs("once", stdout);  // buffered, not yet written
    mpx::Process p([] { std::fputs("|child", stdout); });
    p.start();
    p.join();
  });
  EXPECT_EQ(out, "once|child");
}

TEST(Process, ChildExitJoinsItsChildrenAndTerminatesDaemons) {
  auto [r, w] = mpx::Pipe(false);
  auto [r2, w2] = mpx::Pipe(false);
  mpx::Process child([&] {
    mpx::Process worker([&] { w2.send(std::string("worker finished")); });
    mpx::Process daemon(mpx::ProcessOptions{.daemon = true}, [] {
      for (;;) ::pause();
    });
    worker.start();
    daemon.start();
    w.send(daemon.pid());
    // Returning here makes the child join `worker` and terminate `daemon`.
  });
  child.start();
  int daemon_pid = r.recv<int>();
  EXPECT_EQ(r2.recv<std::string>(), "worker finished");
  ASSERT_TRUE(child.join(20s));
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_EQ(::kill(daemon_pid, 0), -1);  // terminated and reaped by its parent
}

TEST(Process, CpuCount) { EXPECT_GE(mpx::cpu_count(), 1); }

namespace {
int atexit_report_fd = -1;
void report_atexit() {
  char msg[64];
  int n = std::snprintf(msg, sizeof msg, "atexit ran in %d\n", static_cast<int>(::getpid()));
  (void)!::write(atexit_report_fd, msg, static_cast<std::size_t>(n));
}
}  // namespace

TEST(Process, ChildNeverRunsTheParentsAtexitHandlers) {
  // The handler is registered in an intermediate process (so the test binary
  // itself stays clean); neither that process's children nor the process
  // itself (an mpx child, which leaves with _exit) may run it.
  auto [r, w] = mpx::Pipe(false);
  mpx::Process middle([&] {
    atexit_report_fd = w.fileno();
    std::atexit(report_atexit);
    mpx::Process grandchild([] {});
    grandchild.start();
    grandchild.join();
  });
  middle.start();
  w.close();
  char buf[128];
  ssize_t n = ::read(r.fileno(), buf, sizeof buf);
  middle.join();
  EXPECT_EQ(n, 0) << std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  EXPECT_EQ(middle.exitcode(), 0);
}
