// mpx/futures.hpp — Python's concurrent.futures: Future, Executor,
// ThreadPoolExecutor, wait(), as_completed().
//
//   namespace fut = mpx::futures;
//   fut::ThreadPoolExecutor ex(4);                       // ThreadPoolExecutor(max_workers=4)
//   fut::Future<int> f = ex.submit([](int x) { return x * x; }, 7);
//   f.add_done_callback([](fut::Future<int> g) { std::printf("%d\n", g.result()); });
//   int v = f.result(2s);                                // raises mpx::TimeoutError after 2 s
//   for (int sq : ex.map([](int x) { return x * x; }, std::vector{1, 2, 3})) ...
//   auto [done, not_done] = fut::wait(fs, fut::FIRST_COMPLETED);
//   for (fut::Future<int> g : fut::as_completed(fs, 10s)) ...
//                                                        // ~ThreadPoolExecutor = `with` exit: shutdown(wait=true)
//
// A Future is a handle: copies share one state (Python passes references), ==
// is identity and they hash, so they go in std::unordered_set as Python's go
// in sets. Future<void> is the future of a call returning nothing.
//
// One core (detail/future_core.hpp) serves every future: executors' tasks are
// that core with the call in the same allocation, and Pool's AsyncResult and
// the other executors complete the same core from their own threads.
//
// Who runs a done callback (Python's rule): the thread that completes the
// future (the worker that ran the task; whoever calls set_result,
// set_exception or cancel), or, if the future is already done,
// add_done_callback's caller, at once. A callback that throws is reported on
// stderr ("exception calling callback for <Future ...>") and ignored.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/detail/future_wait.hpp"
#include "mpx/errors.hpp"

namespace mpx::futures {

// Python's names for the errors (since 3.11 futures.TimeoutError is TimeoutError).
using mpx::BrokenExecutor;
using mpx::BrokenThreadPool;
using mpx::CancelledError;
using mpx::InvalidStateError;
using mpx::TimeoutError;

/// Python's future states (concurrent.futures._base): PENDING, RUNNING,
/// CANCELLED, CANCELLED_AND_NOTIFIED (an executor saw the cancellation and
/// told wait()/as_completed()), FINISHED.
enum class State { PENDING, RUNNING, CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED };

template <class T>
class Future {
  static_assert(std::is_void_v<T> || (std::is_object_v<T> && !std::is_const_v<T> && !std::is_array_v<T>),
                "mpx::futures::Future<T>: T is a plain object type or void");

 public:
  using value_type = T;
  /// What result() gives: a reference into the shared state (valid while a
  /// handle lives), or nothing for Future<void>.
  using result_type = std::conditional_t<std::is_void_v<T>, void, std::add_lvalue_reference_t<const T>>;

  /// Python: Future() — a new pending future, to complete with set_result.
  Future() : st_(new detail::FutureValue<T>()) {}
  Future(const Future& o) noexcept : st_(o.st_) {
    if (st_) st_->retain();
  }
  /// A moved-from Future is empty: only assign to it or destroy it.
  Future(Future&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  Future& operator=(Future o) noexcept {
    std::swap(st_, o.st_);
    return *this;
  }
  ~Future() {
    if (st_) st_->release();
  }

  /// Cancels unless running or done; true if cancelled (now or before).
  /// Python: cancel(). Runs the done callbacks in this thread.
  bool cancel() { return st_->cancel(); }
  /// Python: cancelled().
  bool cancelled() const noexcept { return detail::FutureCore::is_cancelled(st_->word()); }
  /// Python: running().
  bool running() const noexcept { return st_->status() == detail::FutureCore::kRunning; }
  /// Cancelled or finished. Python: done().
  bool done() const noexcept { return st_->done(); }

  /// The call's result; rethrows its exception.
  /// Python: result(timeout=None).
  /// Blocks: until done (spins a few µs, then sleeps on the state's futex word).
  /// Throws: what the call threw; CancelledError if cancelled.
  result_type result() const { return result_until(detail::Deadline::never()); }
  /// Throws: also TimeoutError if not done within `timeout` (negative = 0).
  template <class Rep, class Period>
  result_type result(std::chrono::duration<Rep, Period> timeout) const {
    return result_until(detail::Deadline::after(timeout));
  }
  /// result() without TimeoutError: nullptr (false for Future<void>) when not
  /// done in time. Still throws the call's exception or CancelledError.
  template <class Rep, class Period>
  auto try_result(std::chrono::duration<Rep, Period> timeout) const {
    const bool ok = st_->wait_done(detail::Deadline::after(timeout));
    if constexpr (std::is_void_v<T>) {
      if (ok) result_until(detail::Deadline::now());
      return ok;
    } else {
      return ok ? &result_until(detail::Deadline::now()) : static_cast<const T*>(nullptr);
    }
  }

  /// The exception the call threw, or null. Python: exception(timeout=None).
  /// Throws: CancelledError if cancelled; TimeoutError on timeout.
  std::exception_ptr exception() const { return exception_until(detail::Deadline::never()); }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    return exception_until(detail::Deadline::after(timeout));
  }

