// mpx/detail/process_executor.hpp — part of mpx/futures.hpp (include that):
// ProcessPoolExecutor, over the process pool engine that also runs
// mpx::Pool (detail/process_pool.hpp).
//
//   int square(int x) { return x * x; }
//   fut::ProcessPoolExecutor ex({.max_workers = 2});
//   fut::Future<int> f = ex.submit(square, 7);     // runs in a worker process
//   for (int v : ex.map({.chunksize = 16}, square, std::vector{1, 2, 3})) ...
//
// As in Python: besides the calls running, at most max_workers + 1 wait in
// the call queue; the others stay PENDING and can be cancelled. Done
// callbacks run on the executor's result thread. A worker that dies
// abruptly breaks the pool: every pending and running future fails with
// BrokenProcessPool, as do later submits — unless `.replace_dead_workers`,
// with which only the dead worker's call fails (WorkerLost) and a new worker
// takes its place, as mpx::Pool does. An executor still alive at normal exit
// (std::exit, the return from main) finishes its calls and is joined first,
// as Python's exit hook does (src/pool/process_executor.cpp).
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <vector>

#include "mpx/context.hpp"
#include "mpx/detail/pool_calls.hpp"
#include "mpx/detail/process_pool.hpp"

namespace mpx::futures {

/// Python's keyword arguments of ProcessPoolExecutor().
struct ProcessPoolOptions {
  /// Python: max_workers=None → os.process_cpu_count().
  std::optional<int> max_workers{};
  /// Python: mp_context=None — the workers' start method.
  std::optional<Context> mp_context{};
  /// Python: initializer=, initargs=. If it throws, the pool is broken.
  Initializer initializer{};
  /// Python: max_tasks_per_child=None (not with the fork start method, as Python).
  std::optional<long> max_tasks_per_child{};
  /// Beyond Python: a dead worker fails only its call (WorkerLost) and is
  /// replaced, instead of breaking the pool.
  bool replace_dead_workers = false;
};

namespace detail_ {
/// A submitted call's future state: a thread about to wait for it reads the
/// pool's results itself (detail/process_pool.hpp).
template <class R>
class HelpedFuture final : public mpx::detail::FutureValue<R> {
 public:
  explicit HelpedFuture(std::shared_ptr<mpx::detail::HelpGate> gate) : gate_(std::move(gate)) {}
  void help_wait(mpx::detail::Deadline deadline) const override { gate_->help(*this, deadline); }

 private:
  std::shared_ptr<mpx::detail::HelpGate> gate_;
};

/// A submitted call's future, completed by the result thread (or by a
/// thread waiting for it, when that runs no done callback).
template <class R>
class ExecutorJob final : public mpx::detail::PoolJob {
 public:
  explicit ExecutorJob(Future<R> f) : f_(std::move(f)) {}
  bool chunk_starting(std::size_t) noexcept override {
    try {
      return f_.set_running_or_notify_cancel();
    } catch (...) {
      return false;
    }
  }
  void chunk_cancelled(std::size_t) noexcept override { f_.cancel(); }
  void chunk_done(std::size_t, std::span<const std::byte> bytes) noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        if (!bytes.empty()) throw DecodeError("a void result with bytes");
        f_.set_result();
      } else {
        f_.set_result(mpx::detail::decode_exact<R>(bytes));
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }
  void chunk_failed(std::size_t, std::exception_ptr error) noexcept override { fail(error); }
  bool quiet() const noexcept override { return (f_.core()->word() & mpx::detail::FutureCore::kLists) == 0; }
  bool chunk_done_quietly(std::size_t, std::span<const std::byte> bytes) noexcept override {
    return mpx::detail::complete_quietly(*f_.core(), bytes);
  }
  bool chunk_failed_quietly(std::size_t, const std::exception_ptr& error) noexcept override {
    return mpx::detail::fail_quietly(*f_.core(), error);
  }

