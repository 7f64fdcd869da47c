// mpx/detail/executor.hpp — part of mpx/futures.hpp (include that): the
// Executor base (submit, map, shutdown), map's result range, and
// ThreadPoolExecutor.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/detail/thread_pool.hpp"
#include "mpx/errors.hpp"
#include "mpx/threading.hpp"

namespace mpx::futures {

template <class T>
class Future;

/// Python's keyword arguments of Executor.map().
struct MapOptions {
  /// Python: timeout=None. Counted from the map() call, for the whole iteration.
  std::chrono::nanoseconds timeout = mpx::forever;
  /// Python: chunksize=1. ThreadPoolExecutor ignores it, as Python does.
  int chunksize = 1;
  /// Python 3.14: buffersize=None — submit at most this many calls ahead of
  /// the one being waited for (the inputs are then read lazily; they and the
  /// executor must outlive the iteration).
  std::optional<long> buffersize{};
};

/// Python's keyword arguments of Executor.shutdown().
struct ShutdownOptions {
  bool wait = true;
  bool cancel_futures = false;
};

namespace detail_ {
/// What submit(fn, args...) yields: fn is called once with its own copies.
template <class F, class... A>
using call_result_t = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

template <class F, class... A>
auto make_task(F&& fn, A&&... args) {
  using R = call_result_t<F, A...>;
  auto call = [fn = std::forward<F>(fn), ... args = std::forward<A>(args)]() mutable -> R {
    return std::invoke(std::move(fn), std::move(args)...);
  };
  return new mpx::detail::Task<R, decltype(call)>(std::move(call));
}

/// map()'s lazily read inputs (buffersize): the ranges, stopping at the shortest.
template <class Fn, class... Vs>
struct ZipSource {
  Fn fn;
  std::tuple<Vs...> views;
  std::tuple<std::ranges::iterator_t<Vs>...> its;

  ZipSource(Fn f, Vs... v)
      : fn(std::move(f)),
        views(std::move(v)...),
        its(std::apply([](auto&... w) { return std::tuple(std::ranges::begin(w)...); }, views)) {}
  ZipSource(const ZipSource&) = delete;
  ZipSource& operator=(const ZipSource&) = delete;

  bool at_end() {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return ((std::get<I>(its) == std::ranges::end(std::get<I>(views))) || ...);
    }
    (std::index_sequence_for<Vs...>{});
  }
  template <class Submit>
  auto next(Submit&& submit) {
    auto f = std::apply([&](auto&... it) { return submit(fn, *it...); }, its);
    std::apply([](auto&... it) { (++it, ...); }, its);
    return f;
  }
};
}  // namespace detail_

/// What Executor::map() returns: the results in input order, as a range of
/// input iterators (which hand each value over: *it moves it out) or one at a
/// time with next() (Python's iterator). The calls were all submitted by map()
/// (with buffersize: that many tasks ahead; taking the first result of a
/// task submits one more, as Python's generator does).
///
/// - A call that threw: next() (or ++) rethrows its exception, and the
///   iteration goes on with the next input (Python 3.14).
/// - The timeout passes: TimeoutError; the calls not yet returned are
///   cancelled and the iteration is over.
/// - close(), or destroying a result whose iteration has begun, cancels the
///   calls not yet returned. Destroying one never iterated cancels nothing
///   (Python: a generator that never started runs no `finally`).
template <class R>
class MapResult {
 public:
  using value_type = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  /// Submits the next task, appending its futures; false once the input is over.
  using Refill = std::function<bool(std::deque<Future<R>>&)>;

  /// `per_task`: the results of one task (ProcessPoolExecutor's chunksize);
  /// every task but the last has that many.
  MapResult(std::deque<Future<R>> fs, mpx::detail::Deadline deadline, Refill refill = {}, std::size_t per_task = 1)
      : fs_(std::move(fs)), refill_(std::move(refill)), deadline_(deadline), per_task_(per_task) {}
  MapResult(MapResult&& o) noexcept
      : fs_(std::move(o.fs_)),
        refill_(std::move(o.refill_)),
        deadline_(o.deadline_),
        per_task_(o.per_task_),
        taken_(o.taken_),
        started_(std::exchange(o.started_, false)) {
    o.fs_.clear();
  }
  MapResult& operator=(MapResult&&) = delete;
  ~MapResult() {
    if (started_) close();
  }

