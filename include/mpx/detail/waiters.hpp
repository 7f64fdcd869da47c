// mpx/detail/waiters.hpp — threads waiting for a condition that others make
// true without a shared lock (an eventcount whose wake-ups are tokens).
//
//   waiter                                   waker
//   w.announce();                            state.store(x);      // seq_cst
//   if (ready()) w.withdraw();               w.wake_one();        // a system call only
//   else w.sleep(deadline);                                       // if someone sleeps
//   // look again
//
//   waiting_  threads announced and not yet handed a token
//   tokens_   the futex word: wake-ups handed out and not yet taken
//
// A waker turns one announced waiter into one token (CAS waiting_ down,
// tokens_ up, futex_wake one), so the second and later wakes before that
// waiter runs cost a load, not a system call: a producer never pays a
// syscall per item while its consumer takes ~20 µs to wake up. Waiters are
// interchangeable: whoever takes a token, every announced waiter ends by
// taking one or by withdrawing its announcement, never both.
//
// Nothing is lost between ready() and sleep(): the waiter announces before
// it looks (seq_cst), the waker changes the state before it looks for
// waiters (seq_cst), so either the waiter's look sees the change or the
// waker sees the announcement and hands out a token, which sleep() takes
// even if it arrived before sleep() began. Spurious returns are allowed:
// callers look again, as with a condition variable.
#pragma once

#include <atomic>
#include <cstdint>

#include "mpx/detail/deadline.hpp"

namespace mpx::detail {

class Waiters {
 public:
  Waiters() noexcept = default;
  Waiters(const Waiters&) = delete;
  Waiters& operator=(const Waiters&) = delete;

  /// Waiter, step 1: announce, then look at the condition.
  void announce() noexcept { waiting_.fetch_add(1, std::memory_order_seq_cst); }
  /// Waiter, step 2 if the condition held: take the announcement back (or,
  /// if a waker already turned it into a token, take that token).
  void withdraw() noexcept;
  /// Waiter, step 2 otherwise: sleep until handed a token or the deadline
  /// passes (then withdraw). If the futex call fails, withdraws and throws.
  void sleep(Deadline deadline);

  /// Waker, after changing the state: wakes one announced waiter, if any.
  void wake_one() noexcept {
    if (waiting_.load(std::memory_order_seq_cst) != 0) wake_one_slow();
  }
  /// Wakes every announced waiter.
  void wake_all() noexcept {
    if (waiting_.load(std::memory_order_seq_cst) != 0) wake_all_slow();
  }

 private:
  void wake_one_slow() noexcept;
  void wake_all_slow() noexcept;
  bool cancel() noexcept;      // waiting_ -= 1 unless already 0
  void take_token() noexcept;  // waits (no deadline: one is on its way) and takes one

  std::atomic<std::uint32_t> waiting_{0};
  std::atomic<std::uint32_t> tokens_{0};
};

}  // namespace mpx::detail
