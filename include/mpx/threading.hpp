// mpx/threading.hpp — Python's threading module: Thread, Timer, local, and
// the functions around them.
//
//   void greet(std::string who) { std::printf("hello %s\n", who.c_str()); }
//
//   mpx::threading::Thread t(greet, std::string("bob"));   // Thread(target=greet, args=("bob",))
//   t.start();
//   t.join();
//
//   struct Worker : mpx::threading::Thread {               // or subclass and override run()
//     void run() override { ... }
//   };
//
//   mpx::threading::Timer timer(2s, [] { std::puts("late"); });
//   timer.start();
//   timer.cancel();                                         // before 2 s: never prints
//
// A Thread is a handle: copies share one thread (like Python references), so
// enumerate() and current_thread() can hand them out. The object start() was
// called on is the one whose run() executes; a *subclass* object must outlive
// its run() (join it first), or the process is stopped with a message — a
// plain Thread or Timer keeps what it needs in shared state and may go at once.
//
// Lifecycle (one registry per process, as Python's _active):
//   - an exception escaping run() goes to threading::excepthook (by default a
//     report on stderr); the thread then ends normally and the process goes on;
//     mpx::exit(n) inside a thread ends only that thread (Python's SystemExit);
//   - at normal exit (return from main, std::exit) every non-daemon thread is
//     joined, as Python's threading._shutdown does, then mpx's child processes
//     are handled as process.hpp says;
//   - daemon threads are not waited for: they are detached and the process
//     exits under them. Static objects are destroyed while they may still run,
//     so a daemon thread should touch only what outlives exit (leaked or
//     heap objects it owns); mpx's own state is never destroyed;
//   - after a fork (mpx::Process or fork(2)) the child has one thread, the one
//     that forked: it is the child's current_thread() and main_thread(), every
//     other Thread reads as stopped there (Python's _after_fork).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/errors.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

namespace detail {
struct ThreadState;
struct TimerState;
struct TimerTag {};
struct ThreadSlots;
struct ThreadAccess;

/// `timeout` in nanoseconds, saturated: mpx::forever and years stay "never".
template <class Rep, class Period>
std::chrono::nanoseconds saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  if (std::chrono::duration<double>(d) >= std::chrono::duration<double>(std::chrono::hours(24 * 365 * 100))) {
    return std::chrono::nanoseconds::max();
  }
  return std::chrono::ceil<std::chrono::nanoseconds>(d);
}

/// The untyped part of threading::local<T>: which thread holds which value.
class LocalStorage {
 public:
  using Make = void* (*)(const void* ctx);
  using Destroy = void (*)(void*) noexcept;
  explicit LocalStorage(Destroy destroy) noexcept : destroy_(destroy) {}
  /// Destroys every thread's value, in the destroying thread.
  ~LocalStorage();
  LocalStorage(const LocalStorage&) = delete;
  LocalStorage& operator=(const LocalStorage&) = delete;

  /// This thread's value; made by make(ctx) on the thread's first access.
  void* get(Make make, const void* ctx) const;

 private:
  friend struct LocalRegistry;
  Destroy destroy_;
  mutable std::unordered_set<ThreadSlots*> holders_;  // guarded by the registry's mutex
};
}  // namespace detail

namespace threading {

/// Python's keyword arguments of Thread(): name=, daemon=.
struct ThreadOptions {
  std::string name{};            ///< empty: "Thread-N" (Python's default naming)
  std::optional<bool> daemon{};  ///< unset: inherited from the creating thread
};

class Thread {
 public:
  /// A thread that will execute run(): override it in a subclass.
  explicit Thread(ThreadOptions options = {});

  /// Thread(target=f, args=(a, b)): run `target(args...)` in the new thread.
  /// The target and arguments are copied now (Python binds them at __init__)
  /// and destroyed in the thread once run() returns.
  template <class F, class... Args>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<Args>&... > explicit Thread(F&& target, Args&&... args)
      : Thread(ThreadOptions{}, std::forward<F>(target), std::forward<Args>(args)...) {}

