// mpx/detail/thread_pool.hpp — the engine of futures::ThreadPoolExecutor:
// the submit path (inline), the workers' park/wake protocol, lazy thread
// creation, shutdown and the exit hook (src/futures/thread_pool.cpp).
//
//   submit(fn):  gate_ += 1 (refused if shut down/broken) · allocate the task
//                (future state + call, one node) · queue_.push(node) · read sched_:
//                a worker asleep and none spinning → wake one · gate_ -= 1
//
//   worker:      pop ─► run ─► publish ─► pop ... queue empty ─► spin a few µs
//                (counted in spinning_) ─► park: epoch_ read, sched_ += 1,
//                look once more, futex_wait(epoch_) ─► unpark
//
//   Words and who writes them (each on its own cache line):
//     gate_      submitters (+1/-1 around a push), shutdown/broken set flags
//     sched_     workers going to sleep (+1) and waking (-1); a submitter that
//                wakes one moves one sleeper into the WAKING bit, so at most
//                one wake is in flight and later submits cost one load
//     epoch_     the futex word sleepers wait on; bumped by every wake
//     spinning_  workers looking for work without sleeping: a submitter wakes
//                nobody while one spins (it will find the task)
//     credits_   Python's _idle_semaphore: +1 per finished task, -1 per submit
//                that then starts no thread; only until max_workers threads exist
//
//   Lost wake-ups: a worker reads epoch_, then sched_ += 1 (seq_cst), then
//   looks at the queue's tail; a submitter exchanges the tail (seq_cst), then
//   reads sched_. Either the worker sees the task or the submitter sees the
//   sleeper; and a sleeper whose count a submitter took has read an epoch_
//   older than the bump, so its futex_wait returns or is woken. Any worker
//   that leaves the parked section clears WAKING if set (sleepers are
//   interchangeable), else takes its own count back.
//
//   Shutdown: gate_ gets kShutdown, in-flight submits drain (gate_ count 0),
//   closing_ is set and every sleeper woken; workers exit once the queue is
//   empty (Python's None sentinel, without a sentinel). kill -9 does not apply:
//   threads die with their process.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mpx/detail/futex.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/detail/task_queue.hpp"
#include "mpx/threading.hpp"

namespace mpx::detail {

class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  static constexpr std::uint32_t kShutdown = 1u << 31;  // this executor's shutdown()
  static constexpr std::uint32_t kBroken = 1u << 30;    // an initializer failed
  static constexpr std::uint32_t kExiting = 1u << 29;   // process exit (Python's global _shutdown)
  static constexpr std::uint32_t kRefusing = kShutdown | kBroken | kExiting;
  static constexpr std::uint32_t kWaking = 1u << 16;
  static constexpr std::uint32_t kSleepingMask = kWaking - 1;

  PoolCore(int max_workers, std::string thread_name_prefix, std::function<void()> initializer);
  ~PoolCore();
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  /// Puts the executor in the registry the exit hook walks (after make_shared).
  void register_for_exit();

  // ---- the submit path ---------------------------------------------------------
  /// Admits one submit or throws BrokenThreadPool / RuntimeError (Python's order).
  void enter() {
    std::uint32_t g = gate_.fetch_add(1, std::memory_order_acquire);
    if (g & kRefusing) [[unlikely]]
      refuse(g);
  }
  void leave() noexcept { gate_.fetch_sub(1, std::memory_order_release); }
  /// Queues a task (which holds a reference for the queue); between enter() and leave().
  void push(FutureCore* task) noexcept {
    queue_.push(task);
    std::uint32_t s = sched_.load(std::memory_order_seq_cst);
    if ((s & kSleepingMask) && !(s & kWaking)) [[unlikely]]
      wake_one();
  }
  /// Python's _adjust_thread_count, after each push while threads may still be added.
  void adjust_thread_count() {
    if (!saturated_.load(std::memory_order_relaxed)) [[unlikely]]
      adjust_slow();
  }

  // ---- the executor's other calls ------------------------------------------------
  void shutdown(bool wait, bool cancel_futures);
  int max_workers() const noexcept { return max_workers_; }
  std::vector<threading::Thread> threads() const;
  /// Python's _broken: the reason, or empty.
  std::string broken() const;

 private:
  [[noreturn]] void refuse(std::uint32_t gate);
  void wake_one() noexcept;
  void adjust_slow();
  void worker_main();
  FutureCore* take(bool& searching);
  bool try_pop(FutureCore*& out) noexcept;
  FutureCore* pop_blocking() noexcept;
  void park() noexcept;
  void unpark() noexcept;
  void credit() noexcept {
    if (!saturated_.load(std::memory_order_relaxed)) credits_.fetch_add(1, std::memory_order_release);
  }
  /// Stops new submits with `flag` and waits until the ones in flight have pushed.
  void close_gate(std::uint32_t flag) noexcept;
  /// Lets the workers exit once the queue is empty, and wakes them all.
  void close_workers() noexcept;
  void join_workers();
  void initializer_failed() noexcept;
  bool forked_away() const noexcept;
  friend void pool_exit_hook() noexcept;

  alignas(64) std::atomic<std::uint32_t> gate_{0};
  std::atomic<bool> saturated_{false};  // max_workers threads exist: no more adjusting
  TaskQueue queue_;
  alignas(64) std::atomic<std::uint32_t> sched_{0};
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<bool> closing_{false};
  alignas(64) std::atomic<std::uint32_t> spinning_{0};
  alignas(64) std::atomic<int> credits_{0};

  alignas(64) mutable std::mutex mu_;  // guards what follows
  std::vector<threading::Thread> threads_;
  std::string broken_;
  const int max_workers_;
  const std::string prefix_;
  const std::function<void()> initializer_;
  const pid_t pid_;
};

void pool_exit_hook() noexcept;

}  // namespace mpx::detail
