// mpx/aio/task.hpp — aio::Task<T>: Python's coroutine object and asyncio.Task in one type.
//
//   aio::Task<int> answer() { co_await aio::sleep(10ms); co_return 42; }
//   aio::Task<> main_() {
//     int a = co_await answer();                     // runs inline, as `await answer()`
//     aio::Task<int> t = aio::create_task(answer()); // scheduled: runs on its own
//     t.cancel();                                    // CancelledError at its next suspension
//   }
//   aio::run(main_());
//
// Start: lazy, as a Python coroutine object. Calling a Task function runs
// nothing; the body starts when the Task is awaited (inline, in the awaiting
// task, no loop round trip), or at the loop's next iteration once given to
// create_task / run / gather (asyncio.create_task's "eager = false"). A task
// given to create_task is kept alive by the loop until it finishes, even if
// every handle is dropped (Python keeps only a weak reference; a task can be
// garbage-collected mid-flight there).
//
//   TaskCore (the promise): a FutureBase + the scheduling state
//     root          the scheduled task this frame runs in (itself, or the
//                   task that awaits it inline)
//     resume_point  root only: the innermost frame suspended
//     waiting       root only: the Waiter it is suspended at (for cancel())
//   cancel(): ++cancelling; if waiting->cancel() the wait ends with
//     CancelledError; else must_cancel, delivered at the next resumption.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "mpx/aio/future.hpp"
#include "mpx/aio/loop.hpp"

namespace mpx::aio {

template <class T = void>
class Task;

namespace detail {

template <class X>
struct is_concurrent_future : std::false_type {};
template <class X>
struct is_concurrent_future<futures::Future<X>> : std::true_type {};

class TaskCore : public FutureBase {
 public:
  enum class Mode : std::uint8_t { lazy, inline_, scheduled };
  TaskCore() noexcept : FutureBase(nullptr) {}

  /// Python: Task.cancel(msg=None).
  bool cancel(const std::string& msg = {}) override;
  /// Python: cancelling(), uncancel().
  int cancelling() const noexcept { return root->num_cancels_requested; }
  int uncancel() noexcept {
    if (root->num_cancels_requested > 0) --root->num_cancels_requested;
    return root->num_cancels_requested;
  }
  /// create_task: schedules the first step on `loop`. Throws: RuntimeError if started.
  void start(EventLoop& loop);
  /// The loop runs the task one step (to its next suspension).
  void step() noexcept;
  /// EventLoop::close() on a task that never finished: drops the loop's reference.
  void abandon() noexcept;
  /// An awaiter suspends the task at `h`, cancellable through `w`.
  void suspend_at(std::coroutine_handle<> h, Waiter* w) noexcept {
    resume_point = h;
    waiting = w;
  }
  /// An awaiter resumed: delivers a pending cancellation. Throws: CancelledError.
  void resumed();
  /// final_suspend: decides finished/cancelled, tells the waiters, and
  /// returns where to continue (the awaiting frame, or the loop).
  std::coroutine_handle<> finish() noexcept;
  virtual std::coroutine_handle<> handle() noexcept = 0;

  TaskCore* root = this;
  std::coroutine_handle<> resume_point;
  Waiter* waiting = nullptr;
  std::coroutine_handle<> continuation;
  std::size_t loop_index = SIZE_MAX;
  std::string name;
  int num_cancels_requested = 0;
  Mode mode = Mode::lazy;
  bool scheduled = false;
  bool must_cancel = false;
  bool started = false;

 protected:
  void destroy() noexcept override { handle().destroy(); }
};

/// The cheapest suspension: whoever the awaiter registered with calls
/// wake() (the task resumes at the loop's next turn), or cancel() ends it
/// with CancelledError. No future, no callback list — for hot paths (a
/// stream reader waiting for data, a socket waiting for readiness).
/// Subclasses say how to register (arm) and unregister (disarm); disarm
/// runs once, before the task is scheduled, so a newer wait on the same
/// thing is never undone by an older one. A subclass's destructor must
/// call release() (a frame destroyed mid-wait, at loop close).
class DirectWait : public Waiter {
 public:
  virtual ~DirectWait() = default;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h.promise().root, h);
  }
  /// Throws: CancelledError if cancelled.
  void await_resume();
  /// Ends the wait: disarms, then schedules the task. Later calls do nothing.
  void wake() noexcept;

