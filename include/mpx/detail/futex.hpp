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

/// One CPU relax hint inside a spin loop.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// The calling thread's spin allowance, in rounds, before it should sleep
/// (0 on one CPU). Adaptive: spin_lost() halves it down to a few rounds,
/// spin_won() restores the cap of a few microseconds, and every 16th call
/// below the cap probes with the whole cap. When the machine is busy (the
/// thread being waited for is not running) spins keep losing and cost little;
/// when it is idle they win, and a hand-off takes ~0.2 µs instead of a
/// futex sleep and wake (5-20 µs here).
int spin_allowance() noexcept;
void spin_won() noexcept;
void spin_lost() noexcept;

/// Calls `attempt()` (which must not block) once, then again after each spin
/// round, within the allowance. Returns whether an attempt succeeded.
template <class Attempt>
bool spin(Attempt attempt) {
  if (attempt()) return true;
  const int rounds = spin_allowance();
  for (int i = 0; i < rounds; ++i) {
    cpu_relax();
    if (attempt()) {
      spin_won();
      return true;
    }
  }
  if (rounds > 0) spin_lost();
  return false;
}

/// Sleeps until `done(word.load())` is true or the deadline passes, without
/// spinning. `seen` is the word's value the caller last looked at (so a
/// change since then is not slept through). Returns whether `done` became true.
template <class Done>
bool sleep_until(const std::atomic<std::uint32_t>& word, Done done, std::uint32_t seen, Deadline deadline) {
  for (;;) {
    if (done(seen)) return true;
    if (!futex_wait(word, seen, deadline)) return done(word.load(std::memory_order_acquire));
    seen = word.load(std::memory_order_acquire);
  }
}

/// Waits until `done(word.load())` is true or the deadline passes: spins
/// within the allowance, then sleeps on the futex. Returns whether `done`
/// became true. The waker must change the word before calling futex_wake.
template <class Done>
bool wait_until(const std::atomic<std::uint32_t>& word, Done done, Deadline deadline) {
  std::uint32_t seen = 0;
  if (spin([&] { return done(seen = word.load(std::memory_order_acquire)); })) return true;
  return sleep_until(word, done, seen, deadline);
}

}  // namespace mpx::detail
