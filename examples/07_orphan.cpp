// 07_orphan: a child whose parent exits first is adopted by another process.
//
// Seed lesson: 孤儿进程 (orphan processes) — a parent has died while its
// child still runs; the OS hands the child to a new parent (init, pid 1, or
// the nearest "child subreaper" above it), which will reap it. Harmless,
// unlike a zombie. The Python original:
//
//   import os
//   from multiprocessing import Process, parent_process
//
//   def orphan():
//       print('before: ppid', os.getppid())   # the middle process
//       parent_process().join()               # wait for it to die
//       print('after: ppid', os.getppid())    # someone else adopted us
//
//   def middle():
//       Process(target=orphan).start()
//       os._exit(0)       # leave without joining (sys.exit would join it)
//
//   if __name__ == '__main__':
//       p = Process(target=middle)
//       p.start(); p.join()
//
// Here the top process makes itself a child subreaper, so the orphan is
// adopted by a process we control instead of init: the new ppid is known in
// advance (the output is the same every run) and the top process can reap the
// orphan itself, so nothing is left behind. Every step waits on a pipe or on a
// pidfd, never on a sleep.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <mpx/mpx.hpp>

int main() {
  // Line-buffered: the three processes' lines must come out in the order printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::perror("prctl(PR_SET_CHILD_SUBREAPER)");
    return 1;
  }
  const int top_pid = ::getpid();
  std::printf("top: I am a child subreaper: orphans below me are adopted by me, not by init\n");

  // The orphan's reports to the top process: a one-way pipe.
  auto [reports, report] = mpx::Pipe(false);

  mpx::Process middle({.name = "middle"}, [&] {
    auto [orphan_ready, ready] = mpx::Pipe(false);
    mpx::Process orphan({.name = "orphan"}, [&] {
      auto parent = mpx::parent_process();
      std::printf("orphan: my parent is %s: %s\n", parent->name().c_str(),
                  ::getppid() == parent->pid() ? "getppid() == parent_process()->pid()" : "unexpected ppid");
      ready.send(true);
      parent->join();  // returns when the middle process has died (a pidfd, not a child to reap)
      const int ppid = ::getppid();
      std::printf("orphan: %s has exited; getppid() is now %s\n", parent->name().c_str(),
                  ppid == top_pid ? "the top process: it adopted me"
                  : ppid == 1     ? "init (pid 1)"
                                  : "another process");
      report.send(::getpid());
    });
    orphan.start();
    orphan_ready.recv<bool>();
    std::printf("middle: started %s; leaving with _exit(0) without joining it\n", orphan.name().c_str());
    std::fflush(stdout);
    // mpx::exit() or returning would join the orphan first, as Python's
    // sys.exit() does; _exit skips every exit handler.
    ::_exit(0);
  });
  middle.start();
  report.close();

  const int orphan_pid = reports.recv<int>();
  middle.join();
  std::printf("top: joined middle, exitcode %d\n", middle.exitcode().value_or(-1));

  // The orphan is no mpx child of ours: it became our child by adoption, so
  // we reap it with the plain system call.
  int status = 0;
  if (::waitpid(orphan_pid, &status, 0) != orphan_pid) {
    std::perror("waitpid");
    return 1;
  }
  std::printf("top: reaped the orphan with waitpid(): exit status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  const bool none_left = ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
  std::printf("top: children left: %s\n", none_left ? "none" : "some");
  return none_left && middle.exitcode() == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