 protected:
  DirectWait() noexcept : Waiter(&cancel_wait) {}
  // Copied only before it is awaited (the coroutine machinery may copy the operand).
  DirectWait(const DirectWait&) noexcept : Waiter(&cancel_wait) {}
  DirectWait& operator=(const DirectWait&) = delete;
  /// Registers the wait. Throws: what registering throws (the task is not suspended then).
  virtual void arm() = 0;
  virtual void disarm() noexcept = 0;
  /// Disarms if armed.
  void release() noexcept;
  /// The waiting task's loop (valid from arm() on).
  EventLoop& loop() const noexcept { return *task_->loop(); }

 private:
  void suspend(TaskCore* t, std::coroutine_handle<> h);
  static bool cancel_wait(Waiter* w, const std::string& msg) noexcept;
  TaskCore* task_ = nullptr;
  bool armed_ = false;
  bool cancelled_ = false;
  std::string msg_;
};

template <class T>
struct ReturnValue {
  std::optional<T> value;
  template <class V>
  void return_value(V&& v) {
    value.emplace(std::forward<V>(v));
  }
};
template <>
struct ReturnValue<void> {
  void return_void() noexcept {}
};

template <class T>
class TaskPromise final : public TaskCore, public ReturnValue<T> {
 public:
  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() noexcept { return {}; }
  auto final_suspend() noexcept {
    struct Final {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<TaskPromise> h) noexcept {
        return h.promise().finish();
      }
      void await_resume() const noexcept {}
    };
    return Final{};
  }
  void unhandled_exception() noexcept { exc_ = std::current_exception(); }
  std::coroutine_handle<> handle() noexcept override { return std::coroutine_handle<TaskPromise>::from_promise(*this); }

  /// `co_await executor.submit(...)`: a concurrent.futures Future, wrapped.
  template <class U>
  Future<U> await_transform(futures::Future<U> f) {
    return wrap_future(std::move(f), *loop());
  }
  template <class A>
  A&& await_transform(A&& a) noexcept requires(!is_concurrent_future<std::remove_cvref_t<A>>::value) {
    return std::forward<A>(a);
  }
};

/// Untyped handle to a task (Python: what current_task() and all_tasks() give).
class TaskHandleBase {
 public:
  TaskHandleBase() = default;
  explicit TaskHandleBase(TaskCore* p) noexcept : p_(p) {
    if (p_) p_->retain();
  }
  TaskHandleBase(const TaskHandleBase& o) noexcept : TaskHandleBase(o.p_) {}
  TaskHandleBase(TaskHandleBase&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  TaskHandleBase& operator=(TaskHandleBase o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~TaskHandleBase() {
    if (p_) p_->release();
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  bool operator==(const TaskHandleBase& o) const noexcept { return p_ == o.p_; }

  /// Python: done(), cancelled(), cancel(msg=None), cancelling(), uncancel().
  bool done() const noexcept { return p_->done(); }
  bool cancelled() const noexcept { return p_->cancelled(); }
  bool cancel(const std::string& msg = {}) { return p_->cancel(msg); }
  int cancelling() const noexcept { return p_->cancelling(); }
  int uncancel() noexcept { return p_->uncancel(); }
  /// Python: exception(). Throws: CancelledError, InvalidStateError.
  std::exception_ptr exception() const { return p_->exception(); }
  /// Python: get_name(), set_name().
  const std::string& get_name() const noexcept { return p_->name; }
  void set_name(std::string n) { p_->name = std::move(n); }
  /// Python: add_done_callback(fn) — fn() is call_soon'd once the task is done.
  std::uint64_t add_done_callback(std::function<void()> fn) {
    return p_->add_done_callback([fn = std::move(fn)](FutureBase&) { fn(); });
  }
  bool remove_done_callback(std::uint64_t id) noexcept { return p_->remove_done_callback(id); }
  TaskCore* core() const noexcept { return p_; }

 protected:
  TaskCore* p_ = nullptr;
};

}  // namespace detail

/// An untyped task handle: compare, cancel, wait on it.
class TaskRef : public detail::TaskHandleBase {
 public:
  using TaskHandleBase::TaskHandleBase;
  /// `co_await ref`: waits for the task (its result is not returned); rethrows its exception.
  auto operator co_await() const noexcept {
    struct Awaiter : detail::FutureWait {
      using FutureWait::FutureWait;
      void await_resume() {
        if (task) resume_checks();
        fut->check_result();
      }
    };
    return Awaiter(p_);
  }
};

/// Python: asyncio.Task (and the coroutine object before it is scheduled).
/// A handle: copies refer to one task.
template <class T>
class [[nodiscard]] Task : public detail::TaskHandleBase {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;
  Task() = default;
  explicit Task(promise_type* p, bool adopt) noexcept {
    p_ = p;
    if (!adopt) p_->retain();
  }

  /// Python: result(). Throws: the task's exception, CancelledError, InvalidStateError.
  decltype(auto) result() const {
    p_->check_result();
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*promise().value);
  }
  /// An untyped handle to the same task.
  TaskRef ref() const noexcept { return TaskRef(p_); }
  promise_type& promise() const noexcept { return *static_cast<promise_type*>(p_); }

  auto operator co_await() const& noexcept { return Awaiter{promise(), false}; }
  auto operator co_await() && noexcept { return Awaiter{promise(), true}; }

 private:
  struct Awaiter : detail::FutureWait {
    promise_type* p;
    bool move_out;
    Awaiter(promise_type& pr, bool mv) noexcept : FutureWait(&pr), p(&pr), move_out(mv) {}
    bool await_ready() const noexcept { return p->mode != detail::TaskCore::Mode::lazy && p->done(); }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
      using Mode = detail::TaskCore::Mode;
      if (p->mode == Mode::lazy) {
        // `await coro()`: the body runs now, inside the awaiting task.
        p->mode = Mode::inline_;
        p->root = h.promise().root;
        p->set_loop(h.promise().loop());
        p->continuation = h;
        p->started = true;
        return p->handle();
      }
      if (p->mode == Mode::inline_) throw RuntimeError("cannot reuse already awaited coroutine");
      suspend(h.promise().root, h);
      return std::noop_coroutine();
    }
    decltype(auto) await_resume() {
      if (task) resume_checks();
      p->check_result();
      if constexpr (std::is_void_v<T>) {
        return;
      } else if constexpr (!std::is_copy_constructible_v<T>) {
        return T(std::move(*p->value));  // move-only results go to one awaiter
      } else if (move_out && p->mode == detail::TaskCore::Mode::inline_) {
        return T(std::move(*p->value));
      } else {
        return T(*p->value);
      }
    }
  };
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(this, true);
}
}  // namespace detail

