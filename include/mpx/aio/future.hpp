// mpx/aio/future.hpp — asyncio.Future, and awaiting a concurrent.futures Future.
//
//   aio::Future<int> fut;                               // on the running loop
//   loop.call_later(10ms, [fut]() mutable { fut.set_result(42); });
//   int v = co_await fut;                               // inside an aio::Task
//
//   futures::ThreadPoolExecutor ex(2);
//   int sq = co_await ex.submit([] { return 7 * 7; }); // a futures::Future, awaited
//
// One single-threaded core (detail::FutureBase) is behind Future<T>, Task<T>
// and gather's future: a status, the outcome, and the callbacks scheduled
// (never called inline) when it is done — Python's rule. A task waiting on a
// future is one of those callbacks; cancelling the task cancels the future it
// waits on, which wakes the task with CancelledError (Python's Task.cancel).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/aio/loop.hpp"
#include "mpx/errors.hpp"
#include "mpx/futures.hpp"

namespace mpx::aio {

// Python's names: asyncio.CancelledError, TimeoutError, InvalidStateError.
using mpx::CancelledError;
using mpx::InvalidStateError;
using mpx::TimeoutError;

namespace detail {

class TaskCore;

/// A suspension point a task can be cancelled out of (Python's _fut_waiter).
/// cancel(): true if the wait will end with CancelledError (the waiter woke
/// the task itself); false if too late (the task is being woken anyway).
/// (A function pointer, not a virtual: awaiters are small values in frames.)
struct Waiter {
  using CancelFn = bool (*)(Waiter*, const std::string&) noexcept;
  explicit Waiter(CancelFn fn) noexcept : cancel_fn(fn) {}
  bool cancel(const std::string& msg) noexcept { return cancel_fn(this, msg); }
  CancelFn cancel_fn;
};

/// The task running now on this thread, or nullptr (Python: current_task()).
TaskCore* current_task() noexcept;

/// asyncio.Future's untyped part. Refcounted (atomically, because a future
/// wrapping a concurrent one is released by worker threads too); everything
/// else belongs to the loop's thread.
class FutureBase {
 public:
  enum class Status : std::uint8_t { pending, cancelled, finished };

  explicit FutureBase(EventLoop* loop) noexcept : loop_(loop) {}
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;

  void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

  bool done() const noexcept { return status_ != Status::pending; }
  bool cancelled() const noexcept { return status_ == Status::cancelled; }
  EventLoop* loop() const noexcept { return loop_; }
  const std::string& cancel_msg() const noexcept { return cancel_msg_; }
  void set_loop(EventLoop* loop) noexcept { loop_ = loop; }

  /// Python: cancel(msg=None). A Task overrides it.
  virtual bool cancel(const std::string& msg = {});
  /// Python: exception(). Throws: CancelledError if cancelled, InvalidStateError if pending.
  std::exception_ptr exception() const;
  /// Python: set_exception(exc). Throws: InvalidStateError if done.
  void set_exception(std::exception_ptr e);
  /// Throws what result() would throw besides the value: the exception,
  /// CancelledError, or InvalidStateError("Result is not set.").
  void check_result() const;

  /// `t` is scheduled when this future is done.
  void add_waiter(TaskCore* t);
  /// Python: add_done_callback(fn) — fn(future) is call_soon'd when done (now, if done).
  std::uint64_t add_done_callback(std::function<void(FutureBase&)> fn);
  /// Python: remove_done_callback; by the id add_done_callback returned.
  bool remove_done_callback(std::uint64_t id) noexcept;

 protected:
  virtual ~FutureBase() = default;
  virtual void destroy() noexcept { delete this; }
  /// Sets the status and schedules every callback (Python: __schedule_callbacks).
  void mark_done(Status s);
  [[noreturn]] void throw_cancelled() const;

  std::exception_ptr exc_;
  std::string cancel_msg_;
  Status status_ = Status::pending;

 private:
  struct Entry {
    TaskCore* task;
    std::uint64_t id;
    std::function<void(FutureBase&)> fn;
  };
  std::vector<Entry> callbacks_;
  EventLoop* loop_;
  std::atomic<std::uint32_t> refs_{1};
  std::uint64_t next_id_ = 1;
};

/// A FutureBase with a T (nothing for void).
template <class T>
class FutureValue : public FutureBase {
 public:
  using FutureBase::FutureBase;
  std::optional<T> value;
  void set(T v) {
    if (done()) throw InvalidStateError("invalid state: the future is done");
    value.emplace(std::move(v));
    mark_done(Status::finished);
  }
};
template <>
class FutureValue<void> : public FutureBase {
 public:
  using FutureBase::FutureBase;
  void set() {
    if (done()) throw InvalidStateError("invalid state: the future is done");
    mark_done(Status::finished);
  }
};

/// co_await on a FutureBase from a task: Python's `yield self` in Future.__await__.
struct FutureWait : Waiter {
  FutureBase* fut;
  TaskCore* task = nullptr;
  explicit FutureWait(FutureBase* f) noexcept
      : Waiter(
            [](Waiter* w, const std::string& msg) noexcept { return static_cast<FutureWait*>(w)->fut->cancel(msg); }),
        fut(f) {}
  bool await_ready() const noexcept { return fut->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h.promise().root, h);
  }
  /// After resumption: delivers the task's pending cancellation, if any.
  void resume_checks();
  void suspend(TaskCore* t, std::coroutine_handle<> h);
};

}  // namespace detail