  /// Thread(target=f, args=(...), name=..., daemon=...).
  template <class F, class... Args>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<Args>&... > Thread(ThreadOptions options, F&& target, Args&&... args) : Thread(std::move(options)) {
    set_target([f = std::forward<F>(target), tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
      std::apply(f, tup);
    });
  }

  Thread(const Thread&) = default;
  Thread(Thread&&) noexcept = default;
  Thread& operator=(const Thread&) = default;
  Thread& operator=(Thread&&) noexcept = default;
  /// Does not stop the thread (Python cannot either). Stops the process if
  /// this is a subclass object whose run() is still executing.
  virtual ~Thread();

  /// The code the thread executes. Default: call the target, if any, then
  /// drop it (Python's `del self._target, self._args`).
  /// Python: Thread.run()
  virtual void run();

  /// Starts the thread and waits until it runs (ident() and native_id() are
  /// set when start() returns).
  /// Python: Thread.start()
  /// Blocks: until the new thread has begun.
  /// Throws: RuntimeError("threads can only be started once"),
  ///   RuntimeError("can't start new thread") if the OS refuses (the thread
  ///   can then be started again), RuntimeError("can't create new thread at
  ///   interpreter shutdown") once exit has joined the threads.
  void start();

  /// Waits until the thread ends.
  /// Python: Thread.join(timeout=None)
  /// Throws: RuntimeError("cannot join thread before it is started"),
  ///   RuntimeError("cannot join current thread"),
  ///   RuntimeError("cannot join a dummy thread") for a thread mpx did not start.
  void join() const { join_until(detail::Deadline::never()); }
  /// Waits at most `timeout`; returns whether the thread has ended (Python
  /// returns None; check is_alive() there). A negative timeout is zero.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) const {
    return join_until(detail::Deadline::after(timeout));
  }

  /// True from just before run() starts until just after it returns.
  /// Python: Thread.is_alive(). Throws: RuntimeError("thread is not alive")
  /// for a dummy thread whose OS thread has ended (Python 3.13).
  bool is_alive() const;

  /// Python: Thread.name — "Thread-N", "MainThread", "Dummy-N" unless set.
  std::string name() const;
  /// Also names the OS thread (first 15 bytes) when called from the thread itself.
  void set_name(std::string name);
  /// Python: Thread.ident — get_ident() of the thread; 0 before start (Python: None).
  std::uint64_t ident() const;
  /// Python: Thread.native_id — the kernel's thread id; 0 before start (Python: None).
  int native_id() const;
  /// Python: Thread.daemon — inherited from the creating thread.
  bool daemon() const;
  /// Throws: RuntimeError("cannot set daemon status of active thread") once started.
  void set_daemon(bool daemon);
  /// Python: repr(thread) — "<Thread(Thread-1, started daemon 1403...)>".
  std::string repr() const;

  /// Identity: whether both handles name the same thread (Python's `is`).
  friend bool operator==(const Thread& a, const Thread& b) noexcept { return a.state_ == b.state_; }

 private:
  friend struct detail::ThreadAccess;
  explicit Thread(std::shared_ptr<detail::ThreadState> state) noexcept;
  void set_target(std::function<void()> target);
  bool join_until(detail::Deadline deadline) const;

  std::shared_ptr<detail::ThreadState> state_;
};

/// Python: threading.Timer(interval, function, args) — a Thread that calls
/// function(args...) after `interval`, unless cancel() came first.
class Timer : public Thread {
 public:
  template <class Rep, class Period, class F, class... Args>
  requires std::is_invocable_v < std::decay_t<F>
  &, std::decay_t<Args>&... > Timer(std::chrono::duration<Rep, Period> interval, F&& function, Args&&... args)
      : Timer(detail::TimerTag{}, detail::saturating_ns(interval),
              [f = std::forward<F>(function), tup = std::make_tuple(std::forward<Args>(args)...)]() mutable {
                std::apply(f, tup);
              }) {}

