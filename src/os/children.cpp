// The child registry, reaping and exit handling (children.hpp).
#include "os/children.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "mpx/detail/shared_object.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

struct Registry {
  std::mutex mu;
  std::vector<std::shared_ptr<ProcessState>> children;
  pid_t owner = ::getpid();  // whose children they are
  bool atexit_installed = false;
};

// Leaked on purpose: atexit handlers and static destructors may still reap.
Registry* g_registry = new Registry;

Registry& registry() { return *g_registry; }

// With r.mu held. A child forked by a plain fork() (not fork_and_run) has
// its parent's list: those are not its children, and its exit must not
// signal them (its exit handler would end the parent's daemonic children —
// a ProcessPoolExecutor's workers). Forgotten without touching them, as
// fork_and_run's child does.
void own_locked(Registry& r) {
  if (r.owner == ::getpid()) return;
  new (&r.children) std::vector<std::shared_ptr<ProcessState>>();
  r.owner = ::getpid();
}

int pidfd_send_signal(int pidfd, int signo) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
}

void atexit_handler() { exit_children(); }

// The forkserver writes a child's exit code (Python's: the code, or -signum)
// once, then closes. Nothing, or a short read, means the server died first.
// Peeked, not read: the bytes stay, so the descriptor (the sentinel) stays
// readable for ever after, as a pidfd does — a read could empty it before
// the server's close made it readable again.
std::optional<int> read_exit_status(int fd) {
  std::int32_t code = 0;
  ssize_t n;
  do {
    n = ::recv(fd, &code, sizeof code, MSG_PEEK | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof code)) return std::nullopt;
  return code;
}

// With st.mu held, once the pidfd of a child of ours is readable.
std::optional<int> reap_locked(ProcessState& st) {
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PIDFD, static_cast<id_t>(st.pidfd.get()), &info, WEXITED | WNOHANG);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // ECHILD: someone else reaped it (a SIGCHLD=SIG_IGN or waitpid(-1) in user
    // code). The exit status is lost; report it as Python reports an unknown one.
    if (errno == ECHILD) {
      st.exitcode = 255;
      settle_fork_ledger(std::exchange(st.fork_ledger, 0));
      return st.exitcode;
    }
    throw_os_error("waitid(P_PIDFD)");
  }
  if (info.si_pid == 0) return std::nullopt;  // readable but not yet waitable: treat as running
  st.exitcode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
  // Gone for good: what it did not give back of its fork's counts, we do.
  settle_fork_ledger(std::exchange(st.fork_ledger, 0));
  return st.exitcode;
}

}  // namespace

std::optional<int> wait_child(ProcessState& st, Deadline deadline) {
  for (;;) {
    int fd;
    bool by_status;
    {
      std::lock_guard lock(st.mu);
      if (st.exitcode || !st.pidfd) return st.exitcode;
      by_status = st.status && !st.orphaned;
      fd = by_status ? st.status.get() : st.pidfd.get();
    }
    // Sleep outside the lock so is_alive() from another thread never waits on us.
    // The pidfd stays open meanwhile: close() refuses while the child is unreaped.
    if (!wait_readable(fd, deadline.poll_timeout_ms())) return std::nullopt;
    std::lock_guard lock(st.mu);
    if (st.exitcode) return st.exitcode;
    if (!st.status) return reap_locked(st);
    if (!by_status) {
      st.exitcode = 255;  // orphaned (below) and now gone
      return st.exitcode;
    }
    if (st.orphaned) continue;  // another thread found the server gone meanwhile
    if (auto code = read_exit_status(st.status.get())) {
      st.exitcode = *code;
      return st.exitcode;
    }
    // The server died before it reported: the child may still run. Watch it
    // by its pidfd from now on; its exit code is lost (Python: 255, at once).
    st.orphaned = true;
  }
}

void signal_child(ProcessState& st, int signo) {
  std::lock_guard lock(st.mu);
  if (!st.pidfd || st.exitcode) return;
  if (pidfd_send_signal(st.pidfd.get(), signo) != 0 && errno != ESRCH) {
    throw_os_error("pidfd_send_signal");
  }
}

void register_child(std::shared_ptr<ProcessState> st) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  own_locked(r);
  r.children.push_back(std::move(st));
  if (!r.atexit_installed) {
    r.atexit_installed = true;
    std::atexit(atexit_handler);
  }
}

void forget_child(const ProcessState* st) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  std::erase_if(r.children, [st](const auto& c) { return c.get() == st; });
}

std::vector<std::shared_ptr<ProcessState>> live_children() {
  std::vector<std::shared_ptr<ProcessState>> all;
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    own_locked(r);
    all = r.children;
  }
  std::vector<std::shared_ptr<ProcessState>> live;
  for (auto& c : all) {
    if (wait_child(*c, Deadline::now())) {
      forget_child(c.get());
    } else {
      live.push_back(c);
    }
  }
  return live;
}

int fork_and_run(const std::function<int()>& child_main) {
  auto& r = registry();
  int pid;
  {
    // Hold the registry across fork so the child's copy is not caught
    // half-updated by another thread of the parent.
    std::lock_guard lock(r.mu);
    pid = ::fork();
    if (pid == 0) {
      // The child: its parent's children are not its own. Forget them
      // without touching them (no destructor runs, no page of theirs is
      // written); the mutex is ours, released by `lock` below.
      own_locked(r);
    }
  }
  if (pid < 0) throw_os_error("fork");
  if (pid == 0) {
    int code = child_main();
    release_all_shared_blocks();  // this process touches no shared object again
    // exit_group via syscall(): _exit would be this process's first call of
    // it, a lazy-binding fault; syscall() was bound in the parent.
    ::syscall(SYS_exit_group, code);
    ::_exit(code);
  }
  return pid;
}

namespace {
std::atomic<void (*)() noexcept> g_exit_prologue{nullptr};
}  // namespace

void set_exit_children_prologue(void (*prologue)() noexcept) noexcept { g_exit_prologue.store(prologue); }

void exit_children() noexcept {
  if (auto prologue = g_exit_prologue.load()) prologue();
  try {
    auto children = live_children();
    for (auto& c : children) {
      if (c->daemon) signal_child(*c, SIGTERM);
    }
    for (auto& c : children) {
      wait_child(*c, Deadline::never());
      forget_child(c.get());
    }
  } catch (...) {
    // At exit there is no one left to tell; the children were signalled or
    // waited for as far as the OS let us.
  }
}

bool& in_bootstrap() noexcept {
  thread_local bool inside = false;
  return inside;
}

}  // namespace mpx::detail
