// mpx/detail/count_lock.hpp — a lock and a count in one 64-bit word, for the
// two ends of mpx::queue: taking the lock reads the count, and releasing it
// can add one to the count in the same atomic instruction.
//
//   word_: count << 2 | contended << 1 | held
//
//   lock():           CAS held 0→1 (returns the count); else spin within the
//                     thread's allowance (detail::spin), then set `contended`
//                     and futex_wait; a thread woken takes the lock with
//                     `contended` set, for the sleepers it may not know of
//   unlock_advance(): CAS to (count + 1) << 2: held and contended cleared and
//                     the count advanced in one seq_cst instruction; then, if
//                     contended was set, futex_wake one
//   unlock():         fetch_and(~3): the same without the count
//   advance():        fetch_add(4): count+1 (held or not: its caller holds
//                     some lock that orders its advances)
//
// Drepper's "Futexes Are Tricky" mutex 2 with a count beside the state. A
// queue's put is one CAS to lock and one to unlock-and-count, on a line its
// side owns, where a separate lock and counter need three locked
// instructions. After the word is released nothing reads the lock's memory:
// only futex_wake passes its address to the kernel, so a thread that takes
// the lock at once and then destroys the object (join() then ~Queue) is safe.
//
// The futex is the word's low half (little-endian: the bits that change on
// every lock and unlock); futex_wait and futex_wake only hand its address
// to the kernel. Why not std::mutex: glibc's sleeps at the first contention,
// and a sleeping hand-off costs ~20 µs on these VMs, against critical
// sections of tens of nanoseconds. Not recursive, not fair (a thread that
// unlocks and locks again usually keeps it, which batches one side's
// operations), not robust: for the threads of one process.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

namespace mpx::detail {

class CountLock {
 public:
  CountLock() noexcept = default;
  CountLock(const CountLock&) = delete;
  CountLock& operator=(const CountLock&) = delete;

  /// Takes the lock and returns the count.
  std::uint64_t lock() {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    if ((w & kHeld) == 0 &&
        word_.compare_exchange_weak(w, w | kHeld, std::memory_order_acquire, std::memory_order_relaxed)) {
      return w >> kShift;
    }
    return lock_contended();
  }
  /// Releases the lock and adds one to the count, in one seq_cst instruction.
  void unlock_advance() noexcept {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    while (!word_.compare_exchange_weak(w, ((w >> kShift) + 1) << kShift, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
    }
    if ((w & kContended) != 0) wake();
  }
  /// Releases the lock.
  void unlock() noexcept {
    if ((word_.fetch_and(~(kHeld | kContended), std::memory_order_seq_cst) & kContended) != 0) wake();
  }
  /// Adds one to the count, held or not.
  void advance() noexcept { word_.fetch_add(std::uint64_t{1} << kShift, std::memory_order_seq_cst); }
  /// The count (the number of advances so far).
  std::uint64_t count(std::memory_order order = std::memory_order_acquire) const noexcept {
    return word_.load(order) >> kShift;
  }

 private:
  static constexpr std::uint64_t kHeld = 1;
  static constexpr std::uint64_t kContended = 2;
  static constexpr int kShift = 2;
  static_assert(std::endian::native == std::endian::little, "the futex is the low half of word_");

  std::uint64_t lock_contended();
  void wake() noexcept;  // futex_wake one on the low half: a system call, no memory access

  std::atomic<std::uint64_t> word_{0};
};

}  // namespace mpx::detail
