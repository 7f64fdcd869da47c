// threading's public surface: Thread, Timer, the module functions and
// excepthook, over the registry of threading_registry.cpp.
#include "mpx/threading.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <typeinfo>

#include "mpx/detail/futex.hpp"
#include "threading_registry.hpp"

namespace mpx {
namespace detail {

struct TimerState {
  std::atomic<std::uint32_t> finished{0};
};

}  // namespace detail

namespace threading {

using detail::Deadline;
using detail::ThreadState;
using enum detail::Phase;

namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  return out;
}

// The installed excepthook; leaked, as daemon threads may fail during exit.
std::mutex& hook_mu() {
  static auto* mu = new std::mutex;
  return *mu;
}
ExceptHook*& hook_slot() {
  static auto* hook = new ExceptHook;
  return hook;
}
// Made before any thread exists (see g_initialised in threading_registry.cpp).
const bool g_hook_ready = (hook_mu(), hook_slot(), true);

ExceptHookArgs describe(std::exception_ptr e) {
  ExceptHookArgs args;
  args.exception = e;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    args.exc_type = demangle(typeid(ex).name());
    args.exc_value = ex.what();
  } catch (...) {
    auto* type = abi::__cxa_current_exception_type();
    args.exc_type = type ? demangle(type->name()) : "unknown";
  }
  return args;
}

void print_exception(const ExceptHookArgs& a) {
  if (a.exc_value.empty()) {
    std::fprintf(stderr, "%s\n", a.exc_type.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", a.exc_type.c_str(), a.exc_value.c_str());
  }
}

}  // namespace
}  // namespace threading

// Python's _invoke_excepthook: a failing hook is itself reported.
void detail::invoke_excepthook(const std::shared_ptr<ThreadState>& st, std::exception_ptr e) noexcept {
  try {
    auto args = threading::describe(e);
    args.thread = ThreadAccess::handle(st);
    try {
      threading::excepthook(args);
    } catch (...) {
      std::fprintf(stderr, "Exception in threading.excepthook:\n");
      threading::print_exception(threading::describe(std::current_exception()));
      std::fflush(stderr);
    }
  } catch (...) {
    // Out of memory while reporting: nothing more can be said.
  }
}