  /// Stops the timer if it is still waiting: the function will not run.
  /// Python: Timer.cancel(). Safe from: any thread, before or after start().
  void cancel();
  /// Python: Timer.interval.
  std::chrono::nanoseconds interval() const noexcept { return interval_; }

 private:
  Timer(detail::TimerTag, std::chrono::nanoseconds interval, std::function<void()> function);
  Timer(std::shared_ptr<detail::TimerState> st, std::chrono::nanoseconds interval, std::function<void()> function);
  std::shared_ptr<detail::TimerState> timer_;
  std::chrono::nanoseconds interval_;
};

/// Python: threading.current_thread(). For a thread mpx did not start, a
/// "Dummy-N" daemon handle that leaves enumerate() when that thread ends.
Thread current_thread();
/// Python: threading.main_thread() — "MainThread"; in a fork child, the
/// thread that forked.
Thread main_thread();
/// Python: threading.enumerate() — the live threads: started and not yet
/// ended, the main thread and dummy threads included.
std::vector<Thread> enumerate();
/// Python: threading.active_count() — enumerate().size().
std::size_t active_count();
/// Python: threading.get_ident() — this thread's pthread_t, nonzero; may be
/// reused once the thread has ended.
std::uint64_t get_ident() noexcept;
/// Python: threading.get_native_id() — this thread's kernel id (gettid).
int get_native_id() noexcept;

/// What threading::excepthook is given. Python: threading.ExceptHookArgs.
struct ExceptHookArgs {
  std::string exc_type{};          ///< the exception's type, demangled: "mpx::ValueError"
  std::string exc_value{};         ///< its what(); empty for a type that is not a std::exception
  std::exception_ptr exception{};  ///< the exception itself, to rethrow and catch by type
  std::optional<Thread> thread{};  ///< the thread that raised; nullopt when called by hand
};
using ExceptHook = std::function<void(const ExceptHookArgs&)>;

/// Calls the installed hook. Python: threading.excepthook(args).
void excepthook(const ExceptHookArgs& args);
/// Installs `hook` for exceptions escaping Thread::run(); an empty function
/// restores the default. Python: `threading.excepthook = hook`.
/// Safe from: any thread; a thread that is already failing uses the hook
/// installed when it calls it.
void set_excepthook(ExceptHook hook);
ExceptHook get_excepthook();
/// Python: threading.__excepthook__ — prints "Exception in thread NAME:" and
/// "<type>: <message>" on stderr; ignores mpx::SystemExit (mpx::exit in a thread).
void default_excepthook(const ExceptHookArgs& args);

/// Python: threading.local — each thread sees its own T, made on the thread's
/// first access (default-constructed, or by `init`, Python's __init__ of a
/// local subclass). A thread's value is destroyed when that thread ends
/// (before join() returns, for a Thread), the others when the local is
/// destroyed; the main thread's value lives until the local goes (so static
/// destructors may still read it). Usable as a member as well as a static.
/// Safe from: any thread. Not copyable: copies would not know their threads.
template <class T>
class local {
 public:
  local() : make_([] { return new T(); }) {}
  explicit local(std::function<T()> init) : make_([init = std::move(init)] { return new T(init()); }) {}

  T& get() const { return *static_cast<T*>(storage_.get(&make, this)); }
  T& operator*() const { return get(); }
  T* operator->() const { return &get(); }

 private:
  static void* make(const void* self) { return static_cast<const local*>(self)->make_(); }
  static void destroy(void* p) noexcept { delete static_cast<T*>(p); }

  std::function<T*()> make_;
  detail::LocalStorage storage_{&destroy};
};

// ---- synchronization primitives ----------------------------------------------
// One implementation serves threads and processes (mpx/synchronize.hpp); these
// are its threading flavour: RuntimeError where threading raises it.
using threading_sync::BoundedSemaphore;
using threading_sync::Condition;
using threading_sync::Lock;
using threading_sync::RLock;
using threading_sync::Semaphore;
using Event = mpx::Event;
using Barrier = mpx::Barrier;

}  // namespace threading
}  // namespace mpx
