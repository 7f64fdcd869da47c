// mpx::queue's compiled part: the throws (one place, so the queue templates
// stay small) and the slow paths of detail::CountLock and detail::Waiters.
#include "mpx/queue.hpp"

#include <climits>

#include "mpx/detail/count_lock.hpp"
#include "mpx/detail/futex.hpp"
#include "mpx/detail/waiters.hpp"
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

namespace {
// The low half of CountLock's word as the futex word. futex_wait and
// futex_wake pass only its address (and a value) to the kernel.
const std::atomic<std::uint32_t>& low_half(const std::atomic<std::uint64_t>& word) noexcept {
  return *reinterpret_cast<const std::atomic<std::uint32_t>*>(&word);
}
}  // namespace

std::uint64_t CountLock::lock_contended() {
  std::uint64_t w = 0;
  auto take = [&] {
    w = word_.load(std::memory_order_relaxed);
    return (w & kHeld) == 0 && word_.compare_exchange_strong(w, w | kHeld, std::memory_order_acquire);
  };
  if (spin(take)) return w >> kShift;
  // Drepper's mutex 2: from now on this thread takes the lock marked
  // contended, so its unlock wakes whoever else went to sleep meanwhile.
  w = word_.load(std::memory_order_relaxed);
  for (;;) {
    if ((w & kHeld) == 0) {
      if (word_.compare_exchange_weak(w, w | kHeld | kContended, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return w >> kShift;
      }
      continue;
    }
    if ((w & kContended) == 0 &&
        !word_.compare_exchange_weak(w, w | kContended, std::memory_order_relaxed, std::memory_order_relaxed)) {
      continue;
    }
    // Sleeps while the low half still reads "held, contended" with this
    // count; an unlock (or an advance) changes it.
    futex_wait(low_half(word_), static_cast<std::uint32_t>(w | kContended), Deadline::never());
    w = word_.load(std::memory_order_relaxed);
  }
}

void CountLock::wake() noexcept { futex_wake(low_half(word_), 1); }

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
