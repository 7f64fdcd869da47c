// mpx/pool.hpp — multiprocessing.Pool: a pool of worker processes that
// survives its workers' crashes and hangs.
//
//   int square(int x) { return x * x; }
//
//   mpx::Pool pool(4);                                        // Pool(processes=4)
//   std::vector<int> sq = pool.map(square, std::vector{1, 2, 3});   // [1, 4, 9]
//   mpx::AsyncResult<int> r = pool.apply_async(square, 7);
//   int v = r.get(2s);                                        // TimeoutError after 2 s
//   pool.apply_async({.callback = [](const int& v) { std::printf("%d\n", v); },  // on the result thread
//                     .timeout = 5s},                         // beyond Python: per-task timeout
//                    square, 8);
//   for (int x : pool.imap(square, std::vector{4, 5})) ...    // results as they come, in order
//   pool.close();                                             // no more tasks
//   pool.join();                                              // the workers finish what was queued
//                                                             // ~Pool(): terminate(), as Python's `with`
//
// Tasks travel to the workers (detail/shipping.hpp): a function, static
// member function or captureless lambda with Encodable arguments and
// result — under every start method, fork included, since the workers are
// started before the tasks exist. Anything else does not compile.
//
// Beyond Python (whose Pool hangs forever when a worker dies):
//   - a worker killed by a signal, or exiting, while it runs a task fails
//     only that task, with WorkerLost naming the signal; the worker is
//     replaced and every other task goes on;
//   - a task (a chunk, for map) given a timeout — per call or pool-wide —
//     that overruns has its worker killed and replaced, and fails with
//     TimeoutError;
//   - an initializer that throws breaks the pool: queued and later tasks fail
//     with BrokenProcessPool (Python restarts such workers for ever);
//   - terminate() fails what was queued or running (Python leaves get() hanging).
// An exception thrown by a task arrives as the same std:: or mpx:: type, or
// as RemoteError naming the original type and message.
//
// Who runs callbacks: one result thread of the parent, for every task of the
// pool, before get() on that result returns (Python's _handle_results). A
// callback should be quick: the next results wait behind it. What it throws
// is reported on stderr and dropped.
//
// Worker engine: detail/process_pool.hpp (rings, result thread, supervisor).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/context.hpp"
#include "mpx/detail/pool_jobs.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/futures.hpp"

namespace mpx {

/// Python's keyword arguments of Pool().
struct PoolOptions {
  /// Python: processes=None → os.cpu_count().
  std::optional<int> processes{};
  /// Python: initializer=, initargs= — run first in every worker.
  Initializer initializer{};
  /// Python: maxtasksperchild=None — a worker is replaced after this many tasks.
  std::optional<long> maxtasksperchild{};
  /// Python: context=None — the start method of the workers.
  std::optional<Context> context{};
  /// Beyond Python: every task's default timeout (a call, or a chunk of a map).
  std::chrono::nanoseconds timeout = forever;
};

/// Python's keyword arguments of multiprocessing.pool.ThreadPool().
struct ThreadPoolOptions {
  /// Python: processes=None → os.cpu_count() threads.
  std::optional<int> processes{};
  /// Python: initializer=, initargs= — any callable (bind the arguments in),
  /// run first in every worker thread. If it throws, the pool is broken.
  std::function<void()> initializer{};
};

}  // namespace mpx

// The backends take the option structs above.
#include "mpx/detail/pool_backends.hpp"  // NOLINT(misc-header-include-cycle)

namespace mpx {

/// apply_async's keyword arguments, typed by the call's result R.
template <class R>
struct ApplyOptions {
  Callback<R> callback{};
  ErrorCallback error_callback{};
  /// Beyond Python: this call's timeout (unset: the pool's default).
  /// Processes only: a ThreadPool refuses it (a thread cannot be stopped).
  std::optional<std::chrono::nanoseconds> timeout{};
};

/// map/imap/starmap's keyword arguments; R is the result of one item.
template <class R>
struct MapOptions {
  /// Python: chunksize=None — map: len / (4 × processes), rounded up; imap: 1.
  std::optional<long> chunksize{};
  /// Beyond Python: each chunk's timeout (unset: the pool's default).
  std::optional<std::chrono::nanoseconds> timeout{};
  /// Beyond Python: a progress line on stderr when it is a terminal.
  bool progress = false;
  /// map_async / starmap_async only: called with the whole list.
  Callback<std::vector<detail::ValueOf<R>>> callback{};
  ErrorCallback error_callback{};
};

/// Python: multiprocessing.pool.AsyncResult (ApplyResult, MapResult): a
/// handle on a pool call's future core; copies share it.
template <class T>
class AsyncResult {
 public:
  using value_type = T;
  /// `gate`: a process pool's, through which a waiting thread reads the
  /// results itself (detail/process_pool.hpp); null for a ThreadPool.
  explicit AsyncResult(futures::Future<T> f, std::shared_ptr<detail::HelpGate> gate = nullptr)
      : f_(std::move(f)), gate_(std::move(gate)) {}
  using result_type = typename futures::Future<T>::result_type;

