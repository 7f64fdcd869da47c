// mpx/detail/future_wait.hpp — the untyped halves of futures::wait() and
// futures::as_completed() (src/futures/wait.cpp). Like Python, both install a
// waiter on every pending future (FutureCore::install_waiter); the future
// tells it under its lock when it finishes, and the waiter sets a futex-backed
// event the caller sleeps on. Nothing is polled.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_set>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/future_core.hpp"

namespace mpx::detail {

enum class WaitMode { first_completed, first_exception, all_completed, as_completed };

/// Python's futures.wait(): `fs` without duplicates; on return done[i] says
/// whether fs[i] is in the done set.
void wait_futures(const std::vector<FutureCore*>& fs, Deadline deadline, WaitMode mode, std::vector<char>& done);

/// A one-shot-at-a-time event on a futex word: set() costs a syscall only if
/// the waiting thread sleeps.
class Notification {
 public:
  void set() noexcept;
  void clear() noexcept { word_.store(0, std::memory_order_relaxed); }
  bool wait(Deadline deadline);

 private:
  std::atomic<std::uint32_t> word_{0};  // 0 clear, 1 set, 2 clear and someone sleeps
};

/// Python's as_completed() generator state. Owns one reference to each
/// future it has not yielded yet.
class AsCompletedState {
 public:
  /// `fs`: distinct futures, one reference each handed over.
  AsCompletedState(std::vector<FutureCore*> fs, Deadline deadline);
  ~AsCompletedState();
  AsCompletedState(const AsCompletedState&) = delete;
  AsCompletedState& operator=(const AsCompletedState&) = delete;

  /// The next finished future (a reference the caller adopts), or nullptr once
  /// all were yielded. Throws TimeoutError("N (of M) futures unfinished"),
  /// after which the iteration is over.
  FutureCore* next();

 private:
  struct Waiter;
  std::unique_ptr<Waiter> waiter_;
  std::deque<FutureCore*> ready_;            // finished, to yield in this order
  std::unordered_set<FutureCore*> pending_;  // not finished yet, waiter installed
  std::size_t total_;
  Deadline deadline_;
  bool over_ = false;
};

}  // namespace mpx::detail
