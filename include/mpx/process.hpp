// mpx/process.hpp — multiprocessing.Process, and the functions around it.
//
//   void greet(std::string who) { std::printf("hello %s from %d\n", who.c_str(), mpx::current_process().pid()); }
//
//   mpx::Process p(greet, std::string("bob"));      // Process(target=greet, args=("bob",))
//   p.start();
//   p.join();
//   assert(p.exitcode() == 0);
//
//   struct Worker : mpx::Process {                   // or subclass and override run()
//     void run() override { mpx::exit(3); }          // sys.exit(3)
//   };
//
// Start method: fork by default (the child is a copy of the parent, so any
// callable runs, lambdas with captures included); spawn and forkserver
// through mpx::set_start_method or mpx::get_context (mpx/context.hpp). A child's exit code is 0, the n given to
// mpx::exit(n), 1 after an uncaught exception (reported on stderr), or
// -signum if a signal killed it — as in Python.
//
// Lifecycle (one registry per process, as Python's _children):
//   - join(), is_alive(), exitcode() and active_children() reap: no zombie
//     outlives them;
//   - at normal exit of the parent (return from main, std::exit), daemon
//     children are terminated and then every child is joined (Python's atexit);
//   - a daemon child is also killed when its parent dies by SIGKILL
//     (PR_SET_PDEATHSIG); PR_SET_PDEATHSIG fires when the *thread* that called
//     start() exits, so start daemon processes from a long-lived thread;
//   - a child never runs the parent's atexit handlers and never flushes the
//     parent's stdio buffers again: stdio is flushed before fork, and the
//     child leaves with _exit after flushing its own.
//
// A Process is a handle: copies share one process (like Python references).
// The object start() was called on is the one whose run() executes in the child.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/shipping.hpp"
#include "mpx/errors.hpp"

namespace mpx {

namespace detail {
struct ProcessState;
struct SpawnRequest;
int spawned_main(const SpawnRequest& request);
}  // namespace detail

/// Python's keyword arguments of Process(): name=, daemon=.
struct ProcessOptions {
  std::string name{};            ///< empty: "Process-N" (Python's default naming)
  std::optional<bool> daemon{};  ///< unset: inherited from the creating process
};

class Process {
 public:
  /// A process that will execute run(): override it in a subclass.
  explicit Process(ProcessOptions options = {});

  /// Process(target=f, args=(a, b)): run `target(args...)` in the child.
  /// The target and arguments are copied now (Python binds them at __init__).
  template <class F, class... Args>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<Args>&... > explicit Process(F&& target, Args&&... args)
      : Process(ProcessOptions{}, std::forward<F>(target), std::forward<Args>(args)...) {}

  /// Process(target=f, args=(...), name=..., daemon=...).
  /// Under fork any callable runs. Under spawn and forkserver the call must
  /// travel (detail/shipping.hpp): a function, static member function or
  /// captureless lambda with Encodable arguments; anything else makes start()
  /// throw ProcessError there (mpx::get_context("spawn").Process(...) and
  /// friends refuse it at compile time instead).
  template <class F, class... Args>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<Args>&... > Process(ProcessOptions options, F&& target, Args&&... args)
      : Process(std::move(options)) {
    if constexpr (detail::Shippable<F, Args...>) {
      auto fn = +target;
      auto tup = std::make_shared<std::tuple<std::decay_t<Args>...>>(std::forward<Args>(args)...);
      set_target([fn, tup] { std::apply(fn, *tup); },
                 [fn, tup] { return std::apply([&](auto&... a) { return detail::ship(fn, a...); }, *tup); });
    } else {
      set_target([f = std::forward<F>(target),
                  tup = std::make_tuple(std::forward<Args>(args)...)]() mutable { std::apply(f, tup); },
                 nullptr);
    }
  }

  Process(const Process&) = default;
  Process(Process&&) noexcept = default;
  Process& operator=(const Process&) = default;
  Process& operator=(Process&&) noexcept = default;
  /// Does not stop the child (Python's Process.__del__ does not either); the
  /// registry still reaps it and joins it at exit.
  virtual ~Process();

  /// The code the child executes. Default: call the target, if any.
  /// Python: Process.run()
  virtual void run();

  /// Forks the child, which calls run() and exits.
  /// Python: Process.start()
  /// Throws: AssertionError if started before or if the current process is a
  ///   daemon ("daemonic processes are not allowed to have children");
  ///   ValueError if closed; OSError if fork fails.
  void start();

  /// Waits until the child exits; reaps it.
  /// Python: Process.join(timeout=None)
  /// Throws: AssertionError if not started or not a child of this process.
  void join() const;
  /// Waits at most `timeout`. Returns whether the child has exited (Python
  /// returns None; check exitcode() there).
  /// A negative timeout is zero, as in Python: one look, no wait.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) const {
    return join_until(detail::Deadline::after(timeout));
  }

  /// Python: Process.is_alive(). Reaps the child if it has exited.
  bool is_alive() const;
  /// Python: Process.exitcode — nullopt while running or before start.
  std::optional<int> exitcode() const;

  /// Sends SIGTERM. Python: Process.terminate(). No-op once the child exited.
  void terminate();
  /// Sends SIGKILL. Python: Process.kill().
  void kill();
  /// Releases the process's resources (its pidfd).
  /// Python: Process.close()
  /// Throws: ValueError if the child is still running.
  void close();

  /// The child's pid; 0 before start (Python: None). For current_process(): getpid().
  int pid() const;
  /// Python: Process.ident — the same as pid().
  int ident() const { return pid(); }
  /// Python: Process.name ("Process-N" for the N-th child, "Process-N:M" in a child).
  std::string name() const;
  void set_name(std::string name);
  /// Python: Process.daemon.
  bool daemon() const;
  /// Throws: AssertionError once started ("process has already started").
  void set_daemon(bool daemon);
  /// A descriptor that becomes readable when the child exits (a pidfd; for a
  /// forkserver child, the socket its exit code comes through), for
  /// poll/epoll/select or mpx::connection::wait. Valid until close().
  /// Python: Process.sentinel. Throws: ValueError if not started.
  int sentinel() const;
  /// Python: Process.closed (3.7+ has it as _closed).
  bool closed() const;

 private:
  friend Process& current_process();
  friend std::optional<Process> parent_process();
  friend std::vector<Process> active_children();
  explicit Process(std::shared_ptr<detail::ProcessState> state) noexcept;
  void set_target(std::function<void()> target, std::function<detail::ShippedCall()> shipper);
  friend class Context;
  friend int detail::spawned_main(const detail::SpawnRequest& request);
  void set_start_method(std::string method);
  bool join_until(detail::Deadline deadline) const;

  std::shared_ptr<detail::ProcessState> state_;
};

/// Python: multiprocessing.current_process() — "MainProcess" in the main process.
Process& current_process();
/// Python: multiprocessing.parent_process() — nullopt in the main process.
/// Its is_alive() and join() watch the parent; it cannot be signalled or closed.
std::optional<Process> parent_process();
/// Python: multiprocessing.active_children() — the live children of this
/// process; reaps (joins) those that have exited.
std::vector<Process> active_children();
/// Python: multiprocessing.cpu_count() — processors online.
int cpu_count();

/// Python: sys.exit(code) inside a process. In a Process's run() it unwinds
/// (destructors run) and the process exits with `code`; elsewhere it flushes
/// stdio and calls std::exit(code).
[[noreturn]] void exit(int code = 0);

}  // namespace mpx