  /// Python: get(timeout=None). Throws what the task threw; TimeoutError.
  result_type get() const {
    help(detail::Deadline::never());
    return f_.result();
  }
  template <class Rep, class Period>
  result_type get(std::chrono::duration<Rep, Period> timeout) const {
    const auto deadline = detail::Deadline::after(timeout);
    help(deadline);
    return deadline.is_never() ? f_.result() : f_.result(deadline.remaining());
  }
  /// Python: wait(timeout=None). Returns ready() (Python returns None).
  bool wait() const {
    help(detail::Deadline::never());
    return f_.core()->wait_done(detail::Deadline::never());
  }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    const auto deadline = detail::Deadline::after(timeout);
    help(deadline);
    return f_.core()->wait_done(deadline);
  }
  /// Python: ready().
  bool ready() const noexcept { return f_.done(); }
  /// Python: successful(). Throws: ValueError if not ready.
  bool successful() const {
    if (!ready()) throw ValueError("AsyncResult is not ready");
    return !f_.core()->stored_exception();
  }
  /// The same state as a concurrent.futures Future (for wait/as_completed).
  const futures::Future<T>& future() const noexcept { return f_; }

 private:
  void help(detail::Deadline deadline) const {
    if (gate_ && !f_.done()) gate_->help(*f_.core(), deadline);
  }
  futures::Future<T> f_;
  std::shared_ptr<detail::HelpGate> gate_;
};

/// Python: the iterator imap()/imap_unordered() return: next(timeout), or
/// a range of input iterators (each result moved out once).
template <class V>
class IMapIterator {
 public:
  /// `feed` reads more of the input and submits it, a window ahead of the
  /// consumer; it is called before every wait.
  IMapIterator(std::shared_ptr<detail::IMapJob<V>> job, std::shared_ptr<detail::ImapFeed> feed)
      : job_(std::move(job)), feed_(std::move(feed)) {}

  /// The next result, or nullopt at the end (Python's StopIteration).
  /// Throws: the task's exception (the iteration goes on after it, as in
  /// Python); TimeoutError if none came within `timeout` (Python's next(timeout)).
  std::optional<V> next() { return next_until(detail::Deadline::never()); }
  template <class Rep, class Period>
  std::optional<V> next(std::chrono::duration<Rep, Period> timeout) {
    return next_until(detail::Deadline::after(timeout));
  }

  class iterator {
   public:
    using value_type = V;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(IMapIterator* it) : it_(it) { ++*this; }
    V&& operator*() const { return std::move(*cur_); }
    iterator& operator++() {
      cur_.reset();
      cur_ = it_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

   private:
    IMapIterator* it_ = nullptr;
    mutable std::optional<V> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::optional<V> next_until(detail::Deadline deadline) {
    if (feed_) feed_->feed();
    return job_->next(deadline);
  }
  std::shared_ptr<detail::IMapJob<V>> job_;
  std::shared_ptr<detail::ImapFeed> feed_;
};

namespace detail {
/// What f(args...) returns, for a function or any callable.
template <class F, class... A>
using apply_result_t = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>;
/// What f returns for one item of `Range` (f(*item) when Star).
template <class F, class Range, bool Star>
using pool_item_result = item_result_t<std::decay_t<F>, std::ranges::range_value_t<Range>, Star>;
}  // namespace detail

/// Pool and ThreadPool: Python's multiprocessing.pool API over a backend
/// that runs the calls — worker processes (detail::ProcessBackend, the calls
/// must travel) or threads (detail::ThreadBackend, any callable).
template <class Backend>
class BasicPool {
 public:
  using Options = typename Backend::Options;