/// What create_task returns: a Task<T> (it converts, and deduces as one) that
/// may be dropped — the loop keeps a scheduled task alive, so fire-and-forget
/// is fine, while dropping an unstarted Task (a forgotten co_await) is not.
template <class T>
class ScheduledTask : public Task<T> {
 public:
  explicit ScheduledTask(Task<T> t) noexcept : Task<T>(std::move(t)) {}
};

/// Python: asyncio.create_task(coro, name=None) — schedules `t` on the
/// running loop; it starts at the loop's next iteration.
/// Throws: RuntimeError if no loop runs here or `t` was started already.
template <class T>
ScheduledTask<T> create_task(Task<T> t, std::string name = {}) {
  if (!name.empty()) t.set_name(std::move(name));
  t.core()->start(get_running_loop());
  return ScheduledTask<T>(std::move(t));
}

/// Python: asyncio.current_task() — empty outside a task.
inline TaskRef current_task() { return TaskRef(detail::current_task()); }
/// Python: asyncio.all_tasks() — the running loop's unfinished tasks.
std::vector<TaskRef> all_tasks();

namespace detail {
/// asyncio.run's epilogue: cancels what is still pending and runs the loop until it all ends.
void cancel_all_tasks(EventLoop& loop);
/// run_until_complete's body: starts `t` (if lazy), runs until it is done.
void run_until_done(EventLoop& loop, TaskCore* t);
}  // namespace detail

/// Python: loop.run_until_complete(coro). Blocks: until `t` is done.
/// Throws: what `t` throws; RuntimeError if the loop stopped first.
template <class T>
T run_until_complete(EventLoop& loop, Task<T> t) {
  detail::run_until_done(loop, t.core());
  t.promise().check_result();
  if constexpr (!std::is_void_v<T>) return std::move(*t.promise().value);
}

/// Python: asyncio.run(main) — a new loop, `main` run to completion, the
/// tasks left cancelled and awaited, the default executor shut down, the loop
/// closed. Blocks: until main is done. Throws: what main throws;
/// RuntimeError if a loop already runs in this thread.
template <class T>
T run(Task<T> main, const LoopOptions& options = {}) {
  if (running_loop()) throw RuntimeError("asyncio.run() cannot be called from a running event loop");
  EventLoop loop(options);
  Task<T> task = std::move(main);  // dropped before the loop closes
  struct Finally {
    EventLoop& loop;
    ~Finally() {
      try {
        detail::cancel_all_tasks(loop);
      } catch (...) {
      }
      loop.close();
    }
  } finally{loop};
  return run_until_complete(loop, task);
}

}  // namespace mpx::aio