  /// The next result, or nullopt at the end (Python's StopIteration).
  /// Throws: the call's exception; TimeoutError (then the rest is cancelled).
  std::optional<value_type> next() {
    if (fs_.empty()) return std::nullopt;
    started_ = true;
    // Python refills when its generator yields a task's first result.
    if (refill_ && taken_++ % per_task_ == 0) {
      bool more = false;
      try {
        more = refill_(fs_);
      } catch (...) {
        close();
        throw;
      }
      if (!more) refill_ = nullptr;
    }
    Future<R> f = std::move(fs_.front());
    fs_.pop_front();
    // Python's _result_or_cancel(fut, end_time - now).
    if (!f.core()->wait_done(deadline_)) {
      f.cancel();
      close();
      throw TimeoutError("");
    }
    if constexpr (std::is_void_v<R>) {
      f.result();
      return std::monostate{};
    } else {
      // The future is map's own: its value can be moved out.
      return std::optional<R>(std::move(const_cast<R&>(f.result())));
    }
  }

  /// Cancels the calls not yet returned; next() then says the end.
  /// Python: close() of map's generator.
  void close() noexcept {
    for (auto& f : fs_) f.cancel();
    fs_.clear();
    refill_ = nullptr;
  }

  class iterator {
   public:
    using value_type = MapResult::value_type;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(MapResult* m) : m_(m) { ++*this; }
    /// Moves the value out (as std::move_iterator does): `for (auto v : ex.map(...))`
    /// leaves no copy behind in the iterator (CPython issue 14406).
    value_type&& operator*() const { return std::move(*cur_); }
    iterator& operator++() {
      cur_.reset();
      cur_ = m_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

   private:
    MapResult* m_ = nullptr;
    mutable std::optional<value_type> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::deque<Future<R>> fs_;
  Refill refill_;
  mpx::detail::Deadline deadline_;
  std::size_t per_task_ = 1;
  std::size_t taken_ = 0;
  bool started_ = false;
};

/// Python: concurrent.futures.Executor — submit, map, shutdown. Subclasses
/// queue tasks in enqueue(); ThreadPoolExecutor adds an inline submit().
/// An executor that runs calls elsewhere (processes, MPI ranks) cannot run a
/// detail::Task there: it shadows submit() with its own shipping and
/// completes plain Future<T>s (set_running_or_notify_cancel, set_result /
/// set_exception) from its result-handler thread; map() here calls the
/// Executor's submit, so such a class provides its map() too.
/// Not copyable; destroying a concrete executor shuts it down as `with` does.
class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  /// Schedules fn(args...) — fn and args copied now, called once — and
  /// returns its Future. Python: submit(fn, /, *args, **kwargs).
  /// Throws: RuntimeError("cannot schedule new futures after shutdown"),
  ///   BrokenExecutor subclasses when the executor is broken.
  template <class F, class... A>
  Future<detail_::call_result_t<F, A...>> submit(F&& fn, A&&... args) requires(
      std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>) {
    using R = detail_::call_result_t<F, A...>;
    auto* task = detail_::make_task(std::forward<F>(fn), std::forward<A>(args)...);
    auto f = Future<R>::adopt(task);
    try {
      enqueue(task);
    } catch (...) {
      task->release();  // the queue's reference; `f` drops the other
      throw;
    }
    return f;
  }

  /// Python: map(fn, *iterables, timeout=None, chunksize=1, buffersize=None):
  /// fn(a, b, ...) for the elements of the ranges side by side (up to the
  /// shortest), submitted now; results in order. See MapResult.
  template <class F, class... Rs>
  auto map(F&& fn, Rs&&... iterables) requires(!std::is_same_v<std::decay_t<F>, MapOptions> &&
                                               (std::ranges::input_range<Rs> && ...)) {
    return map(MapOptions{}, std::forward<F>(fn), std::forward<Rs>(iterables)...);
  }
  /// Throws: ValueError("buffersize must be None or > 0").
  template <class F, class... Rs>
  auto map(MapOptions options, F&& fn, Rs&&... iterables) requires(std::ranges::input_range<Rs>&&...) {
    using R = detail_::call_result_t<F, std::ranges::range_reference_t<Rs>...>;
    if (options.buffersize && *options.buffersize < 1) throw ValueError("buffersize must be None or > 0");
    const auto deadline = mpx::detail::Deadline::after(options.timeout);
    std::deque<Future<R>> fs;
    if constexpr (sizeof...(Rs) > 0) {
      using Source = detail_::ZipSource<std::decay_t<F>, std::views::all_t<Rs>...>;
      auto submit_one = [this](auto& f, auto&&... args) {
        return this->submit(f, std::forward<decltype(args)>(args)...);
      };
      if (!options.buffersize) {
        Source src(std::forward<F>(fn), std::views::all(std::forward<Rs>(iterables))...);
        while (!src.at_end()) fs.push_back(src.next(submit_one));
        return MapResult<R>(std::move(fs), deadline);
      }
      auto src = std::make_shared<Source>(std::forward<F>(fn), std::views::all(std::forward<Rs>(iterables))...);
      auto refill = [src, submit_one](std::deque<Future<R>>& more) mutable {
        if (src->at_end()) return false;
        more.push_back(src->next(submit_one));
        return true;
      };
      for (long i = 0; i < *options.buffersize && !src->at_end(); ++i) fs.push_back(src->next(submit_one));
      return MapResult<R>(std::move(fs), deadline, std::move(refill));
    } else {
      (void)fn;
      return MapResult<R>(std::move(fs), deadline);
    }
  }