/// Python: asyncio.Future — a result that will be set; awaitable by tasks of
/// its loop. A handle: copies share one state. Not thread-safe (Python's is
/// not either): from another thread use loop.call_soon_threadsafe.
template <class T = void>
class Future {
 public:
  /// Python: loop.create_future(); Throws: RuntimeError if no loop runs here.
  Future() : Future(get_running_loop()) {}
  explicit Future(EventLoop& loop) : st_(new detail::FutureValue<T>(&loop)) {}
  Future(const Future& o) noexcept : st_(o.st_) { st_->retain(); }
  Future(Future&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~Future() {
    if (st_) st_->release();
  }

  bool done() const noexcept { return st_->done(); }
  bool cancelled() const noexcept { return st_->cancelled(); }
  /// Python: cancel(msg=None). Returns false if already done.
  bool cancel(const std::string& msg = {}) { return st_->cancel(msg); }
  /// Python: result(). Throws: the exception set, CancelledError, InvalidStateError.
  decltype(auto) result() const {
    st_->check_result();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*st_->value);
  }
  /// Python: exception(). Throws: CancelledError, InvalidStateError.
  std::exception_ptr exception() const { return st_->exception(); }
  /// Python: set_result(value). Throws: InvalidStateError if done.
  template <class... V>
  void set_result(V&&... v) {
    st_->set(std::forward<V>(v)...);
  }
  /// Python: set_exception(exc). Throws: InvalidStateError if done.
  void set_exception(std::exception_ptr e) { st_->set_exception(std::move(e)); }
  template <class E>
  void set_exception(E e) requires(!std::is_same_v<E, std::exception_ptr>) {
    set_exception(std::make_exception_ptr(std::move(e)));
  }
  /// Python: add_done_callback(fn): fn(future) runs on the loop soon after completion.
  template <class F>
  std::uint64_t add_done_callback(F fn) {
    return st_->add_done_callback([fn = std::move(fn)](detail::FutureBase& b) mutable {
      auto* v = static_cast<detail::FutureValue<T>*>(&b);
      v->retain();
      Future self(v);
      fn(self);
    });
  }
  bool remove_done_callback(std::uint64_t id) noexcept { return st_->remove_done_callback(id); }
  EventLoop& get_loop() const noexcept { return *st_->loop(); }

  /// `co_await fut` inside a Task: the result, or the exception.
  auto operator co_await() const noexcept {
    struct Awaiter : detail::FutureWait {
      const Future* self;
      Awaiter(const Future* f) noexcept : FutureWait(f->st_), self(f) {}
      decltype(auto) await_resume() {
        if (task) resume_checks();
        return self->result();
      }
    };
    return Awaiter(this);
  }
  detail::FutureBase* core() const noexcept { return st_; }
  /// A handle to `st`, taking over the caller's reference (gather's own future kind).
  static Future adopt(detail::FutureValue<T>* st) noexcept { return Future(st); }

 private:
  explicit Future(detail::FutureValue<T>* st) noexcept : st_(st) {}  // adopts a reference
  detail::FutureValue<T>* st_;
};

/// Python: asyncio.wrap_future(concurrent_future) — an aio Future on `loop`
/// that completes when `cf` does (posted with call_soon_threadsafe from
/// whichever thread completes it); cancelling it cancels `cf`.
template <class T>
Future<T> wrap_future(futures::Future<T> cf, EventLoop& loop) {
  Future<T> af(loop);
  af.add_done_callback([cf](Future<T>& self) mutable {
    if (self.cancelled()) cf.cancel();
  });
  cf.add_done_callback([inbox = loop.inbox(), af](futures::Future<T>& done) {
    detail::post(inbox, [af, done]() mutable {
      if (af.done()) return;
      if (done.cancelled()) {
        af.cancel();
      } else if (auto e = done.exception()) {
        af.set_exception(e);
      } else if constexpr (std::is_void_v<T>) {
        af.set_result();
      } else {
        af.set_result(done.result());
      }
    });
  });
  return af;
}
template <class T>
Future<T> wrap_future(futures::Future<T> cf) {
  return wrap_future(std::move(cf), get_running_loop());
}

}  // namespace mpx::aio
