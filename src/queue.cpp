// mpx::queue's compiled part: the throws (one place, so the queue templates
// stay small) and the slow paths of detail::WordLock.
#include "mpx/queue.hpp"

#include <climits>

#include "mpx/detail/futex.hpp"
#include "mpx/detail/waiters.hpp"
#include "mpx/detail/word_lock.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

void throw_queue_error(QueueError error) {
  switch (error) {
    case QueueError::empty:
      throw queue::Empty("queue.Empty: no item to get");
    case QueueError::full:
      throw queue::Full("queue.Full: no free slot to put in");
    case QueueError::shutdown:
      throw queue::ShutDown("queue.ShutDown: the queue is shut down");
    case QueueError::negative_timeout:
      throw ValueError("'timeout' must be a non-negative number");
    case QueueError::task_done:
      throw ValueError("task_done() called too many times");
  }
  internal_error("throw_queue_error: unknown error");
}

void WordLock::lock_contended() {
  if (spin([this] { return word_.load(std::memory_order_relaxed) == 0 && try_lock(); })) return;
  // Mark the word "held, maybe with sleepers" and sleep until it was free
  // when marked: the unlock that frees it then wakes one sleeper.
  while (word_.exchange(2, std::memory_order_acquire) != 0) futex_wait(word_, 2, Deadline::never());
}

void WordLock::wake_one() noexcept { futex_wake(word_, 1); }

}  // namespace mpx::detail

namespace mpx::detail {

bool Waiters::cancel() noexcept {
  std::uint32_t w = waiting_.load(std::memory_order_seq_cst);
  while (w != 0) {
    if (waiting_.compare_exchange_weak(w, w - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

void Waiters::take_token() noexcept {
  // A waker took our announcement and is about to add the token: short.
  for (;;) {
    std::uint32_t t = tokens_.load(std::memory_order_acquire);
    while (t != 0) {
      if (tokens_.compare_exchange_weak(t, t - 1, std::memory_order_acquire)) return;
    }
    if (!spin([this] { return tokens_.load(std::memory_order_acquire) != 0; })) {
      futex_wait(tokens_, 0, Deadline::never());
    }
  }
}

void Waiters::withdraw() noexcept {
  if (!cancel()) take_token();
}

void Waiters::sleep(Deadline deadline) {
  for (;;) {
    std::uint32_t t = tokens_.load(std::memory_order_acquire);
    while (t != 0) {
      if (tokens_.compare_exchange_weak(t, t - 1, std::memory_order_acquire)) return;
    }
    bool in_time;
    try {
      in_time = futex_wait(tokens_, 0, deadline);
    } catch (...) {
      withdraw();
      throw;
    }
    if (!in_time) {
      withdraw();
      return;
    }
  }
}

void Waiters::wake_one_slow() noexcept {
  std::uint32_t w = waiting_.load(std::memory_order_seq_cst);
  while (w != 0) {
    if (waiting_.compare_exchange_weak(w, w - 1, std::memory_order_seq_cst)) {
      tokens_.fetch_add(1, std::memory_order_release);
      futex_wake(tokens_, 1);
      return;
    }
  }
}

void Waiters::wake_all_slow() noexcept {
  const std::uint32_t w = waiting_.exchange(0, std::memory_order_seq_cst);
  if (w != 0) {
    tokens_.fetch_add(w, std::memory_order_release);
    futex_wake(tokens_, INT_MAX);
  }
}

}  // namespace mpx::detail
