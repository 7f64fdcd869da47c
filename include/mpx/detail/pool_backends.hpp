// mpx/detail/pool_backends.hpp — part of mpx/pool.hpp: what runs a
// BasicPool's calls. Each backend takes a call or a chunk of a map with its
// job (detail/pool_jobs.hpp) and makes sure the job hears of it, on the
// pool's one result thread:
//
//   ProcessBackend   the call travels to a worker process (ProcessPoolCore);
//                    kShips: only calls that can travel compile
//   ThreadBackend    the call runs on a worker thread, any callable; its
//                    outcome is handed to the result thread as a closure
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/detail/pool_calls.hpp"
#include "mpx/detail/pool_jobs.hpp"
#include "mpx/detail/process_pool.hpp"
#include "mpx/queue.hpp"
#include "mpx/threading.hpp"

namespace mpx {
struct PoolOptions;
struct ThreadPoolOptions;
}  // namespace mpx

namespace mpx::detail {

/// Throws: ValueError("Chunksize must be 1+, not N").
std::size_t checked_chunksize(long size);

class ProcessBackend {
 public:
  using Options = PoolOptions;
  static constexpr bool kShips = true;

  explicit ProcessBackend(PoolOptions options);

  template <class R, class F, class... A>
  void apply(const std::shared_ptr<ApplyJob<R>>& job, F& f, std::chrono::nanoseconds timeout, A&... args) {
    core_->submit(job, 0, make_apply_message(f, timeout, args...));
  }
  /// `continuation`: more of an imap already under way, which close() lets finish.
  template <bool Star, class Item, class F, class It, class Job>
  void chunk(const std::shared_ptr<Job>& job, std::size_t index, F& f, std::chrono::nanoseconds timeout, It first,
             It last, bool continuation = false) {
    core_->submit(job, index, make_chunk_message<Star, Item>(f, timeout, first, last), continuation);
  }
  /// Every chunk of a map, in order. Handed to the core a batch at a time:
  /// one lock and one feed per batch, not per chunk (chunksize=1 sends a
  /// message per item, and the workers, woken per message, would spend more
  /// on wake-ups than on the items). `caller_waits`: this thread feeds the
  /// ring itself, a batch ahead (ProcessPoolCore::submit_batch).
  template <bool Star, class Item, class F, class Items, class Job>
  void chunks(const std::shared_ptr<Job>& job, F& f, std::chrono::nanoseconds timeout, const Items& items,
              const Chunking& chunking, bool caller_waits) {
    constexpr std::size_t kBatch = 256;
    std::vector<std::vector<std::byte>> batch;
    for (std::size_t c = 0; c < chunking.count();) {
      const std::size_t first_index = c;
      core_->take_spare_buffers(batch, std::min(kBatch, chunking.count() - c));
      for (auto& message : batch) {
        auto first = items.begin() + static_cast<std::ptrdiff_t>(chunking.first(c));
        auto last = first + static_cast<std::ptrdiff_t>(chunking.length(c));
        encode_chunk_message<Star, Item>(message, f, timeout, first, last);
        ++c;
      }
      core_->submit_batch(job, first_index, batch, caller_waits);
    }
  }
  /// An imap that reads its input lazily begins / ends: close() waits for it.
  void open_feed() { core_->open_feed(); }
  void close_feed() noexcept { core_->close_feed(); }
  /// A call's timeout, or the pool's default; 0 for none.
  std::chrono::nanoseconds timeout_of(const std::optional<std::chrono::nanoseconds>& asked) const noexcept;

  void close() { core_->close(); }
  void terminate();
  void join() { core_->join(Deadline::never()); }
  bool closed() const { return core_->closed(); }
  int processes() const noexcept { return core_->processes(); }
  std::vector<Process> workers() const { return core_->workers(); }
  /// What an AsyncResult waits through: it reads the results itself.
  std::shared_ptr<HelpGate> help_gate() const noexcept { return core_->help_gate(); }

 private:
  std::unique_ptr<ProcessPoolCore> core_;
  std::chrono::nanoseconds default_timeout_;
};

class ThreadBackend {
 public:
  using Options = ThreadPoolOptions;
  static constexpr bool kShips = false;

  explicit ThreadBackend(ThreadPoolOptions options);
  /// terminate().
  ~ThreadBackend();
  ThreadBackend(const ThreadBackend&) = delete;
  ThreadBackend& operator=(const ThreadBackend&) = delete;

