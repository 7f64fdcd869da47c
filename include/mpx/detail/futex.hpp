// mpx/detail/futex.hpp — the one way mpx waits: on a 32-bit word in memory
// that other threads or processes change.
//
//   std::atomic<uint32_t>& ready = ...;               // in shared memory
//   // waiter                                         // waker
//   wait_until(ready, [](uint32_t v) { return v; },   ready.store(1);
//              Deadline::after(1s));                  futex_wake(ready);
//
// The word may live in a MAP_SHARED mapping (never FUTEX_PRIVATE_FLAG), so a
// waker in another process reaches the waiter. wait_until() spins a bounded
// number of rounds first: a sleeping hand-off costs ~20 µs on these VMs and a
// spin ~0.1 µs, but spinning only pays while spinners do not outnumber cores,
// so the spin is capped and skipped on one core.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "mpx/detail/deadline.hpp"

namespace mpx::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == 4 && std::atomic<std::uint32_t>::is_always_lock_free,
              "futex words must be plain 32-bit words");

/// Sleeps while `word` holds `expected`, until woken, the deadline passes or a
/// signal arrives. Returns false only on timeout; true means "look again"
/// (woken, value already changed, or interrupted): callers loop on their predicate.
bool futex_wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline);

/// Wakes up to `count` waiters sleeping on `word`. Returns how many woke.
int futex_wake(const std::atomic<std::uint32_t>& word, int count = INT_MAX) noexcept;

/// Spin rounds worth trying before sleeping on this machine (0 on one core).
int spin_budget() noexcept;

/// One CPU relax hint inside a spin loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// Waits until `done(word.load())` is true or the deadline passes: spins a
/// bounded number of rounds, then sleeps on the futex. Returns whether `done`
/// became true. The waker must change the word before calling futex_wake.
template <class Done>
bool wait_until(const std::atomic<std::uint32_t>& word, Done done, Deadline deadline) {
  std::uint32_t v = word.load(std::memory_order_acquire);
  if (done(v)) return true;
  for (int i = spin_budget(); i > 0; --i) {
    cpu_relax();
    v = word.load(std::memory_order_acquire);
    if (done(v)) return true;
  }
  for (;;) {
    if (!futex_wait(word, v, deadline)) {
      return done(word.load(std::memory_order_acquire));
    }
    v = word.load(std::memory_order_acquire);
    if (done(v)) return true;
  }
}

}  // namespace mpx::detail
