// multiprocessing.Process over the child registry (os/children) and the
// fork start method (os/popen_fork).
#include "mpx/process.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <typeinfo>
#include <utility>

#include "mpx/context.hpp"
#include "mpx/detail/transfer.hpp"
#include "os/children.hpp"
#include "os/popen_fork.hpp"
#include "os/popen_forkserver.hpp"
#include "os/popen_spawn.hpp"
#include "threading_registry.hpp"

namespace mpx {

using detail::Deadline;
using detail::ProcessState;

namespace {

// Python's process._process_counter: numbers the Process objects this
// process creates; starts again at 1 in every child.
std::atomic<int> g_counter{1};

std::shared_ptr<ProcessState> make_main_state() {
  auto st = std::make_shared<ProcessState>();
  st->kind = ProcessState::Kind::Current;
  st->name = "MainProcess";
  st->started = true;
  return st;
}

// Who this process is, and who its parent is (null in the main process).
// Function-local and leaked, so they work from static initialisers of other
// files and from atexit handlers alike. A child repoints them in bootstrap().
std::shared_ptr<ProcessState>& current_state() {
  static auto* st = new std::shared_ptr<ProcessState>(make_main_state());
  return *st;
}
std::shared_ptr<ProcessState>& parent_state() {
  static auto* st = new std::shared_ptr<ProcessState>();
  return *st;
}
// In a child: what it knew of its parent at start. parent_process() builds
// the parent's state from these on first use, so a child that never asks
// pays nothing for it (process start is page-fault bound on this VM).
struct ParentAtStart {
  std::shared_ptr<ProcessState> creator;  // the parent's own "current" state
  int pid = 0;
  int pidfd = -1;  // the parent's pidfd, when it is not our parent in the kernel (forkserver)
};
ParentAtStart& parent_at_start() {
  static auto* p = new ParentAtStart;
  return *p;
}
// The handle current_process() returns; made on first use.
Process* g_current = nullptr;

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  return out;
}

// Python names a process after its class: "Process-1", or "Worker-1" for a
// subclass Worker. Namespaces are dropped.
std::string class_name(const Process& p) {
  std::string n = demangle(typeid(p).name());
  auto colon = n.rfind("::");
  return colon == std::string::npos ? n : n.substr(colon + 2);
}

std::string default_name(const Process& p, const std::vector<int>& identity) {
  std::string n = class_name(p) + "-";
  for (std::size_t i = 0; i < identity.size(); ++i) {
    if (i) n += ':';
    n += std::to_string(identity[i]);
  }
  return n;
}

// Python's multiprocessing checks: only the process that created a child
// handle may join or test it.
void check_creator(const ProcessState& st, const char* what) {
  if (st.kind == ProcessState::Kind::Child && st.creator_pid != ::getpid()) {
    throw AssertionError(std::string("can only ") + what + " a child process");
  }
}

void check_not_closed(const ProcessState& st) {
  if (st.closed) throw ValueError("process object is closed");
}

// The child's side of start(): become the current process, run, report.
int bootstrap(Process& self, const std::shared_ptr<ProcessState>& st, int parent_pid, int parent_pidfd = -1) {
  parent_at_start().creator = current_state();
  parent_at_start().pid = parent_pid;
  // A fork child of a forkserver child inherits its parent's pidfd of *its*
  // parent: not ours.
  if (parent_at_start().pidfd >= 0 && parent_at_start().pidfd != parent_pidfd) ::close(parent_at_start().pidfd);
  parent_at_start().pidfd = parent_pidfd;
  parent_state().reset();

  st->kind = ProcessState::Kind::Current;
  st->pid = ::getpid();
  st->pidfd.reset();
  st->status.reset();
  current_state() = st;
  if (g_current) *g_current = Process(self);  // the static handle now names us
  // Python's _bootstrap: a process made by a context uses that context's
  // method for its own children.
  if (!st->start_method.empty()) set_start_method(st->start_method, true);
  g_counter.store(1);

  int code = 0;
  detail::in_bootstrap() = true;
  try {
    self.run();
  } catch (const SystemExit& e) {
    code = e.code;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "Process %s:\nTraceback (most recent call last):\n%s: %s\n", st->name.c_str(),
                 demangle(typeid(e).name()).c_str(), e.what());
    code = 1;
  } catch (...) {
    std::fflush(stdout);
    std::fprintf(stderr, "Process %s:\nTraceback (most recent call last):\n%s\n", st->name.c_str(),
                 demangle(abi::__cxa_current_exception_type()->name()).c_str());
    code = 1;
  }
  detail::in_bootstrap() = false;
  // Python's _bootstrap ends with threading._shutdown() and
  // util._exit_function(): the child's non-daemon threads are joined, its own
  // children terminated (daemons) and joined, before it exits.
  detail::threading_shutdown();
  detail::exit_children();
  detail::forkserver_stop();
  return code;
}

}  // namespace

