// mpx/aio/timeouts.hpp — asyncio.timeout, wait_for and TaskGroup: the
// `async with` scopes, written as a call that runs a body.
//
//   // async with asyncio.timeout(1): data = await reader.read(100)
//   Bytes data = co_await aio::timeout(1s, [&] { return reader.read(100); });
//   int v = co_await aio::wait_for(compute(), 500ms);        // TimeoutError after 500 ms
//   int w = co_await aio::wait_for(fut, 500ms);              // aio::Future / futures::Future too
//
//   // async with asyncio.TaskGroup() as tg: tg.create_task(a()); tg.create_task(b())
//   co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<> {
//     tg.create_task(a());
//     tg.create_task(b());
//     co_return;
//   });                                                       // ExceptionGroup if any failed
//
// C++ has no `async with` (a destructor cannot co_await), so each scope is a
// function taking the body: a callable returning an awaitable (a Task, or a
// lambda coroutine). The body may take the scope object (Timeout&,
// TaskGroup&) to reschedule or spawn.
#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "mpx/aio/task.hpp"
#include "mpx/aio/tasks.hpp"

namespace mpx::aio {

/// Python: ExceptionGroup / BaseExceptionGroup — what a TaskGroup raises
/// when tasks (or its body) failed.
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> exceptions);
  /// Python: .exceptions — in the order they happened.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

 private:
  std::vector<std::exception_ptr> exceptions_;
};

/// Python: asyncio.Timeout — the scope object of timeout()/timeout_at().
class Timeout {
 public:
  /// Python: __aenter__ — binds to the current task and arms the deadline
  /// (nullopt: none). Throws: RuntimeError outside a task.
  explicit Timeout(std::optional<clock::time_point> when);
  Timeout(const Timeout&) = delete;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout();
  /// Python: when(), reschedule(when), expired().
  std::optional<clock::time_point> when() const noexcept { return when_; }
  void reschedule(std::optional<clock::time_point> when);
  bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }
  /// Python: __aexit__ — given how the body ended, what to raise:
  /// TimeoutError instead of our own CancelledError, else `e` itself.
  std::exception_ptr exit(std::exception_ptr e) noexcept;

 private:
  enum class State { entered, expiring, expired, exited };
  void on_timeout();
  detail::TaskCore* task_;
  int cancelling_;
  std::optional<clock::time_point> when_;
  Handle handle_;
  State state_ = State::entered;
};

namespace detail {
template <class F, class Scope>
decltype(auto) call_body(F& body, Scope& scope) {
  if constexpr (std::is_invocable_v<F&, Scope&>) {
    return body(scope);
  } else {
    return body();
  }
}
template <class F, class Scope>
using body_result_t = typename std::remove_cvref_t<decltype(std::declval<F&>().operator co_await())>::value_type;
template <class A>
using await_result_t = decltype(std::declval<A>().operator co_await().await_resume());
template <class F, class Scope>
using scope_result_t =
    std::remove_cvref_t<await_result_t<decltype(call_body(std::declval<F&>(), std::declval<Scope&>()))>>;
}  // namespace detail

/// Python: async with asyncio.timeout_at(when): return await body().
/// Throws: TimeoutError when the deadline cancels the body; what the body throws.
template <class F>
auto timeout_at(std::optional<clock::time_point> when, F body) -> Task<detail::scope_result_t<F, Timeout>> {
  using R = detail::scope_result_t<F, Timeout>;
  Timeout scope(when);
  std::exception_ptr err;
  if constexpr (std::is_void_v<R>) {
    try {
      co_await detail::call_body(body, scope);
    } catch (...) {
      err = std::current_exception();
    }
    if (auto e = scope.exit(err)) std::rethrow_exception(e);
  } else {
    std::optional<R> r;
    try {
      r.emplace(co_await detail::call_body(body, scope));
    } catch (...) {
      err = std::current_exception();
    }
    if (auto e = scope.exit(err)) std::rethrow_exception(e);
    co_return std::move(*r);
  }
}
/// Python: async with asyncio.timeout(delay): ... (nullopt: no deadline).
template <class F>
auto timeout(std::optional<clock::duration> delay, F body) {
  std::optional<clock::time_point> when;
  if (delay) when = clock::now() + *delay;
  return timeout_at(when, std::move(body));
}
template <class Rep, class Period, class F>
auto timeout(std::chrono::duration<Rep, Period> delay, F body) {
  return timeout(std::optional<clock::duration>(std::chrono::ceil<clock::duration>(delay)), std::move(body));
}

namespace detail {
template <class T>
Task<T> await_task(Task<T> t) {
  co_return co_await std::move(t);
}
template <>
inline Task<void> await_task(Task<void> t) {
  co_await std::move(t);
}
}  // namespace detail

/// Python: asyncio.wait_for(aw, timeout) (3.12 semantics: a timeout scope
/// around the await) — on timeout `t` is cancelled and TimeoutError raised.
template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> t, std::chrono::duration<Rep, Period> delay) {
  return timeout(delay, [t]() mutable { return detail::await_task(std::move(t)); });
}
/// wait_for over a future (Python: any awaitable): on timeout `f` is cancelled.
template <class T, class Rep, class Period>
Task<T> wait_for(Future<T> f, std::chrono::duration<Rep, Period> delay) {
  return wait_for(detail::await_future(std::move(f)), delay);
}
/// wait_for over a concurrent future: on timeout the wrapper is cancelled,
/// which cancels `f` (if it has not started running).
template <class T, class Rep, class Period>
Task<T> wait_for(futures::Future<T> f, std::chrono::duration<Rep, Period> delay) {
  return wait_for(wrap_future(std::move(f)), delay);
}

/// Python: asyncio.TaskGroup — create_task() inside the body of task_group().
class TaskGroup {
 public:
  TaskGroup() = default;
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Python: tg.create_task(coro, name=None). Throws: RuntimeError once the
  /// group is finished or shutting down (a task failed).
  template <class T>
  ScheduledTask<T> create_task(Task<T> t, std::string name = {}) {
    check_can_spawn();
    if (!name.empty()) t.set_name(std::move(name));
    t.core()->start(*loop_);
    add(t.ref());
    return ScheduledTask<T>(std::move(t));
  }

  // The scope's halves (task_group() calls them).
  void enter();
  Task<> exit(std::exception_ptr body_error);

 private:
  void check_can_spawn() const;
  void add(TaskRef t);
  void on_task_done(const TaskRef& t);
  void abort();

  EventLoop* loop_ = nullptr;
  detail::TaskCore* parent_ = nullptr;
  std::vector<TaskRef> tasks_;
  std::vector<std::exception_ptr> errors_;
  std::optional<Future<>> on_completed_;
  bool entered_ = false, exiting_ = false, aborting_ = false, parent_cancel_requested_ = false;
};

/// Python: async with asyncio.TaskGroup() as tg: await body(tg).
/// Blocks: until every task of the group is done.
/// Throws: ExceptionGroup with the failures (body's and tasks'); CancelledError
///   if the surrounding task was cancelled and nothing failed.
template <class F>
Task<> task_group(F body) {
  TaskGroup tg;
  tg.enter();
  std::exception_ptr err;
  try {
    co_await detail::call_body(body, tg);
  } catch (...) {
    err = std::current_exception();
  }
  co_await tg.exit(err);
}

}  // namespace mpx::aio
