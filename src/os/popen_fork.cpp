// The fork start method: flush, fork, set the child up, watch it by pidfd.
#include "os/popen_fork.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdio_ext.h>
#include <cerrno>
#include <cstdio>
#include <ext/stdio_sync_filebuf.h>
#include <iostream>

#include "mpx/detail/shared_object.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

// Before fork: unflushed output would otherwise be printed by parent and
// child both.
void flush_stdio() {
  std::cout.flush();
  std::cerr.flush();
  std::clog.flush();
  std::fflush(nullptr);
}

// At the end of a child: flush what it wrote to the standard streams
// (Python's child flushes sys.stdout and sys.stderr only), and only what is
// pending: in a fork child every first write to a page is a copy-on-write
// fault (~10 µs here), and flushing writes to the streams' state. `synced`
// (iostreams sharing stdio's buffers, the default) is found in the parent.
void flush_std_streams(bool synced) {
  if (!synced) {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  }
  if (__fpending(stdout) > 0) std::fflush(stdout);
  if (__fpending(stderr) > 0) std::fflush(stderr);
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
  // Found here, not in the child: a libc or libstdc++ function called for the
  // first time would fault in a lazy-binding resolution in every child.
  const bool synced = dynamic_cast<__gnu_cxx::stdio_sync_filebuf<char>*>(std::cout.rdbuf()) != nullptr;
  (void)__fpending(stdout);
  const bool daemon = st.daemon;
  // The counts this fork takes for the child are listed, so that a child
  // killed before it gives them back has them given back when it is reaped.
  request_fork_ledger();
  int pid = -1;
  try {
    pid = fork_and_run([&]() -> int {
      if (daemon) {
        // A daemon dies with its parent even if the parent is SIGKILLed. If the
        // parent died before prctl took effect, we are already orphaned.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent_pid) return 1;
      }
      stdin_to_devnull();
      int code = child_main();
      flush_std_streams(synced);
      return code;
    });
  } catch (...) {
    settle_fork_ledger(take_fork_ledger());  // no child: give its counts back
    throw;
  }
  const std::uint64_t ledger = take_fork_ledger();
  Fd pidfd;
  try {
    pidfd = Fd::pidfd_open(pid);
  } catch (...) {
    // Without a pidfd the child cannot be watched: do not leave it running.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    settle_fork_ledger(ledger);
    throw;
  }
  {
    std::lock_guard lock(st.mu);
    st.pid = pid;
    st.pidfd = std::move(pidfd);
    st.started = true;
    st.fork_ledger = ledger;
  }
  register_child(keep);
}

}  // namespace mpx::detail