namespace detail {

// The spawned child's side: become the process the parent started, run the
// shipped call, report as a fork child would.
int spawned_main(const SpawnRequest& request) {
  ::mpx::current_state()->name = request.parent_name;  // what parent_process() will call the parent
  auto st = std::make_shared<ProcessState>();
  st->name = request.name;
  st->identity = request.identity;
  st->daemon = request.daemon;
  st->started = true;
  st->creator_pid = request.parent_pid;
  st->start_method = request.start_method;
  ShippedCall call = request.call;
  std::vector<int> fds = spawned_fds(request.fd_count);
  st->target = [call, fds] {
    Transfer transfer(Transfer::Side::Child);
    transfer.fds = fds;
    run_shipped(call);
  };
  if (request.daemon) {
    // As a daemon fork child: it dies with its parent, even a SIGKILLed one.
    // Under forkserver our kernel parent is the server, which dies with the
    // parent.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != request.launcher_pid) return 1;
  }
  // Python's child reads nothing from the parent's terminal.
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0 && null != STDIN_FILENO) {
    ::dup2(null, STDIN_FILENO);
    ::close(null);
  }
  Process self{st};
  return ::mpx::bootstrap(self, st, request.parent_pid, request.parent_pidfd);
}

}  // namespace detail

Process::Process(ProcessOptions options) : state_(std::make_shared<ProcessState>()) {
  auto& st = *state_;
  st.identity = current_state()->identity;
  st.identity.push_back(g_counter.fetch_add(1));
  st.name = std::move(options.name);
  st.daemon = options.daemon.value_or(current_state()->daemon);
  st.creator_pid = ::getpid();
}

Process::Process(std::shared_ptr<ProcessState> state) noexcept : state_(std::move(state)) {}

Process::~Process() = default;

void Process::set_target(std::function<void()> target, std::function<detail::ShippedCall()> shipper) {
  state_->target = std::move(target);
  state_->shipper = std::move(shipper);
}

void Process::set_start_method(std::string method) { state_->start_method = std::move(method); }

void Process::run() {
  if (state_->target) state_->target();
}

void Process::start() {
  auto& st = *state_;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    if (st.started) throw AssertionError("cannot start a process twice");
    check_creator(st, "start");
    if (current_state()->daemon) throw AssertionError("daemonic processes are not allowed to have children");
    if (st.name.empty()) st.name = default_name(*this, st.identity);
    st.started = true;  // claimed: a racing start() from another thread fails above
  }
  detail::live_children();  // Python's _cleanup(): reap what has finished
  try {
    const int parent_pid = static_cast<int>(::getpid());
    const std::string method = st.start_method.empty() ? get_start_method() : st.start_method;
    if (method == "fork") {
      parent_at_start();  // made here, so the child writes no fresh heap page for it
      detail::popen_fork(st, state_, [this, parent_pid] { return bootstrap(*this, state_, parent_pid); });
    } else {
      if (!st.shipper) {
        throw ProcessError("cannot start " + st.name + " with the " + method +
                           " start method: its target cannot travel to a fresh process. Pass a function, a "
                           "static member function or a lambda without captures, with Encodable arguments "
                           "(a Process subclass's run() or a capturing lambda runs only under fork)");
      }
      detail::SpawnRequest request;
      // Shared objects among the arguments travel by reference, Connections
      // as descriptors passed down (detail/transfer.hpp).
      detail::Transfer transfer(detail::Transfer::Side::Parent);
      request.call = st.shipper();
      request.fd_count = static_cast<std::uint32_t>(transfer.fds.size());
      request.build_id = request.call.build_id;
      request.name = st.name;
      request.identity = st.identity;
      request.daemon = st.daemon;
      request.parent_pid = parent_pid;
      request.parent_name = current_state()->name;
      request.start_method = method;
      if (method == "forkserver") {
        detail::popen_forkserver(st, state_, request, transfer.fds);
      } else {
        detail::popen_spawn(st, state_, request, transfer.fds);
      }
      transfer.commit();
    }
  } catch (...) {
    std::lock_guard lock(st.mu);
    st.started = false;
    throw;
  }
  // The child has its own copy now: let the target and its arguments go, as
  // Python's start() does (del self._target, self._args, self._kwargs).
  std::lock_guard lock(st.mu);
  st.target = nullptr;
  st.shipper = nullptr;  // holds the arguments too (a Connection moved in must close here)
}

void Process::join() const { join_until(Deadline::never()); }

bool Process::join_until(Deadline deadline) const {
  auto& st = *state_;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    if (st.kind == ProcessState::Kind::Current) throw AssertionError("can only join a child process");
    check_creator(st, "join");
    if (!st.started) throw AssertionError("can only join a started process");
  }
  if (st.kind == ProcessState::Kind::Parent) {
    // Not our child: we can watch it exit, not reap it.
    return !st.pidfd || detail::wait_readable(st.pidfd.get(), deadline.poll_timeout_ms());
  }
  bool exited = detail::wait_child(st, deadline).has_value();
  if (exited) detail::forget_child(&st);
  return exited;
}

