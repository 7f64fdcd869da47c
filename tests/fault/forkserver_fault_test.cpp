// kill -9 and the forkserver: when the program that started a forkserver is
// SIGKILLed, the server and its daemon children go, a non-daemon child that
// waits on the dead parent ends, and nothing is left (no process, no
// zombie); when it exits normally, it reaps its server itself.
//
// The program under test is P, a fork child of R. R makes itself a child
// subreaper (PR_SET_CHILD_SUBREAPER): what P leaves behind is reparented to
// R, not to PID 1 (which reaps orphans seconds late on these machines), so R
// can wait for every last descendant and name what it reaped. R's alarm(15)
// bounds the whole scenario: a descendant that never ends kills R, and the
// test fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <tuple>

#include "mpx/connection.hpp"
#include "mpx/context.hpp"
#include "mpx/process.hpp"
#include "os/popen_forkserver.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

using Pids = std::tuple<int, int, int>;  // the server, a daemon child, a non-daemon child

void sleep_forever() {
  for (;;) ::pause();
}

// Ends when its parent does: the other end of `conn` is the parent's.
void wait_for_eof(mpx::Connection& conn) {
  try {
    (void)conn.recv<int>();
  } catch (const mpx::EOFError&) {
    mpx::exit(3);
  }
}

// In P: a daemon and a non-daemon forkserver child; their pids and the server's to R.
mpx::Connection start_children(mpx::Connection& to_r, mpx::Process& daemon, mpx::Process& waiter) {
  auto ctx = mpx::get_context("forkserver");
  auto [mine, theirs] = mpx::Pipe();
  daemon = ctx.Process(mpx::ProcessOptions{.daemon = true}, sleep_forever);
  daemon.start();
  waiter = ctx.Process(wait_for_eof, std::move(theirs));
  waiter.start();
  to_r.send(Pids{mpx::detail::forkserver_ids().pid, daemon.pid(), waiter.pid()});
  return std::move(mine);
}

// In R: reaps every descendant until none is left; returns their pids.
std::set<int> reap_all() {
  std::set<int> reaped;
  for (;;) {
    int pid = ::waitpid(-1, nullptr, __WALL);
    if (pid > 0) {
      reaped.insert(pid);
    } else if (errno != EINTR) {
      return reaped;  // ECHILD: no descendant is left
    }
  }
}

bool gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

void check_all_gone(const std::set<int>& reaped, const Pids& pids, const char* when) {
  auto [server, daemon, waiter] = pids;
  for (auto [pid, what] : {std::pair{server, "the forkserver"}, {daemon, "the daemon child"}, {waiter, "the waiter"}}) {
    if (!gone(pid)) {
      std::fprintf(stderr, "%s: %s (pid %d) is still there\n", when, what, pid);
      mpx::exit(10);
    }
  }
  (void)reaped;
}

}  // namespace

TEST(ForkserverFault, ServerAndChildrenGoWhenTheParentIsKilled) {
  int code = mpx::test::run_in_child([] {
    ::alarm(15);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) mpx::exit(20);
    auto [from_p, to_r] = mpx::Pipe(false);
    mpx::Process p([&to_r] {
      mpx::Process daemon, waiter;
      mpx::Connection keep = start_children(to_r, daemon, waiter);
      for (;;) ::pause();
    });
    p.start();
    if (!from_p.poll(10s)) mpx::exit(21);
    Pids pids = from_p.recv<Pids>();
    p.kill();
    std::set<int> reaped = reap_all();
    auto [server, daemon, waiter] = pids;
    // Reparented to R and reaped here: each of them ended.
    if (!reaped.count(server) || !reaped.count(daemon) || !reaped.count(waiter)) mpx::exit(22);
    check_all_gone(reaped, pids, "after SIGKILL of the parent");
  });
  EXPECT_EQ(code, 0) << "10: something is still there; 20: no subreaper; 21: P never reported; "
                        "22: not everything was reparented and reaped (see stderr); -14: R's alarm: "
                        "something never ended";
}

TEST(ForkserverFault, ParentThatExitsReapsItsServer) {
  int code = mpx::test::run_in_child([] {
    ::alarm(15);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) mpx::exit(20);
    auto [from_p, to_r] = mpx::Pipe(false);
    mpx::Process p([&to_r] {
      mpx::Process daemon, waiter;
      mpx::Connection keep = start_children(to_r, daemon, waiter);
      keep.close();  // the waiter ends (3); the daemon is terminated at P's end
    });
    p.start();
    if (!from_p.poll(10s)) mpx::exit(21);
    Pids pids = from_p.recv<Pids>();
    std::set<int> reaped = reap_all();
    auto [server, daemon, waiter] = pids;
    // P joined its children and reaped its server before it ended: none of
    // them was left for R.
    if (reaped.count(server) || reaped.count(daemon) || reaped.count(waiter)) mpx::exit(23);
    check_all_gone(reaped, pids, "after the parent's normal end");
  });
  EXPECT_EQ(code, 0) << "10: something is still there; 20: no subreaper; 21: P never reported; "
                        "23: the parent left its server or a child to be reaped by others; -14: R's alarm";
}
