// mpx/detail/word_lock.hpp — a mutex in one 32-bit futex word, for the data
// structures of one process (mpx::queue): spin briefly, then sleep.
//
//   word: 0 free · 1 held · 2 held, and someone may sleep on it
//
//   lock():   CAS 0→1; else spin within the thread's allowance (detail::spin),
//             then exchange(2) and futex_wait while the old value was not 0
//   unlock(): exchange(0); futex_wake one sleeper only if the word was 2
//
// Drepper's "Futexes Are Tricky" mutex 2, plus the adaptive spin every mpx
// wait uses. Why not std::mutex: glibc's default mutex sleeps at the first
// contention, and a sleeping hand-off costs ~20 µs on these VMs; queue
// critical sections last tens of nanoseconds, so a short spin almost always
// wins (DESIGN.md, "Platform facts"). Not robust, not recursive, not fair:
// a thread that unlocks and locks again usually keeps the lock, which is
// what batches a producer's puts and a consumer's gets.
#pragma once

#include <atomic>
#include <cstdint>

namespace mpx::detail {

class WordLock {
 public:
  WordLock() noexcept = default;
  WordLock(const WordLock&) = delete;
  WordLock& operator=(const WordLock&) = delete;

  void lock() {
    if (!try_lock()) lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t free = 0;
    return word_.compare_exchange_strong(free, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (word_.exchange(0, std::memory_order_release) == 2) wake_one();
  }

 private:
  void lock_contended();
  void wake_one() noexcept;

  std::atomic<std::uint32_t> word_{0};
};

}  // namespace mpx::detail