 private:
  void fail(std::exception_ptr e) noexcept {
    try {
      f_.set_exception(std::move(e));
    } catch (...) {  // already done (cancelled): nothing to tell
    }
  }
  Future<R> f_;
};

/// map()'s chunk: one call's worth of items, each with its own future.
template <class V, class R>
class ChunkJob final : public mpx::detail::PoolJob {
 public:
  explicit ChunkJob(std::vector<Future<R>> fs) : fs_(std::move(fs)) {}
  bool chunk_starting(std::size_t) noexcept override {
    bool any = false;
    for (auto& f : fs_) {
      try {
        any |= f.set_running_or_notify_cancel();
      } catch (...) {
      }
    }
    return any;
  }
  void chunk_cancelled(std::size_t) noexcept override {
    for (auto& f : fs_) f.cancel();
  }
  void chunk_done(std::size_t, std::span<const std::byte> bytes) noexcept override {
    try {
      auto values = decode_items(bytes);
      for (std::size_t i = 0; i < fs_.size(); ++i) {
        if (fs_[i].cancelled()) continue;
        if constexpr (std::is_void_v<R>) {
          fs_[i].set_result();
        } else {
          fs_[i].set_result(std::move(values[i]));
        }
      }
    } catch (...) {
      chunk_failed(0, std::current_exception());
    }
  }
  void chunk_failed(std::size_t, std::exception_ptr error) noexcept override {
    for (auto& f : fs_) {
      try {
        f.set_exception(error);
      } catch (...) {
      }
    }
  }

 private:
  std::vector<V> decode_items(std::span<const std::byte> bytes) {
    if constexpr (std::is_same_v<V, std::monostate>) {
      auto n = mpx::detail::decode_exact<std::uint64_t>(bytes);
      if (n != fs_.size()) throw DecodeError("a chunk returned the wrong number of results");
      return std::vector<V>(fs_.size());
    } else {
      auto values = mpx::detail::decode_exact<std::vector<V>>(bytes);
      if (values.size() != fs_.size()) throw DecodeError("a chunk returned the wrong number of results");
      return values;
    }
  }
  std::vector<Future<R>> fs_;
};
}  // namespace detail_

/// Python: concurrent.futures.ProcessPoolExecutor. The calls must travel (a
/// function, static member function or captureless lambda with Encodable
/// arguments and result): anything else does not compile. Not movable.
class ProcessPoolExecutor final : public Executor {
 public:
  ProcessPoolExecutor() : ProcessPoolExecutor(ProcessPoolOptions{}) {}
  explicit ProcessPoolExecutor(int max_workers) : ProcessPoolExecutor(ProcessPoolOptions{.max_workers = max_workers}) {}
  /// Starts the workers. Throws: ValueError("max_workers must be greater
  /// than 0"), ValueError for max_tasks_per_child (< 1, or with fork).
  explicit ProcessPoolExecutor(ProcessPoolOptions options);
  /// Python's `with` exit: shutdown(wait=true).
  ~ProcessPoolExecutor() override;

  /// Python: submit(fn, /, *args). Throws: RuntimeError("cannot schedule new
  /// futures after shutdown"), or "... after interpreter shutdown" once the
  /// exit hook ran; BrokenProcessPool once broken.
  template <class F, class... A>
  auto submit(F&& fn, A&&... args) {
    static_assert(mpx::detail::Shippable<F, A...>,
                  "mpx::futures::ProcessPoolExecutor: a call must travel to a worker process: a function, a static "
                  "member function or a lambda without captures, with Encodable arguments");
    using R = std::invoke_result_t<mpx::detail::FunctionPointer<F>, std::decay_t<A>&...>;
    auto f = Future<R>::adopt(new detail_::HelpedFuture<R>(core_->help_gate()));
    try {
      core_->submit(std::make_shared<detail_::ExecutorJob<R>>(f), 0,
                    mpx::detail::make_apply_message(fn, std::chrono::nanoseconds(0), args...));
    } catch (const RuntimeError&) {
      rethrow_refusal();
    }
    return f;
  }