bool Process::is_alive() const {
  auto& st = *state_;
  if (st.kind == ProcessState::Kind::Current) return true;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    check_creator(st, "test");
    if (!st.started) return false;
  }
  if (st.kind == ProcessState::Kind::Parent) {
    return st.pidfd && !detail::wait_readable(st.pidfd.get(), 0);
  }
  if (detail::wait_child(st, Deadline::now())) {
    detail::forget_child(&st);
    return false;
  }
  return true;
}

std::optional<int> Process::exitcode() const {
  auto& st = *state_;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    if (st.kind != ProcessState::Kind::Child || !st.started) return std::nullopt;
    if (st.exitcode) return st.exitcode;
  }
  if (st.creator_pid != ::getpid()) return std::nullopt;
  return detail::wait_child(st, Deadline::now());
}

void Process::terminate() {
  auto& st = *state_;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    if (st.kind != ProcessState::Kind::Child || !st.started) {
      throw AssertionError("can only terminate a started child process");
    }
  }
  detail::signal_child(st, SIGTERM);
}

void Process::kill() {
  auto& st = *state_;
  {
    std::lock_guard lock(st.mu);
    check_not_closed(st);
    if (st.kind != ProcessState::Kind::Child || !st.started) {
      throw AssertionError("can only kill a started child process");
    }
  }
  detail::signal_child(st, SIGKILL);
}

void Process::close() {
  auto& st = *state_;
  if (st.kind == ProcessState::Kind::Child && st.started && st.creator_pid == ::getpid() &&
      !detail::wait_child(st, Deadline::now())) {
    throw ValueError("Cannot close a process while it is still running. You should first call join() or terminate().");
  }
  std::lock_guard lock(st.mu);
  if (st.kind != ProcessState::Kind::Child) return;
  st.pidfd.reset();
  st.status.reset();
  st.target = nullptr;
  st.shipper = nullptr;
  st.closed = true;
  // The registry entry (if any) is dropped by forget_child below.
  detail::forget_child(&st);
}

int Process::pid() const {
  auto& st = *state_;
  std::lock_guard lock(st.mu);
  check_not_closed(st);
  if (st.kind == ProcessState::Kind::Current) return ::getpid();
  return st.pid;
}

std::string Process::name() const {
  auto& st = *state_;
  std::lock_guard lock(st.mu);
  if (st.name.empty()) st.name = default_name(*this, st.identity);
  return st.name;
}

void Process::set_name(std::string name) {
  std::lock_guard lock(state_->mu);
  state_->name = std::move(name);
}

bool Process::daemon() const {
  std::lock_guard lock(state_->mu);
  return state_->daemon;
}

void Process::set_daemon(bool daemon) {
  auto& st = *state_;
  std::lock_guard lock(st.mu);
  if (st.kind == ProcessState::Kind::Child && st.started) throw AssertionError("process has already started");
  st.daemon = daemon;
}

int Process::sentinel() const {
  auto& st = *state_;
  std::lock_guard lock(st.mu);
  check_not_closed(st);
  if (!st.started || !st.pidfd) throw ValueError("process not started");
  // A forkserver child is not ours to reap: its pidfd is readable before the
  // server has reaped it, the status socket once its exit code can be read.
  return st.status && !st.orphaned ? st.status.get() : st.pidfd.get();
}

bool Process::closed() const {
  std::lock_guard lock(state_->mu);
  return state_->closed;
}

Process& current_process() {
  // Leaked: usable from atexit handlers and static destructors.
  static Process* current = [] {
    g_current = new Process(current_state());
    return g_current;
  }();
  return *current;
}

std::optional<Process> parent_process() {
  auto& at_start = parent_at_start();
  if (!at_start.creator) return std::nullopt;  // the main process
  if (!parent_state()) {
    auto parent = std::make_shared<ProcessState>();
    parent->kind = ProcessState::Kind::Parent;
    parent->name = at_start.creator->name;
    parent->started = true;
    parent->pid = at_start.pid;
    // Still our parent, so its pid cannot have been reused: safe to watch.
    // Otherwise it is gone, and is_alive() says so (no pidfd). A forkserver
    // child was handed a pidfd of its parent, opened race-free by the server.
    if (at_start.pidfd >= 0) {
      parent->pidfd = detail::Fd(std::exchange(at_start.pidfd, -1));
    } else if (::getppid() == at_start.pid) {
      try {
        parent->pidfd = detail::Fd::pidfd_open(at_start.pid);
      } catch (const Error&) {
      }
    }
    parent_state() = std::move(parent);
  }
  return Process(parent_state());
}

std::vector<Process> active_children() {
  std::vector<Process> out;
  for (auto& st : detail::live_children()) out.push_back(Process(st));
  return out;
}

int cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

void exit(int code) {
  if (detail::in_bootstrap()) throw SystemExit{code};
  std::cout.flush();
  std::fflush(nullptr);
  std::exit(code);
}

}  // namespace mpx
