// kill -9 of parents and children: daemons die with their parent, orphans
// are adopted, nothing is left behind.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mpx/connection.hpp"
#include "mpx/process.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

// A pidfd of a process that is not our child: pollable for its exit.
int watch(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool exits_within(int pidfd, int ms) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

}  // namespace

TEST(ProcessFault, DaemonDiesWhenItsParentIsKilled) {
  auto [r, w] = mpx::Pipe(false);
  mpx::Process parent([&] {
    mpx::Process daemon(mpx::ProcessOptions{.daemon = true}, [] {
      for (;;) ::pause();
    });
    daemon.start();
    w.send(daemon.pid());
    for (;;) ::pause();
  });
  parent.start();
  int daemon_pid = r.recv<int>();
  int fd = watch(daemon_pid);
  ASSERT_GE(fd, 0);
  parent.kill();  // SIGKILL: no atexit, no cleanup in the parent
  parent.join();
  EXPECT_EQ(parent.exitcode(), -SIGKILL);
  EXPECT_TRUE(exits_within(fd, 10000)) << "daemon outlived its SIGKILLed parent";
  ::close(fd);
}

TEST(ProcessFault, NonDaemonChildIsOrphanedAndAdopted) {
  // Python leaves a non-daemon child running when its parent is killed; so
  // does mpx. The orphan sees its parent change.
  auto [r, w] = mpx::Pipe();
  auto [r2, w2] = mpx::Pipe();
  mpx::Process parent([&] {
    mpx::Process orphan([&] {
      int before = ::getppid();
      w.send(before);
      (void)w.recv<int>();  // wait until the parent is dead
      w.send(static_cast<int>(::getppid()));
      (void)w.recv<int>();
    });
    orphan.start();
    w2.send(orphan.pid());
    for (;;) ::pause();
  });
  parent.start();
  int orphan_pid = r2.recv<int>();
  int fd = watch(orphan_pid);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(r.recv<int>(), parent.pid());
  parent.kill();
  parent.join();
  r.send(1);
  int adopted_by = r.recv<int>();
  EXPECT_NE(adopted_by, parent.pid());
  r.send(2);  // let it finish
  EXPECT_TRUE(exits_within(fd, 10000));
  ::close(fd);
}

TEST(ProcessFault, ChildKilledMidWriteLeavesPeerWithEOF) {
  auto [r, w] = mpx::Pipe();
  mpx::Process p([&] {
    std::vector<char> big(8 << 20, 'x');
    for (;;) w.send(big);  // blocks mid-message when the socket fills
  });
  p.start();
  w.close();
  ASSERT_TRUE(r.poll(20s));
  p.kill();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  // Whatever was written before the kill is read; then a torn frame or EOF,
  // never a hang or a crash.
  try {
    for (;;) (void)r.recv<std::vector<char>>();
  } catch (const mpx::EOFError&) {
  } catch (const mpx::OSError& e) {
    EXPECT_STREQ(e.what(), "got end of file during message");
  }
}

TEST(ProcessFault, KilledChildrenAreReapedByActiveChildren) {
  std::vector<mpx::Process> kids;
  for (int i = 0; i < 4; ++i) {
    kids.emplace_back([] {
      for (;;) ::pause();
    });
    kids.back().start();
  }
  for (auto& k : kids) ::kill(k.pid(), SIGKILL);
  for (auto& k : kids) {
    pollfd p{k.sentinel(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
  }
  EXPECT_TRUE(mpx::active_children().empty());
  for (auto& k : kids) {
    EXPECT_EQ(mpx::test::proc_state(k.pid()), 0);
    EXPECT_EQ(k.exitcode(), -SIGKILL);
  }
}