  /// Python: Pool() / ThreadPool() — os.cpu_count() workers.
  BasicPool() : BasicPool(Options{}) {}
  /// Python: Pool(processes). Throws: ValueError if processes < 1.
  explicit BasicPool(int processes) : BasicPool(Options{.processes = processes}) {}
  /// Starts the workers. Throws: ValueError("Number of processes must be at
  ///   least 1"), ValueError("maxtasksperchild must be a positive int or
  ///   None"), OSError.
  explicit BasicPool(Options options) : backend_(std::move(options)) {}
  /// Python's `with` exit: terminate(), then join.
  ~BasicPool() {
    {
      std::lock_guard lock(gate_->mu);
      gate_->alive = false;  // imap iterators that outlive the pool stop reading
    }
    backend_.terminate();
  }
  BasicPool(const BasicPool&) = delete;
  BasicPool& operator=(const BasicPool&) = delete;

  /// Python: apply(func, args) — apply_async(...).get().
  template <class F, class... A>
  auto apply(F&& f, A&&... args) {
    auto r = apply_async(std::forward<F>(f), std::forward<A>(args)...);
    using R = typename decltype(r)::value_type;
    if constexpr (std::is_void_v<R>) {
      r.get();
    } else {
      return R(std::move(const_cast<R&>(r.get())));
    }
  }

  /// Python: apply_async(func, args, callback=None, error_callback=None).
  /// Throws: ValueError("Pool not running") after close()/terminate();
  ///   BrokenProcessPool once broken (see the file comment).
  template <class F, class... A>
  auto apply_async(F&& f, A&&... args) {
    static_assert(!Backend::kShips || detail::Shippable<F, A...>,
                  "mpx::Pool: a task must travel to a worker process: a function, a static member function or a "
                  "lambda without captures, with Encodable arguments (mpx/pool.hpp)");
    return apply_async(ApplyOptions<detail::apply_result_t<F, A...>>{}, std::forward<F>(f), std::forward<A>(args)...);
  }
  template <class F, class... A>
  requires(!Backend::kShips || detail::Shippable<F, A...>) AsyncResult<detail::apply_result_t<F, A...>> apply_async(
      std::type_identity_t<ApplyOptions<detail::apply_result_t<F, A...>>> options, F&& f, A&&... args) {
    using R = detail::apply_result_t<F, A...>;
    futures::Future<R> future;
    auto job =
        std::make_shared<detail::ApplyJob<R>>(future, std::move(options.callback), std::move(options.error_callback));
    backend_.template apply<R>(job, f, backend_.timeout_of(options.timeout), args...);
    return AsyncResult<R>(std::move(future), backend_.help_gate());
  }

  /// Python: map(func, iterable, chunksize=None) — the results in order.
  /// Throws: the first failed chunk's exception (WorkerLost, TimeoutError...).
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items) {
    return submit_map<false>({}, f, std::forward<Range>(items), true).get_moved();
  }
  template <class F, std::ranges::input_range Range>
  auto map(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, false>>> options, F&& f, Range&& items) {
    return submit_map<false>(std::move(options), f, std::forward<Range>(items), true).get_moved();
  }
  /// Python: map_async(func, iterable, chunksize=None, callback=None, error_callback=None).
  template <class F, std::ranges::input_range Range>
  auto map_async(F&& f, Range&& items) {
    return submit_map<false>({}, f, std::forward<Range>(items)).result();
  }
  template <class F, std::ranges::input_range Range>
  auto map_async(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, false>>> options, F&& f,
                 Range&& items) {
    return submit_map<false>(std::move(options), f, std::forward<Range>(items)).result();
  }
  /// Python: starmap(func, iterable) — func(*item) for tuple-like items.
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items) {
    return submit_map<true>({}, f, std::forward<Range>(items), true).get_moved();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, true>>> options, F&& f,
               Range&& items) {
    return submit_map<true>(std::move(options), f, std::forward<Range>(items), true).get_moved();
  }
  /// Python: starmap_async(func, iterable, chunksize=None, callback=None, error_callback=None).
  template <class F, std::ranges::input_range Range>
  auto starmap_async(F&& f, Range&& items) {
    return submit_map<true>({}, f, std::forward<Range>(items)).result();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap_async(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, true>>> options, F&& f,
                     Range&& items) {
    return submit_map<true>(std::move(options), f, std::forward<Range>(items)).result();
  }

  /// Python: imap(func, iterable, chunksize=1) — results in order as they come.
  template <class F, std::ranges::input_range Range>
  auto imap(F&& f, Range&& items) {
    return submit_imap(MapOptions<detail::pool_item_result<F, Range, false>>{}, f, std::forward<Range>(items), true);
  }
  template <class F, std::ranges::input_range Range>
  auto imap(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, false>>> options, F&& f, Range&& items) {
    return submit_imap(std::move(options), f, std::forward<Range>(items), true);
  }
  /// Python: imap_unordered(func, iterable, chunksize=1) — in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F&& f, Range&& items) {
    return submit_imap(MapOptions<detail::pool_item_result<F, Range, false>>{}, f, std::forward<Range>(items), false);
  }
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(std::type_identity_t<MapOptions<detail::pool_item_result<F, Range, false>>> options, F&& f,
                      Range&& items) {
    return submit_imap(std::move(options), f, std::forward<Range>(items), false);
  }

