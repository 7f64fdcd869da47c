// mpx/aio/tasks.hpp — asyncio's task functions: sleep, gather, wait, shield,
// run_in_executor, to_thread.
//
//   co_await aio::sleep(10ms);
//   auto [a, b] = co_await aio::gather(fetch(1), fetch(2));          // std::tuple
//   auto all = co_await aio::gather(std::move(tasks));                // std::vector
//   auto [done, pending] = co_await aio::wait(tasks, {.timeout = 1s,
//                                             .return_when = aio::FIRST_COMPLETED});
//   int r = co_await aio::shield(t);           // cancelling us does not cancel t
//   int f = co_await aio::shield(fut);         // an aio::Future or a futures::Future too
//   int x = co_await aio::to_thread(slow_square, 7);
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/aio/future.hpp"
#include "mpx/aio/task.hpp"

namespace mpx::aio {

namespace detail {

/// sleep(d)'s timer: wakes the sleeping task unless cancelled first.
class SleepTimer final : public Callback {
 public:
  explicit SleepTimer(TaskCore* t) noexcept : task(t) {}
  void run() override {
    fired = true;
    task->loop()->schedule(task);
  }
  TaskCore* task;
  bool fired = false;
};

struct SleepAwaiter : Waiter {
  clock::duration delay;
  TaskCore* task = nullptr;
  SleepTimer* timer = nullptr;
  bool cancelled = false;
  std::string msg;

  explicit SleepAwaiter(clock::duration d) noexcept : Waiter(&cancel_sleep), delay(d) {}
  SleepAwaiter(SleepAwaiter&& o) noexcept : Waiter(&cancel_sleep), delay(o.delay) {}
  ~SleepAwaiter() {
    if (timer) timer->release();
  }
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h.promise().root, h);
  }
  void await_resume() {
    task->resumed();
    if (cancelled) throw CancelledError(msg);
  }
  void suspend(TaskCore* t, std::coroutine_handle<> h);
  static bool cancel_sleep(Waiter* w, const std::string& msg) noexcept;
};

template <class T>
using result_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
result_or_monostate<T> take_result(const Task<T>& t) {
  t.core()->check_result();
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return t.promise().value.value();
  }
}

/// gather's future (Python's _GatheringFuture): cancelling it cancels the children.
template <class R>
class GatherCore final : public FutureValue<R> {
 public:
  using FutureValue<R>::FutureValue;
  bool cancel(const std::string& msg = {}) override {
    if (this->done()) return false;
    bool any = false;
    for (auto& c : children) any = c.cancel(msg) || any;
    if (any) cancel_requested = true;
    return any;
  }
  void child_done(FutureBase& f) {
    ++finished;
    if (this->done()) return;
    if (!return_exceptions) {
      if (f.cancelled()) return this->set_exception(std::make_exception_ptr(CancelledError(f.cancel_msg())));
      if (auto e = f.exception()) return this->set_exception(e);
    }
    if (finished < children.size()) return;
    if (cancel_requested) return this->set_exception(std::make_exception_ptr(CancelledError("")));
    this->set(collect());
  }
  std::vector<TaskRef> children;
  std::function<R()> collect;
  std::size_t finished = 0;
  bool return_exceptions = false;
  bool cancel_requested = false;
};

template <class R>
Future<R> start_gather(GatherCore<R>* g, EventLoop& loop) {
  if (g->children.empty()) g->set(g->collect());
  for (auto& c : g->children) {
    if (c.core()->mode == TaskCore::Mode::lazy) c.core()->start(loop);
    g->retain();
    struct Drop {
      GatherCore<R>* g;
      void operator()(GatherCore<R>* p) const noexcept { p->release(); }
    };
    std::shared_ptr<GatherCore<R>> keep(g, Drop{g});
    c.core()->add_done_callback([keep](FutureBase& f) { keep->child_done(f); });
  }
  return Future<R>::adopt(g);
}

template <class T>
using gathered = std::variant<result_or_monostate<T>, std::exception_ptr>;

/// A task whose outcome is `f`'s (Python wraps a future the same way with
/// ensure_future's awaiting); cancelling the task cancels `f`.
template <class T>
Task<T> await_future(Future<T> f) {
  co_return co_await f;
}
template <>
inline Task<void> await_future(Future<void> f) {
  co_await f;
}

template <class T>
gathered<T> take_outcome(const Task<T>& t) {
  if (t.cancelled()) return std::make_exception_ptr(CancelledError(t.core()->cancel_msg()));
  if (auto e = t.exception()) return e;
  return take_result(t);
}

}  // namespace detail

/// Python: asyncio.sleep(delay) — suspends the task for `delay` (0: yields
/// once to the loop). Throws: CancelledError if cancelled meanwhile.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) {
  return detail::SleepAwaiter(std::chrono::ceil<clock::duration>(delay));
}

/// Python: gather(..., return_exceptions=True).
struct GatherOptions {
  bool return_exceptions = false;
};