  template <class R, class F, class... A>
  void apply(const std::shared_ptr<ApplyJob<R>>& job, F& f, std::chrono::nanoseconds timeout, A&... args) {
    refuse_timeout(timeout);
    // Shared, so the closures stay copyable whatever F and A are.
    auto call = std::make_shared<std::tuple<std::decay_t<F>, std::decay_t<A>...>>(f, args...);
    auto invoke = [call]() -> decltype(auto) {
      return std::apply([](auto& fn, auto&... a) -> decltype(auto) { return std::invoke(fn, a...); }, *call);
    };
    submit(Task{[job, invoke]() -> std::function<void()> {
                  if constexpr (std::is_void_v<R>) {
                    invoke();
                    return [job] { job->deliver(); };
                  } else {
                    auto value = std::make_shared<R>(invoke());
                    return [job, value] { job->deliver(std::move(*value)); };
                  }
                },
                [job](std::exception_ptr e) { job->chunk_failed(0, e); }});
  }
  template <bool Star, class Item, class F, class It, class Job>
  void chunk(const std::shared_ptr<Job>& job, std::size_t index, F& f, std::chrono::nanoseconds timeout, It first,
             It last, bool continuation = false) {
    refuse_timeout(timeout);
    using Fn = std::decay_t<F>;
    using V = ValueOf<item_result_t<Fn, Item, Star>>;
    auto work = std::make_shared<std::pair<Fn, std::vector<Item>>>(f, std::vector<Item>(first, last));
    submit(Task{[job, index, work]() -> std::function<void()> {
                  auto values = std::make_shared<std::vector<V>>();
                  values->reserve(work->second.size());
                  for (Item& item : work->second) values->push_back(call_item<Fn, Item, Star>(work->first, item));
                  return [job, index, values] { job->deliver(index, std::move(*values)); };
                },
                [job, index](std::exception_ptr e) { job->chunk_failed(index, e); }},
           continuation);
  }
  /// Every chunk of a map, in order.
  template <bool Star, class Item, class F, class Items, class Job>
  void chunks(const std::shared_ptr<Job>& job, F& f, std::chrono::nanoseconds timeout, const Items& items,
              const Chunking& chunking, bool /*caller_waits*/) {
    for (std::size_t c = 0; c < chunking.count(); ++c) {
      auto first = items.begin() + static_cast<std::ptrdiff_t>(chunking.first(c));
      auto last = first + static_cast<std::ptrdiff_t>(chunking.length(c));
      chunk<Star, Item>(job, c, f, timeout, first, last);
    }
  }
  std::chrono::nanoseconds timeout_of(const std::optional<std::chrono::nanoseconds>& asked) const;
  void open_feed();
  void close_feed() noexcept;

  void close();
  /// Queued calls fail; running ones finish (a thread cannot be stopped);
  /// then the threads are joined.
  void terminate();
  void join();
  bool closed() const noexcept { return state_.load() != kRunning; }
  int processes() const noexcept { return static_cast<int>(threads_.size()); }
  std::vector<threading::Thread> workers() const { return threads_; }
  std::shared_ptr<HelpGate> help_gate() const noexcept { return nullptr; }

 private:
  /// A call for a worker thread: run() returns what the result thread does
  /// with its outcome; fail() is that for a call that does not run.
  struct Task {
    std::function<std::function<void()>()> run;
    std::function<void(std::exception_ptr)> fail;
  };
  static void refuse_timeout(std::chrono::nanoseconds timeout);
  void submit(Task task, bool continuation = false);
  void stop_workers_locked();
  void worker_main();
  void result_main();

  static constexpr int kRunning = 0, kClosed = 1, kTerminated = 2;
  std::atomic<int> state_{kRunning};
  std::function<void()> initializer_;
  std::mutex broken_mu_;
  std::string broken_;  // an initializer failed
  std::mutex feeds_mu_;
  int feeds_ = 0;              // imaps still reading their input
  bool stop_pending_ = false;  // close() waits for them to end
  queue::Queue<Task> tasks_;
  queue::Queue<std::function<void()>> results_;
  std::vector<threading::Thread> threads_;
  std::thread result_thread_;
  std::once_flag joined_;
};

}  // namespace mpx::detail
