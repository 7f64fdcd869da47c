// mpx/detail/future_core.hpp — the one future/promise core (DESIGN.md,
// mechanism 6): the state behind futures::Future<T>, the executors' tasks,
// and later Pool's AsyncResult, the MPI backend and aio's awaitables.
//
// One 32-bit word holds everything a completion must decide, so completing a
// future nobody watches is one compare-and-swap, no lock and no syscall:
//
//   state_:  | .. | OWNED | LISTS | SLEEPERS | LOCKED | status (3 bits) |
//   status:  PENDING ─► RUNNING ─► FINISHED           (Python's _base.py states)
//               └─cancel()─► CANCELLED ─set_running_or_notify_cancel()─► CANCELLED_AND_NOTIFIED
//
//   completer (worker, result-handler thread, set_result caller)
//     fast: CAS RUNNING|OWNED ─► FINISHED|OWNED      (fails if any flag is set)
//     slow: lock (LOCKED bit) · status := FINISHED · tell the wait()/as_completed
//           waiters · unlock · futex_wake if SLEEPERS · run the done callbacks
//   result()/exception() waiter
//     spin on the word (detail::spin), then set SLEEPERS and futex_wait on it
//   add_done_callback / waiter install
//     lock · append to extras_ and set LISTS · unlock (or run at once if done)
//
// LOCKED is a spin bit: whoever holds it only appends to or walks two short
// lists (callbacks are run after unlocking), and while it is set only the
// holder changes the word. SLEEPERS and LISTS are sticky; they only send a
// completion down the slow path. OWNED marks a task node whose executor
// stores the outcome without the lock: set_result on it from outside is refused.
//
// The core knows nothing of thread pools: a Pool's result-handler thread or an
// MPI receiver completes a future with set_result/set_exception from any thread.
// The refcount is separate from the word (handles are copied often, and the
// futex word should only change when the state does).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "mpx/detail/deadline.hpp"

namespace mpx::detail {

/// What wait() and as_completed() install on each future (Python's _Waiter):
/// told, under the future's lock, when the future finishes or its
/// cancellation is noticed. Must not call back into the future.
class FutureWaiter {
 public:
  virtual void add_result(class FutureCore* f) noexcept = 0;
  virtual void add_exception(FutureCore* f) noexcept = 0;
  virtual void add_cancelled(FutureCore* f) noexcept = 0;

 protected:
  ~FutureWaiter() = default;
};

/// The intrusive link an executor queues a task by (detail/task_queue.hpp).
struct QueueLink {
  std::atomic<QueueLink*> next{nullptr};
};

/// The untyped part of every future: status word, refcount, exception,
/// done callbacks and waiters. FutureValue<T> adds the result.
class FutureCore : public QueueLink {
 public:
  // Statuses, in the low three bits of the word (Python's names).
  static constexpr std::uint32_t kPending = 0;
  static constexpr std::uint32_t kRunning = 1;
  static constexpr std::uint32_t kCancelled = 2;
  static constexpr std::uint32_t kCancelledAndNotified = 3;
  static constexpr std::uint32_t kFinished = 4;
  static constexpr std::uint32_t kStatusMask = 7;
  // Flags.
  static constexpr std::uint32_t kLocked = 8;
  static constexpr std::uint32_t kSleepers = 16;
  static constexpr std::uint32_t kLists = 32;
  static constexpr std::uint32_t kOwned = 64;

  /// A pending future; `refs` handles own it (an executor's task starts with 2:
  /// the Future handed out and the queue's).
  explicit FutureCore(std::uint32_t refs = 1, bool owned = false) noexcept
      : state_(owned ? kOwned : kPending), refs_(refs) {}
  FutureCore(const FutureCore&) = delete;
  FutureCore& operator=(const FutureCore&) = delete;
  virtual ~FutureCore();

  // ---- ownership ------------------------------------------------------------
  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  /// How many handles own the state (shared_ptr::use_count's kind of number: a snapshot).
  std::uint32_t use_count() const noexcept { return refs_.load(std::memory_order_relaxed); }