  /// Python: close() — no more tasks; the workers exit when the queued ones are done.
  void close() { backend_.close(); }
  /// Python: terminate() — stops the workers now; queued and running tasks
  /// fail with ProcessError("the pool was terminated") (threads: the
  /// running ones finish first — a thread cannot be stopped).
  void terminate() { backend_.terminate(); }
  /// Python: join() — waits for the workers to exit.
  /// Throws: ValueError("Pool is still running") before close()/terminate().
  void join() {
    if (!backend_.closed()) throw ValueError("Pool is still running");
    backend_.join();
  }

  /// Python's _processes.
  int processes() const noexcept { return backend_.processes(); }
  /// Processes only: the live worker processes (Python's _pool), e.g. to watch or kill one.
  auto workers() const { return backend_.workers(); }

 private:
  template <class V>
  struct Submitted {
    futures::Future<std::vector<V>> future;
    std::shared_ptr<detail::HelpGate> gate;  // a process pool's: the waiting caller reads results
    AsyncResult<std::vector<V>> result() { return AsyncResult<std::vector<V>>(std::move(future)); }
    std::vector<V> get_moved() {
      if (gate && !future.done()) gate->help(*future.core(), detail::Deadline::never());
      future.result();
      return std::move(const_cast<std::vector<V>&>(future.result()));
    }
  };

  template <class Range>
  static auto materialize(Range&& items) {
    using Item = std::ranges::range_value_t<Range>;
    std::vector<Item> out;
    if constexpr (std::ranges::sized_range<Range>) out.reserve(std::ranges::size(items));
    for (auto&& x : items) out.push_back(x);
    return out;
  }

  template <bool Star, class F, class Item>
  static constexpr bool item_travels() {
    if constexpr (Backend::kShips) {
      using Fn = detail::FunctionPointer<F>;
      static_assert(Encodable<Item>, "mpx::Pool: the items of a map must be Encodable");
      static_assert(std::is_pointer_v<Fn> && std::is_function_v<std::remove_pointer_t<Fn>>,
                    "mpx::Pool: a task must travel to a worker process: a function, a static member function or a "
                    "lambda without captures (mpx/pool.hpp)");
      static_assert(Encodable<detail::ValueOf<detail::item_result_t<Fn, Item, Star>>>,
                    "mpx::Pool: the function's result must be Encodable");
    }
    return true;
  }

  template <bool Star, class F, class Items, class Job>
  void send_chunks(F& f, const Items& items, const detail::Chunking& chunks, std::chrono::nanoseconds timeout,
                   const std::shared_ptr<Job>& job, bool caller_waits) {
    using Item = typename Items::value_type;
    backend_.template chunks<Star, Item>(job, f, timeout, items, chunks, caller_waits);
  }

  template <bool Star, class F, class Range>
  // `caller_waits`: map() and starmap(), whose caller waits for the results
  // anyway, feed the workers themselves as the ring drains (map_async
  // returns at once: the pool feeds its chunks).
  auto submit_map(MapOptions<detail::pool_item_result<F, Range, Star>> options, F& f, Range&& range,
                  bool caller_waits = false) {
    using Item = std::ranges::range_value_t<Range>;
    static_assert(item_travels<Star, F, Item>());
    using V = detail::ValueOf<detail::pool_item_result<F, Range, Star>>;
    auto items = materialize(std::forward<Range>(range));
    detail::Chunking chunks{items.size(), default_chunksize(options.chunksize, items.size())};
    futures::Future<std::vector<V>> future;
    auto job = std::make_shared<detail::MapJob<V>>(future, chunks, std::move(options.callback),
                                                   std::move(options.error_callback), options.progress);
    job->finish_if_empty();
    if (caller_waits) job->completes_quietly();
    send_chunks<Star>(f, items, chunks, backend_.timeout_of(options.timeout), job, caller_waits);
    return Submitted<V>{std::move(future), caller_waits ? backend_.help_gate() : nullptr};
  }