  /// Python: shutdown(wait=True, *, cancel_futures=False) — no new submits;
  /// with wait, returns once every pending call has run and the workers ended.
  /// Safe to call more than once.
  virtual void shutdown(ShutdownOptions options) = 0;
  void shutdown(bool wait = true) { shutdown(ShutdownOptions{.wait = wait}); }

 protected:
  /// Queues `task`, which carries one reference for the executor, or throws
  /// and takes nothing.
  virtual void enqueue(mpx::detail::FutureCore* task) = 0;
};

/// Python's keyword arguments of ThreadPoolExecutor().
struct ThreadPoolOptions {
  /// Python: max_workers=None → min(32, process_cpu_count() + 4).
  std::optional<int> max_workers{};
  /// Python: thread_name_prefix='' → "ThreadPoolExecutor-N"; threads are PREFIX_0, PREFIX_1...
  std::string thread_name_prefix{};
  /// Python: initializer=, initargs= (bind the arguments in). Runs first in
  /// every worker; if it throws, the pool is broken: pending and later
  /// submits fail with BrokenThreadPool.
  std::function<void()> initializer{};
};

/// Python: concurrent.futures.ThreadPoolExecutor. Worker threads are
/// threading::Threads named "ThreadPoolExecutor-N_M" (in enumerate(), their
/// current_thread()), started lazily, one per submit while no worker is idle,
/// up to max_workers. At process exit, a pool still alive finishes its queue
/// and its workers are joined before threading's own exit handler runs.
/// The executor object is not movable (workers and tasks may refer to it).
class ThreadPoolExecutor final : public Executor {
 public:
  ThreadPoolExecutor() : ThreadPoolExecutor(ThreadPoolOptions{}) {}
  /// Throws: ValueError("max_workers must be greater than 0").
  explicit ThreadPoolExecutor(int max_workers) : ThreadPoolExecutor(ThreadPoolOptions{.max_workers = max_workers}) {}
  explicit ThreadPoolExecutor(ThreadPoolOptions options);
  /// Python's `with` exit: shutdown(wait=true).
  ~ThreadPoolExecutor() override;

  /// Executor::submit, inline: one allocation (the future's state and the
  /// call), one exchange on the queue, no lock; a syscall only to wake a
  /// sleeping worker when none is spinning, or to start a thread.
  /// Throws: RuntimeError after shutdown, BrokenThreadPool when broken,
  ///   RuntimeError("can't start new thread") (the call stays queued).
  template <class F, class... A>
  Future<detail_::call_result_t<F, A...>> submit(F&& fn, A&&... args) requires(
      std::is_invocable_v<std::decay_t<F>, std::decay_t<A>...>) {
    using R = detail_::call_result_t<F, A...>;
    core_->enter();
    Leave leave{core_.get()};
    auto* task = detail_::make_task(std::forward<F>(fn), std::forward<A>(args)...);
    auto f = Future<R>::adopt(task);
    core_->push(task);
    core_->adjust_thread_count();
    return f;
  }

  using Executor::shutdown;
  void shutdown(ShutdownOptions options) override;

  /// Python's _max_workers.
  int max_workers() const noexcept { return core_->max_workers(); }
  /// Python's _threads: the workers started so far.
  std::vector<threading::Thread> threads() const { return core_->threads(); }
  /// Python's _broken: why the pool is broken, or "" if it is not.
  std::string broken() const { return core_->broken(); }

 protected:
  void enqueue(mpx::detail::FutureCore* task) override;

 private:
  struct Leave {
    mpx::detail::PoolCore* core;
    ~Leave() { core->leave(); }
  };
  std::shared_ptr<mpx::detail::PoolCore> core_;
};

}  // namespace mpx::futures
