// src/os/children.hpp — the one lifecycle manager for child processes.
//
// Every Process handle points at a ProcessState. The registry holds the
// states of this process's live children (Python's process._children), so a
// child whose handles are all gone is still reaped and still joined at exit.
//
//   start() ──fork──► child: reset_after_fork(), run, exit_children(), _exit
//      │
//      └─► register_child(state)      join()/is_alive()/active_children()
//                                      └─► wait_child(): poll pidfd, waitid(P_PIDFD)
//   atexit ─► exit_children(): terminate daemons, join everyone
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/detail/shipping.hpp"

namespace mpx::detail {

struct ProcessState {
  enum class Kind { Child, Current, Parent };

  mutable std::mutex mu;  // guards everything below once the process is shared
  Kind kind = Kind::Child;
  std::string name;           // empty until first asked for or started
  std::vector<int> identity;  // Python's _identity: (1,), (1, 2) ...
  bool daemon = false;
  int creator_pid = 0;  // the process that made this handle; only it may join
  bool started = false;
  bool closed = false;
  int pid = 0;
  Fd pidfd;               // to signal the child; for fork and spawn children also to wait for it
  Fd status;              // forkserver children: the socket the server writes the exit code to
  bool orphaned = false;  // the server died before it wrote the code: watch the pidfd
  std::optional<int> exitcode;
  std::function<void()> target;
  std::function<ShippedCall()> shipper;  // the target as a call that travels; null if it cannot
  std::string start_method;              // empty: the default at start()
  std::uint64_t fork_ledger = 0;         // fork: what to give back for it once reaped (shared_object.hpp)
};

/// Polls `st`'s pidfd until the child exits or `deadline` passes, then reaps
/// it (waitid) and records the exit code. Returns the exit code, or nullopt
/// if the child is still running. Safe from any thread. A forkserver child
/// (st.status set) is the server's to reap: its exit code is read from the
/// status socket instead; if the server died first, the child is waited for
/// by its pidfd and its code is 255 (Python's, which does not wait).
std::optional<int> wait_child(ProcessState& st, Deadline deadline);

/// Sends `signo` to a started, unreaped child; a child already reaped is left alone.
void signal_child(ProcessState& st, int signo);

void register_child(std::shared_ptr<ProcessState> st);
void forget_child(const ProcessState* st);
/// The registered children still running; those that exited are reaped and dropped.
std::vector<std::shared_ptr<ProcessState>> live_children();

/// Forks. In the parent returns the child's pid, with the registry in a
/// consistent state on both sides. In the child calls `child_main` and leaves
/// with _exit(its result): the child never returns from here.
int fork_and_run(const std::function<int()>& child_main);

/// At exit of a process that started children: terminate the daemon ones,
/// then join every one (Python's util._exit_function).
void exit_children() noexcept;
/// `prologue` runs first in every exit_children(): the process executors'
/// exit hook, which must drain their daemonic workers before they are
/// terminated (Python's concurrent.futures exit hook runs before
/// multiprocessing's).
void set_exit_children_prologue(void (*prologue)() noexcept) noexcept;

/// Mask `what` of a child's bootstrap: true inside a Process's run() on the
/// thread running it, where mpx::exit() unwinds instead of calling std::exit.
bool& in_bootstrap() noexcept;

}  // namespace mpx::detail