namespace threading {

Thread::Thread(ThreadOptions options) : state_(std::make_shared<ThreadState>()) {
  (void)g_hook_ready;
  state_->name =
      options.name.empty() ? "Thread-" + std::to_string(detail::next_thread_number()) : std::move(options.name);
  if (options.daemon) {
    state_->daemon = *options.daemon;
  } else {
    auto& cur = detail::current_state();
    std::lock_guard lock(cur.mu);
    state_->daemon = cur.daemon;
  }
}

Thread::Thread(std::shared_ptr<ThreadState> state) noexcept : state_(std::move(state)) {}

Thread::~Thread() {
  if (!state_) return;
  bool running;
  {
    std::lock_guard lock(state_->mu);
    running = state_->runner == this;
  }
  if (running) {
    std::fprintf(stderr,
                 "mpx::threading::Thread: the subclass object of thread %s was destroyed while its run() "
                 "executes; join the thread before destroying it\n",
                 name().c_str());
    std::terminate();
  }
}

void Thread::set_target(std::function<void()> target) { state_->target = std::move(target); }

void Thread::run() {
  std::function<void()> target;
  {
    std::lock_guard lock(state_->mu);
    target = std::move(state_->target);
  }
  if (target) target();
}

void Thread::start() {
  auto& st = *state_;
  bool daemon;
  {
    std::lock_guard lock(st.mu);
    if (st.phase.load() != kInitial) throw RuntimeError("threads can only be started once");
    st.phase.store(kStarting);  // claimed: a racing start() fails above
    // A plain Thread or Timer runs from its state alone; a subclass's own run() needs the object.
    const auto& type = typeid(*this);
    st.runner = type == typeid(Thread) || type == typeid(Timer) ? nullptr : this;
    daemon = st.daemon;
  }
  auto rollback = [&] {
    std::lock_guard lock(st.mu);
    st.runner = nullptr;
    st.phase.store(kInitial);
  };
  try {
    detail::register_start(state_, daemon);
  } catch (...) {
    rollback();
    throw;
  }
  detail::reap_finished();
  try {
    // Stored under the lock, so no reaper can look before the thread is in place.
    std::lock_guard lock(st.mu);
    std::thread t([keep = state_] { detail::bootstrap(keep); });
    if (daemon) {
      t.detach();  // the process may exit under it; `keep` holds its state
    } else {
      st.thread = std::move(t);
    }
  } catch (const std::system_error&) {
    detail::unregister_start(st);  // Python's limbo cleanup: the thread may be started again
    rollback();
    throw RuntimeError("can't start new thread");
  } catch (...) {
    detail::unregister_start(st);
    rollback();
    throw;
  }
  detail::wait_until(
      st.phase, [](std::uint32_t v) { return v != kStarting; }, Deadline::never());
}

bool Thread::join_until(Deadline deadline) const {
  auto& st = *state_;
  if (st.kind == ThreadState::Kind::Dummy) throw RuntimeError("cannot join a dummy thread");
  auto phase = st.phase.load(std::memory_order_acquire);
  if (phase == kInitial || phase == kStarting) throw RuntimeError("cannot join thread before it is started");
  if (&st == &detail::current_state()) throw RuntimeError("cannot join current thread");
  if (!detail::wait_until(
          st.phase, [](std::uint32_t v) { return v == kStopped; }, deadline))
    return false;
  detail::reap(st);
  return true;
}

bool Thread::is_alive() const {
  auto phase = state_->phase.load(std::memory_order_acquire);
  if (state_->kind == ThreadState::Kind::Dummy && phase == kStopped) throw RuntimeError("thread is not alive");
  return phase == kRunning;
}

std::string Thread::name() const {
  std::lock_guard lock(state_->mu);
  return state_->name;
}

void Thread::set_name(std::string name) {
  std::lock_guard lock(state_->mu);
  state_->name = std::move(name);
  if (detail::known_current_state() == state_.get()) detail::set_os_name(state_->name);
}

std::uint64_t Thread::ident() const { return state_->ident.load(); }
int Thread::native_id() const { return state_->native_id.load(); }

bool Thread::daemon() const {
  std::lock_guard lock(state_->mu);
  return state_->daemon;
}

void Thread::set_daemon(bool daemon) {
  std::lock_guard lock(state_->mu);
  if (state_->phase.load() != kInitial) throw RuntimeError("cannot set daemon status of active thread");
  state_->daemon = daemon;
}

std::string Thread::repr() const {
  std::string type = demangle(typeid(*this).name());
  if (auto colon = type.rfind("::"); colon != std::string::npos) type = type.substr(colon + 2);
  auto phase = state_->phase.load(std::memory_order_acquire);
  std::string status = phase == kStopped ? "stopped" : phase == kRunning ? "started" : "initial";
  if (daemon()) status += " daemon";
  if (auto id = ident()) status += " " + std::to_string(id);
  return "<" + type + "(" + name() + ", " + status + ")>";
}

Timer::Timer(detail::TimerTag, std::chrono::nanoseconds interval, std::function<void()> function)
    : Timer(std::make_shared<detail::TimerState>(), interval, std::move(function)) {}

Timer::Timer(std::shared_ptr<detail::TimerState> st, std::chrono::nanoseconds interval, std::function<void()> function)
    : Thread([st, interval, fn = std::move(function)] {
        // Python's Timer.run: finished.wait(interval), then call unless cancelled.
        auto cancelled = [](std::uint32_t v) { return v != 0; };
        if (!detail::wait_until(st->finished, cancelled, Deadline::after(interval))) fn();
        st->finished.store(1, std::memory_order_release);
        detail::futex_wake(st->finished);
      }),
      timer_(std::move(st)),
      interval_(interval) {}

void Timer::cancel() {
  timer_->finished.store(1, std::memory_order_release);
  detail::futex_wake(timer_->finished);
}

Thread current_thread() { return detail::ThreadAccess::handle(detail::current_state().shared_from_this()); }

Thread main_thread() { return detail::ThreadAccess::handle(detail::main_state()); }

std::vector<Thread> enumerate() {
  std::vector<Thread> out;
  for (auto& st : detail::active_states()) out.push_back(detail::ThreadAccess::handle(st));
  return out;
}

std::size_t active_count() { return detail::active_state_count(); }

std::uint64_t get_ident() noexcept { return static_cast<std::uint64_t>(::pthread_self()); }
int get_native_id() noexcept { return static_cast<int>(::gettid()); }

void excepthook(const ExceptHookArgs& args) { get_excepthook()(args); }

void set_excepthook(ExceptHook hook) {
  std::lock_guard lock(hook_mu());
  *hook_slot() = std::move(hook);
}

ExceptHook get_excepthook() {
  std::lock_guard lock(hook_mu());
  if (*hook_slot()) return *hook_slot();
  return default_excepthook;
}

void default_excepthook(const ExceptHookArgs& args) {
  if (args.exception) {
    try {
      std::rethrow_exception(args.exception);
    } catch (const SystemExit&) {
      return;  // Python: "silently ignore SystemExit"
    } catch (...) {
    }
  }
  std::string name = args.thread ? args.thread->name() : std::to_string(get_ident());
  std::fprintf(stderr, "Exception in thread %s:\n", name.c_str());
  print_exception(args);
  std::fflush(stderr);
}

}  // namespace threading
}  // namespace mpx