  /// Python: map(fn, *iterables, timeout=None, chunksize=1, buffersize=None):
  /// fn(a, b, ...) over the ranges side by side, in `chunksize` calls per
  /// task; results in order (see futures::MapResult). A failed chunk fails
  /// each of its items. With buffersize, at most that many tasks (chunks) are
  /// submitted ahead and the ranges are read lazily (they and the executor
  /// must outlive the iteration), as Python's Executor.map does.
  template <class F, class... Rs>
  auto map(F&& fn, Rs&&... iterables) requires(!std::is_same_v<std::decay_t<F>, MapOptions> &&
                                               (std::ranges::input_range<Rs> && ...)) {
    return map(MapOptions{}, std::forward<F>(fn), std::forward<Rs>(iterables)...);
  }
  /// Throws: ValueError("chunksize must be >= 1."), ValueError("buffersize
  /// must be None or > 0").
  template <class F, class... Rs>
  auto map(MapOptions options, F&& fn, Rs&&... iterables) requires(std::ranges::input_range<Rs>&&...) {
    using Item = std::tuple<std::ranges::range_value_t<Rs>...>;
    static_assert(mpx::detail::Shippable<F, std::ranges::range_value_t<Rs>...>,
                  "mpx::futures::ProcessPoolExecutor: a call must travel to a worker process: a function, a static "
                  "member function or a lambda without captures, with Encodable arguments");
    using R = mpx::detail::item_result_t<mpx::detail::FunctionPointer<F>, Item, true>;
    using V = mpx::detail::ValueOf<R>;
    if (options.chunksize < 1) throw ValueError("chunksize must be >= 1.");
    if (options.buffersize && *options.buffersize < 1) throw ValueError("buffersize must be None or > 0");
    const auto deadline = mpx::detail::Deadline::after(options.timeout);
    std::deque<Future<R>> all;
    if constexpr (sizeof...(Rs) == 0) {
      (void)fn;  // zip() of nothing: no call
      return MapResult<R>(std::move(all), deadline);
    } else {
      using Source = detail_::ZipSource<std::decay_t<F>, std::views::all_t<Rs>...>;
      const auto size = static_cast<std::size_t>(options.chunksize);
      if (!options.buffersize) {
        Source src(std::forward<F>(fn), std::views::all(std::forward<Rs>(iterables))...);
        while (submit_chunk<Item, V>(src, size, all)) {
        }
        return MapResult<R>(std::move(all), deadline);
      }
      auto src = std::make_shared<Source>(std::forward<F>(fn), std::views::all(std::forward<Rs>(iterables))...);
      for (long i = 0; i < *options.buffersize && submit_chunk<Item, V>(*src, size, all); ++i) {
      }
      auto refill = [this, src, size](std::deque<Future<R>>& more) { return submit_chunk<Item, V>(*src, size, more); };
      return MapResult<R>(std::move(all), deadline, std::move(refill), size);
    }
  }

  using Executor::shutdown;
  /// Python: shutdown(wait=True, *, cancel_futures=False).
  void shutdown(ShutdownOptions options) override;

  /// Python 3.14: terminate_workers() — shutdown(wait=false,
  /// cancel_futures=true), then SIGTERM to every live worker. A call still
  /// running fails with BrokenProcessPool (its worker died abruptly: the pool
  /// is broken, as in Python); later submits throw. Harmless on a pool that
  /// is already broken or shut down. A worker that catches SIGTERM may go on:
  /// kill_workers() is the sure way.
  void terminate_workers() { force_shutdown(SIGTERM); }
  /// Python 3.14: kill_workers() — the same with SIGKILL.
  void kill_workers() { force_shutdown(SIGKILL); }

  /// Python's _max_workers.
  int max_workers() const noexcept { return core_->processes(); }
  /// Python's _processes: the live workers.
  std::vector<Process> processes() const { return core_->workers(); }
  /// Python's _broken: why the pool is broken, or "" if it is not.
  std::string broken() const { return core_->broken(); }

 protected:
  /// Executor::submit's path: a Task holds a closure, which cannot travel.
  void enqueue(mpx::detail::FutureCore* task) override;

 private:
  /// Reads up to `size` items from `src` and submits them as one task,
  /// appending their futures to `out`; false when `src` had none left.
  template <class Item, class V, class R, class Source>
  bool submit_chunk(Source& src, std::size_t size, std::deque<Future<R>>& out) {
    std::vector<Item> items;
    while (items.size() < size && !src.at_end())
      items.push_back(src.next([](auto&, auto&&... a) { return Item(std::forward<decltype(a)>(a)...); }));
    if (items.empty()) return false;
    std::vector<Future<R>> fs(items.size());
    try {
      core_->submit(
          std::make_shared<detail_::ChunkJob<V, R>>(fs), 0,
          mpx::detail::make_chunk_message<true, Item>(src.fn, std::chrono::nanoseconds(0), items.begin(), items.end()));
    } catch (const RuntimeError&) {
      rethrow_refusal();
    }
    for (auto& f : fs) out.push_back(std::move(f));
    return true;
  }

  void force_shutdown(int signo);
  /// In a handler of the engine's "after shutdown" RuntimeError: Python's
  /// "after interpreter shutdown" instead when the exit hook, not
  /// shutdown(), closed the pool; else rethrows.
  [[noreturn]] void rethrow_refusal() const;

  // Shared with the exit hook's list of live executors (process_executor.cpp).
  std::shared_ptr<mpx::detail::ProcessPoolCore> core_;
  bool replace_dead_workers_ = false;
  std::atomic<bool> shut_down_{false};  // shutdown() was called (Python's _shutdown_thread)
};

}  // namespace mpx::futures