/// Python: asyncio.gather(*aws) — runs the tasks concurrently (lazy ones are
/// scheduled), and gives their results in order: a std::tuple (void results
/// are std::monostate). The first failure is raised at once (the other tasks
/// go on); cancelling the gather cancels every task.
template <class... Ts>
Future<std::tuple<detail::result_or_monostate<Ts>...>> gather(Task<Ts>... tasks) {
  using R = std::tuple<detail::result_or_monostate<Ts>...>;
  EventLoop& loop = get_running_loop();
  auto* g = new detail::GatherCore<R>(&loop);
  (g->children.push_back(tasks.ref()), ...);
  g->collect = [tasks...]() { return R(detail::take_result(tasks)...); };
  return detail::start_gather(g, loop);
}
/// With return_exceptions: each result is a variant of the value and the
/// exception (CancelledError for a cancelled task), nothing is raised.
template <class... Ts>
Future<std::tuple<detail::gathered<Ts>...>> gather(GatherOptions options, Task<Ts>... tasks) {
  using R = std::tuple<detail::gathered<Ts>...>;
  EventLoop& loop = get_running_loop();
  auto* g = new detail::GatherCore<R>(&loop);
  g->return_exceptions = options.return_exceptions;
  (g->children.push_back(tasks.ref()), ...);
  g->collect = [tasks...]() { return R(detail::take_outcome(tasks)...); };
  return detail::start_gather(g, loop);
}
/// gather over a vector of tasks of one type: a vector of results.
template <class T>
Future<std::vector<detail::result_or_monostate<T>>> gather(std::vector<Task<T>> tasks) {
  using R = std::vector<detail::result_or_monostate<T>>;
  EventLoop& loop = get_running_loop();
  auto* g = new detail::GatherCore<R>(&loop);
  for (auto& t : tasks) g->children.push_back(t.ref());
  g->collect = [tasks]() {
    R out;
    for (auto& t : tasks) out.push_back(detail::take_result(t));
    return out;
  };
  return detail::start_gather(g, loop);
}
template <class T>
Future<std::vector<detail::gathered<T>>> gather(GatherOptions options, std::vector<Task<T>> tasks) {
  using R = std::vector<detail::gathered<T>>;
  EventLoop& loop = get_running_loop();
  auto* g = new detail::GatherCore<R>(&loop);
  g->return_exceptions = options.return_exceptions;
  for (auto& t : tasks) g->children.push_back(t.ref());
  g->collect = [tasks]() {
    R out;
    for (auto& t : tasks) out.push_back(detail::take_outcome(t));
    return out;
  };
  return detail::start_gather(g, loop);
}

/// Python: asyncio.FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED.
enum ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
struct WaitOptions {
  std::optional<clock::duration> timeout = std::nullopt;
  ReturnWhen return_when = ALL_COMPLETED;
};

namespace detail {
/// wait()'s engine over untyped tasks: suspends until `return_when` holds or
/// the timeout passes (lazy tasks are scheduled first).
Task<> wait_untyped(std::vector<TaskRef> tasks, WaitOptions options);
}  // namespace detail

/// Python: asyncio.wait(aws, timeout=None, return_when=ALL_COMPLETED) ->
/// (done, pending), in the order given. A timeout raises nothing.
/// Throws: ValueError for an empty set (as Python).
template <class T>
Task<std::pair<std::vector<Task<T>>, std::vector<Task<T>>>> wait(std::vector<Task<T>> tasks, WaitOptions options = {}) {
  if (tasks.empty()) throw ValueError("Set of Tasks/Futures is empty.");
  std::vector<TaskRef> refs;
  for (auto& t : tasks) refs.push_back(t.ref());
  co_await detail::wait_untyped(std::move(refs), options);
  std::pair<std::vector<Task<T>>, std::vector<Task<T>>> out;
  for (auto& t : tasks) (t.done() ? out.first : out.second).push_back(t);
  co_return out;
}

/// Python: asyncio.shield(aw) — a future with `t`'s outcome; cancelling it
/// (or the task awaiting it) leaves `t` running.
template <class T>
Future<T> shield(Task<T> t) {
  EventLoop& loop = get_running_loop();
  if (t.core()->mode == detail::TaskCore::Mode::lazy) t.core()->start(loop);
  Future<T> outer(loop);
  auto id = t.add_done_callback([outer, t]() mutable {
    if (outer.done()) return;
    if (t.cancelled()) {
      outer.cancel();
    } else if (auto e = t.exception()) {
      outer.set_exception(e);
    } else if constexpr (std::is_void_v<T>) {
      outer.set_result();
    } else {
      outer.set_result(t.result());
    }
  });
  outer.add_done_callback([t, id](Future<T>&) mutable {
    if (!t.done()) t.remove_done_callback(id);
  });
  return outer;
}

/// shield over a future (Python: any awaitable): `f` runs on, uncancelled,
/// when the shield is cancelled.
template <class T>
Future<T> shield(Future<T> f) {
  return shield(detail::await_future(std::move(f)));
}
/// shield over a concurrent future (a thread or process pool's), wrapped on the running loop.
template <class T>
Future<T> shield(futures::Future<T> f) {
  return shield(wrap_future(std::move(f)));
}

/// Python: loop.run_in_executor(executor, fn, *args) — fn(args...) on
/// `executor` (a ThreadPoolExecutor, a ProcessPoolExecutor, anything with
/// submit), awaited without blocking the loop.
template <class Executor, class F, class... A>
auto run_in_executor(Executor& executor, F&& fn, A&&... args) {
  return wrap_future(executor.submit(std::forward<F>(fn), std::forward<A>(args)...));
}
/// run_in_executor(None, ...): the loop's default ThreadPoolExecutor.
template <class F, class... A>
auto run_in_executor(std::nullptr_t, F&& fn, A&&... args) {
  return run_in_executor(get_running_loop().default_executor(), std::forward<F>(fn), std::forward<A>(args)...);
}
/// Python: asyncio.to_thread(fn, *args).
template <class F, class... A>
auto to_thread(F&& fn, A&&... args) {
  return run_in_executor(nullptr, std::forward<F>(fn), std::forward<A>(args)...);
}

}  // namespace mpx::aio