  /// Calls fn(future) when the future is done (see the file comment for
  /// which thread). Python: add_done_callback(fn). `fn` must be copyable.
  template <class F>
  void add_done_callback(F&& fn) requires(std::is_invocable_v<std::decay_t<F>&, Future&>) {
    st_->add_done_callback([fn = std::forward<F>(fn)](detail::FutureCore* c) mutable {
      Future self(static_cast<detail::FutureValue<T>*>(c), retain_tag{});
      std::invoke(fn, self);
    });
  }

  // ---- for executors and tests (Python: "should only be used by Executors") ----
  /// PENDING → RUNNING (true), or CANCELLED → CANCELLED_AND_NOTIFIED (false).
  /// Throws: RuntimeError("Future in unexpected state") otherwise.
  bool set_running_or_notify_cancel() { return st_->set_running_or_notify_cancel(); }
  /// Python: set_result(result). Throws: InvalidStateError("FINISHED: <Future ...>")
  /// once done (or on an executor's own future).
  template <class U = T>
  void set_result(U&& value) requires(!std::is_void_v<T> && std::is_constructible_v<T, U&&>) {
    auto store = [](detail::FutureCore* c, void* arg) {
      static_cast<detail::FutureValue<T>*>(c)->emplace(std::forward<U>(*static_cast<std::remove_reference_t<U>*>(arg)));
    };
    st_->set_result_with(store, const_cast<void*>(static_cast<const void*>(std::addressof(value))));
  }
  void set_result() requires(std::is_void_v<T>) {
    st_->set_result_with([](detail::FutureCore*, void*) {}, nullptr);
  }
  /// Python: set_exception(exception). Throws: InvalidStateError as set_result.
  void set_exception(std::exception_ptr e) { st_->set_exception(std::move(e)); }
  template <class E>
  void set_exception(E&& e) requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) {
    st_->set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  /// Python's private _state, for tests and debugging.
  State state() const noexcept { return static_cast<State>(st_->status()); }
  /// Python: repr(f) — "<Future at 0x7f.. state=finished returned int>".
  std::string repr() const { return st_->repr(); }

  friend bool operator==(const Future& a, const Future& b) noexcept { return a.st_ == b.st_; }

  /// The shared state, for wait(), as_completed() and other modules.
  detail::FutureValue<T>* core() const noexcept { return st_; }
  /// A handle owning one reference of `st` that the caller hands over.
  static Future adopt(detail::FutureValue<T>* st) noexcept { return Future(st, adopt_tag{}); }

 private:
  struct adopt_tag {};
  struct retain_tag {};
  Future(detail::FutureValue<T>* st, adopt_tag) noexcept : st_(st) {}
  Future(detail::FutureValue<T>* st, retain_tag) noexcept : st_(st) { st_->retain(); }

  result_type result_until(detail::Deadline deadline) const {
    std::uint32_t s = st_->word();
    if ((s & detail::FutureCore::kStatusMask) != detail::FutureCore::kFinished) [[unlikely]] {
      if (!detail::FutureCore::is_done(s) && !st_->wait_done(deadline)) throw TimeoutError("");
      if (cancelled()) throw CancelledError("");
    }
    if (st_->stored_exception()) [[unlikely]]
      std::rethrow_exception(st_->stored_exception());
    if constexpr (!std::is_void_v<T>) return st_->value();
  }
  std::exception_ptr exception_until(detail::Deadline deadline) const {
    if (!st_->wait_done(deadline)) throw TimeoutError("");
    if (cancelled()) throw CancelledError("");
    return st_->stored_exception();
  }

  detail::FutureValue<T>* st_;
};

}  // namespace mpx::futures

template <class T>
struct std::hash<mpx::futures::Future<T>> {
  std::size_t operator()(const mpx::futures::Future<T>& f) const noexcept { return std::hash<const void*>()(f.core()); }
};