  // imap reads its input lazily, a window of chunks ahead of the consumer
  // (an endless range works, memory stays bounded), as Python's task handler
  // thread feeds it; an input that throws ends the iteration there. The
  // input (if an lvalue) and the pool must outlive the iteration.
  template <class F, class Range>
  auto submit_imap(MapOptions<detail::pool_item_result<F, Range, false>> options, F& f, Range&& range, bool ordered) {
    using Item = std::ranges::range_value_t<Range>;
    static_assert(item_travels<false, F, Item>());
    using V = detail::ValueOf<detail::pool_item_result<F, Range, false>>;
    using View = std::views::all_t<Range>;
    const std::size_t chunk = detail::checked_chunksize(options.chunksize.value_or(1));
    std::size_t expected = 0;
    if constexpr (std::ranges::sized_range<Range>) expected = static_cast<std::size_t>(std::ranges::size(range));
    auto job = std::make_shared<detail::IMapJob<V>>(ordered, options.progress, expected);

    struct Feed final : detail::ImapFeed {
      std::shared_ptr<detail::FeedGate> gate;  // the pool, while it lives
      BasicPool* pool;
      std::decay_t<F> fn;
      View view;
      std::optional<std::ranges::iterator_t<View>> it;  // begun at the first read: begin() may throw
      bool advance = false;  // step past the last item read before the next read, as Python's next(it)
      std::shared_ptr<detail::IMapJob<V>> job;
      std::size_t chunk, window;
      std::chrono::nanoseconds timeout;
      bool open = true;
      Feed(BasicPool* p, F& f, Range&& r, std::shared_ptr<detail::IMapJob<V>> j, std::size_t c,
           std::chrono::nanoseconds t)
          : gate(p->gate_),
            pool(p),
            fn(f),
            view(std::views::all(std::forward<Range>(r))),
            job(std::move(j)),
            chunk(c),
            window(c * (2 * static_cast<std::size_t>(p->processes()) + 2)),
            timeout(t) {
        pool->backend_.open_feed();
      }
      ~Feed() override {
        std::lock_guard lock(gate->mu);
        end();
      }
      // With gate->mu held.
      void end() noexcept {
        if (std::exchange(open, false) && gate->alive) pool->backend_.close_feed();
      }
      void feed() override {
        std::lock_guard lock(gate->mu);
        if (open && !gate->alive) {
          job->input_failed(std::make_exception_ptr(ValueError("Pool not running")));
          return end();
        }
        while (open && job->ahead() < window) {
          std::vector<Item> items;
          items.reserve(chunk);
          bool at_end = false;
          try {
            if (!it) it.emplace(std::ranges::begin(view));
            while (items.size() < chunk) {
              if (std::exchange(advance, false)) ++*it;
              if (*it == std::ranges::end(view)) {
                at_end = true;
                break;
              }
              items.push_back(**it);
              advance = true;
            }
          } catch (...) {
            job->input_failed(std::current_exception());
            return end();
          }
          if (!items.empty()) {
            const std::size_t c = job->add_chunk(items.size());
            try {
              pool->backend_.template chunk<false, Item>(job, c, fn, timeout, items.begin(), items.end(), true);
            } catch (...) {
              job->chunk_failed(c, std::current_exception());
              job->input_done();
              return end();
            }
          }
          if (at_end) {
            job->input_done();
            return end();
          }
        }
      }
    };
    auto feed =
        std::make_shared<Feed>(this, f, std::forward<Range>(range), job, chunk, backend_.timeout_of(options.timeout));
    feed->feed();
    return IMapIterator<V>(std::move(job), std::move(feed));
  }

  /// Python's map default: len / (4 × processes), rounded up.
  std::size_t default_chunksize(const std::optional<long>& asked, std::size_t n) const {
    if (asked) return detail::checked_chunksize(*asked);
    const std::size_t per = 4 * static_cast<std::size_t>(processes());
    return std::max<std::size_t>(1, n / per + (n % per != 0));
  }

  Backend backend_;
  std::shared_ptr<detail::FeedGate> gate_ = std::make_shared<detail::FeedGate>();
};

/// Python: multiprocessing.Pool — worker processes (see the file comment).
using Pool = BasicPool<detail::ProcessBackend>;
/// Python: multiprocessing.pool.ThreadPool — the same API over worker
/// threads: any callable, nothing encoded, no per-task timeouts.
using ThreadPool = BasicPool<detail::ThreadBackend>;

}  // namespace mpx