  // ---- observers --------------------------------------------------------------
  std::uint32_t status() const noexcept { return state_.load(std::memory_order_acquire) & kStatusMask; }
  static bool is_done(std::uint32_t s) noexcept { return (s & kStatusMask) >= kCancelled; }
  static bool is_cancelled(std::uint32_t s) noexcept {
    return (s & kStatusMask) == kCancelled || (s & kStatusMask) == kCancelledAndNotified;
  }
  bool done() const noexcept { return is_done(state_.load(std::memory_order_acquire)); }
  /// The stored exception; meaningful once FINISHED.
  const std::exception_ptr& stored_exception() const noexcept { return exception_; }

  /// Waits until done or the deadline; returns whether done. Spins first.
  bool wait_done(Deadline deadline) const {
    if (done()) return true;
    return wait_done_slow(deadline);
  }

  // ---- the executor's side (Python: "should only be used by Executors") --------
  /// PENDING → RUNNING: true. CANCELLED → CANCELLED_AND_NOTIFIED (waiters are
  /// told): false. Any other status: a logged RuntimeError, as Python.
  bool set_running_or_notify_cancel() {
    std::uint32_t expected = kPending | kOwned;
    if (state_.compare_exchange_strong(expected, kRunning | kOwned, std::memory_order_acq_rel,
                                       std::memory_order_relaxed))
      return true;
    return set_running_slow();
  }
  /// An OWNED task whose outcome its executor has just stored (value or
  /// exception_): RUNNING → FINISHED, then waiters, sleepers, callbacks.
  void publish_owned() noexcept {
    if (!try_publish_owned()) publish_slow();
  }
  /// publish_owned()'s fast path: true if nobody waits, sleeps or has a
  /// callback (then nothing else is to be done); else call publish_slow().
  bool try_publish_owned() noexcept {
    std::uint32_t expected = kRunning | kOwned;
    return state_.compare_exchange_strong(expected, kFinished | kOwned, std::memory_order_acq_rel,
                                          std::memory_order_relaxed);
  }
  void publish_slow() noexcept;
  /// Executors: stores `e` on an OWNED RUNNING task (before publish_owned()).
  void store_exception(std::exception_ptr e) noexcept { exception_ = std::move(e); }

  /// Python: Future.cancel().
  bool cancel();
  /// Python: set_exception(); throws InvalidStateError once done (or if an
  /// executor owns the future).
  void set_exception(std::exception_ptr e);
  /// The general set_result: `store(this)` constructs the value, under the lock.
  /// Throws InvalidStateError as set_exception.
  void set_result_with(void (*store)(FutureCore*, void*), void* arg);

  /// set_result_with / set_exception for a thread that does not normally
  /// complete the future (a pool's thread waiting for it): done only if no
  /// done callback or waiter is installed, since those run on the completing
  /// thread; false otherwise (nothing stored: let the usual thread do it).
  /// True, doing nothing, once done.
  bool set_result_quietly(void (*store)(FutureCore*, void*), void* arg);
  bool set_exception_quietly(std::exception_ptr e);

  /// Python: add_done_callback — appended, or called at once (by this thread)
  /// if already done. The completing thread runs the appended ones.
  void add_done_callback(std::function<void(FutureCore*)> fn);

  /// wait()/as_completed(): installs `w` unless already done. Returns the
  /// status seen under the lock (so a caller can act on a done future itself).
  std::uint32_t install_waiter(FutureWaiter* w);
  void remove_waiter(FutureWaiter* w) noexcept;

  /// Python's repr(): "<Future at 0x7f.. state=finished returned int>".
  std::string repr() const;

  // ---- task hooks (executors) ----------------------------------------------------
  /// Runs the task's callable and stores its outcome (no publish); destroys the callable.
  virtual void invoke() noexcept {}
  /// Destroys the callable of a task that will not run (cancelled, broken pool).
  virtual void discard() noexcept {}
  /// Called by a thread about to sleep until done: the future's producer may
  /// let it do the work that completes the future (a process pool's waiting
  /// thread reads results itself). May return before done.
  virtual void help_wait(Deadline) const {}
  /// typeid of the result, for repr(); void for Future<void>.
  virtual const std::type_info& result_type() const noexcept = 0;

