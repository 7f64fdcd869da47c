// The fork start method: flush, fork, set the child up, watch it by pidfd.
#include "os/popen_fork.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

void flush_stdio() {
  // Unflushed output would otherwise be printed by parent and child both.
  std::cout.flush();
  std::cerr.flush();
  std::clog.flush();
  std::fflush(nullptr);
}

// Python's child replaces stdin with /dev/null (process._close_stdin), so
// children never fight the parent for terminal input. Through syscall()
// rather than open()/dup2(): syscall() is already bound in the parent, so the
// child does not fault in lazy-binding resolutions of its own (process start
// is page-fault bound on this VM).
void stdin_to_devnull() {
  long fd = ::syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (fd != STDIN_FILENO) {
    ::syscall(SYS_dup3, fd, STDIN_FILENO, 0);
    ::syscall(SYS_close, fd);
  }
}

}  // namespace

void popen_fork(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const std::function<int()>& child_main) {
  flush_stdio();
  const int parent_pid = ::getpid();
  const bool daemon = st.daemon;
  int pid = fork_and_run([&]() -> int {
    if (daemon) {
      // A daemon dies with its parent even if the parent is SIGKILLed. If the
      // parent died before prctl took effect, we are already orphaned.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent_pid) return 1;
    }
    stdin_to_devnull();
    int code = child_main();
    flush_stdio();
    return code;
  });
  Fd pidfd;
  try {
    pidfd = Fd::pidfd_open(pid);
  } catch (...) {
    // Without a pidfd the child cannot be watched: do not leave it running.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw;
  }
  {
    std::lock_guard lock(st.mu);
    st.pid = pid;
    st.pidfd = std::move(pidfd);
    st.started = true;
  }
  register_child(keep);
}

}  // namespace mpx::detail