namespace mpx::futures {

// ---- wait() and as_completed() ----------------------------------------------

/// Python: FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// Python: the named tuple DoneAndNotDoneFutures(done, not_done) of sets.
/// `auto [done, not_done] = wait(fs);`
template <class T>
struct DoneAndNotDoneFutures {
  std::unordered_set<Future<T>> done;
  std::unordered_set<Future<T>> not_done;
};

namespace detail_ {
template <class R>
using future_type = std::ranges::range_value_t<R>;
template <class X>
struct is_future : std::false_type {};
template <class T>
struct is_future<Future<T>> : std::true_type {};
template <class R>
concept future_range = std::ranges::input_range<R> && is_future<std::ranges::range_value_t<R>>::value;

template <class R>
std::vector<mpx::detail::FutureCore*> distinct_cores(const R& fs) {
  std::vector<mpx::detail::FutureCore*> out;
  std::unordered_set<mpx::detail::FutureCore*> seen;
  for (const auto& f : fs) {
    if (seen.insert(f.core()).second) out.push_back(f.core());
  }
  return out;
}

inline mpx::detail::WaitMode mode_of(ReturnWhen r) {
  switch (r) {
    case ReturnWhen::FIRST_COMPLETED:
      return mpx::detail::WaitMode::first_completed;
    case ReturnWhen::FIRST_EXCEPTION:
      return mpx::detail::WaitMode::first_exception;
    default:
      return mpx::detail::WaitMode::all_completed;
  }
}
}  // namespace detail_

/// Waits until `return_when` holds for the futures `fs` (any range of
/// Future<T>; duplicates count once) or the timeout passes.
/// Python: wait(fs, timeout=None, return_when=ALL_COMPLETED). Done means
/// finished or CANCELLED_AND_NOTIFIED, as Python (a future cancel()led but
/// never noticed by an executor stays in not_done).
/// Blocks: until then; the futures' completers wake it (no polling).
template <detail_::future_range R, class Rep, class Period>
auto wait(const R& fs, std::chrono::duration<Rep, Period> timeout, ReturnWhen return_when = ALL_COMPLETED) {
  using F = std::ranges::range_value_t<R>;
  using T = typename F::value_type;
  auto cores = detail_::distinct_cores(fs);
  std::vector<char> done;
  mpx::detail::wait_futures(cores, mpx::detail::Deadline::after(timeout), detail_::mode_of(return_when), done);
  DoneAndNotDoneFutures<T> out;
  for (std::size_t i = 0; i < cores.size(); ++i) {
    auto* c = static_cast<mpx::detail::FutureValue<T>*>(cores[i]);
    c->retain();
    (done[i] ? out.done : out.not_done).insert(Future<T>::adopt(c));
  }
  return out;
}
template <detail_::future_range R>
auto wait(const R& fs, ReturnWhen return_when = ALL_COMPLETED) {
  return wait(fs, mpx::forever, return_when);
}
template <class T, class Rep, class Period>
DoneAndNotDoneFutures<T> wait(std::initializer_list<Future<T>> fs, std::chrono::duration<Rep, Period> timeout,
                              ReturnWhen return_when = ALL_COMPLETED) {
  return wait(std::vector<Future<T>>(fs), timeout, return_when);
}
template <class T>
DoneAndNotDoneFutures<T> wait(std::initializer_list<Future<T>> fs, ReturnWhen return_when = ALL_COMPLETED) {
  return wait(std::vector<Future<T>>(fs), mpx::forever, return_when);
}

/// Python: as_completed(fs, timeout=None) — the futures as they finish (or
/// are noticed cancelled): those already done first, then in finishing order;
/// duplicates once. A range of Future<T> (input iterators) with next().
/// The timeout counts from the as_completed() call.
template <class T>
class AsCompleted {
 public:
  AsCompleted(std::vector<mpx::detail::FutureCore*> cores, mpx::detail::Deadline deadline)
      : st_(std::make_unique<mpx::detail::AsCompletedState>(std::move(cores), deadline)) {}

  /// The next future, or nullopt when every one was yielded (Python's StopIteration).
  /// Throws: TimeoutError("N (of M) futures unfinished"); the iteration is then over.
  std::optional<Future<T>> next() {
    auto* c = st_->next();
    if (!c) return std::nullopt;
    return Future<T>::adopt(static_cast<mpx::detail::FutureValue<T>*>(c));
  }

  class iterator {
   public:
    using value_type = Future<T>;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(AsCompleted* a) : a_(a) { ++*this; }
    /// Hands the future over (moves it out), so the iteration keeps no
    /// reference to what it yielded (CPython issue 14406).
    Future<T>&& operator*() const { return std::move(*cur_); }
    iterator& operator++() {
      cur_.reset();
      cur_ = a_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

   private:
    AsCompleted* a_ = nullptr;
    mutable std::optional<Future<T>> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::unique_ptr<mpx::detail::AsCompletedState> st_;
};

template <detail_::future_range R, class Rep, class Period>
auto as_completed(const R& fs, std::chrono::duration<Rep, Period> timeout) {
  using T = typename std::ranges::range_value_t<R>::value_type;
  auto deadline = mpx::detail::Deadline::after(timeout);
  auto cores = detail_::distinct_cores(fs);
  for (auto* c : cores) c->retain();
  return AsCompleted<T>(std::move(cores), deadline);
}
template <detail_::future_range R>
auto as_completed(const R& fs) {
  return as_completed(fs, mpx::forever);
}
template <class T, class Rep, class Period>
AsCompleted<T> as_completed(std::initializer_list<Future<T>> fs, std::chrono::duration<Rep, Period> timeout) {
  return as_completed(std::vector<Future<T>>(fs), timeout);
}
template <class T>
AsCompleted<T> as_completed(std::initializer_list<Future<T>> fs) {
  return as_completed(std::vector<Future<T>>(fs), mpx::forever);
}

}  // namespace mpx::futures

#include "mpx/detail/executor.hpp"          // Executor, MapResult, ThreadPoolExecutor
#include "mpx/detail/process_executor.hpp"  // ProcessPoolExecutor