  /// For tests and repr: the whole word.
  std::uint32_t word() const noexcept { return state_.load(std::memory_order_acquire); }

 protected:
  /// FutureValue<T>'s destructor: was a value stored?
  bool holds_value() const noexcept {
    return (state_.load(std::memory_order_relaxed) & kStatusMask) == kFinished && !exception_;
  }

 private:
  struct Extras;
  std::uint32_t lock() noexcept;
  void unlock(std::uint32_t s) noexcept { state_.store(s & ~kLocked, std::memory_order_release); }
  bool set_running_slow();
  /// The setters' common part: stores the outcome (store(this, arg), or *e)
  /// and finishes, unless the status is past RUNNING or the word has a flag
  /// of `refuse`: then returns the (locked) word seen; 0 once finished.
  std::uint32_t try_finish(void (*store)(FutureCore*, void*), void* arg, std::exception_ptr* e, std::uint32_t refuse);
  /// Under the lock, status already changed: tells waiters, unlocks, wakes, runs callbacks.
  void finish_locked(std::uint32_t old, std::uint32_t now, bool notify_waiters) noexcept;
  bool wait_done_slow(Deadline deadline) const;
  [[noreturn]] void throw_invalid_state(std::uint32_t s) const;
  void run_callbacks(std::vector<std::function<void(FutureCore*)>>& cbs) noexcept;

  mutable std::atomic<std::uint32_t> state_;
  std::atomic<std::uint32_t> refs_;
  Extras* extras_ = nullptr;  // guarded by kLocked
  std::exception_ptr exception_;
};

/// A FutureCore with storage for a T (nothing for void).
template <class T>
class FutureValue : public FutureCore {
 public:
  explicit FutureValue(std::uint32_t refs = 1, bool owned = false) noexcept : FutureCore(refs, owned) {}
  ~FutureValue() override {
    if (holds_value()) value_.~T();
  }
  const std::type_info& result_type() const noexcept override { return typeid(T); }

  /// Valid once FINISHED without an exception.
  const T& value() const noexcept { return value_; }
  T& value() noexcept { return value_; }
  /// Executors: constructs the value of an OWNED RUNNING task.
  template <class... A>
  void emplace(A&&... a) {
    ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<A>(a)...);
  }

 private:
  union {
    T value_;
  };
};

template <>
class FutureValue<void> : public FutureCore {
 public:
  using FutureCore::FutureCore;
  const std::type_info& result_type() const noexcept override { return typeid(void); }
};

/// An executor's task: the future's state and the call in one allocation.
/// `Fn` is invoked once (as an rvalue) and destroyed right after, so what it
/// captured is released while the future lives on (CPython issue 16284).
template <class R, class Fn>
class Task final : public FutureValue<R> {
 public:
  explicit Task(Fn&& fn) : FutureValue<R>(2, true), fn_(std::move(fn)) {}
  ~Task() override {
    if (!ran_) fn_.~Fn();
  }

  void invoke() noexcept override {
    ran_ = true;
    try {
      if constexpr (std::is_void_v<R>) {
        std::move(fn_)();
      } else {
        this->emplace(std::move(fn_)());
      }
    } catch (...) {
      this->store_exception(std::current_exception());
    }
    fn_.~Fn();
  }
  void discard() noexcept override {
    if (!ran_) {
      ran_ = true;
      fn_.~Fn();
    }
  }

 private:
  union {
    Fn fn_;
  };
  bool ran_ = false;
};

/// Demangled name of a type ("int", "mpx::OSError").
std::string type_name(const std::type_info& t);
/// Prints "<message>\n<exception type>: <what>" on stderr — Python's
/// LOGGER.exception/critical with exc_info, for which no logging is set up.
void log_exception(const std::string& message, std::exception_ptr e) noexcept;

}  // namespace mpx::detail
