// Lock and RLock: one futex word holding the owner's tid (sync_state.hpp).
#include <algorithm>
#include <string>

#include "mpx/detail/futex.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

using detail::Deadline;
using detail::kPidMask;
using detail::kWaiters;
using detail::LockState;
using detail::SyncFlavor;

namespace {

[[noreturn]] void throw_flavored(SyncFlavor f, const char* process_msg, const char* thread_msg, bool assertion) {
  if (f == SyncFlavor::Thread) throw RuntimeError(thread_msg);
  if (assertion) throw AssertionError(process_msg);
  throw ValueError(process_msg);
}

enum class Got { Acquired, TookOver, TimedOut };

// The slow path: spin briefly, then sleep on the word in slices of
// kOwnerCheck; after each slice, take the lock over if its holder died.
// The spin only reads until the word looks free, and stops as soon as
// someone sleeps on it (kWaiters): then the holder will wake a sleeper, and
// a spinner would only steal the lock from it and bounce the line.
Got acquire_slow(LockState& st, std::uint32_t me, Deadline deadline) {
  bool got = false;
  // Reads back off exponentially (after 1, 2, 4 ... rounds): every read takes
  // the line from a holder that keeps re-acquiring, so reading every round
  // would slow the holder down to one cross-core miss per acquire.
  int round = 0, next_read = 1;
  detail::spin([&] {
    if (++round < next_read) return false;
    next_read = std::min(2 * next_read, 64 + round);
    std::uint32_t v = st.word.load(std::memory_order_relaxed);
    if (v & kWaiters) return true;  // go to sleep behind the sleepers
    got = v == 0 && st.word.compare_exchange_weak(v, me, std::memory_order_acquire, std::memory_order_relaxed);
    return got;
  });
  if (got) return Got::Acquired;
  for (;;) {
    std::uint32_t v = st.word.load(std::memory_order_relaxed);
    if (v == 0) {
      // Take it with the waiters bit: others may still sleep on the word.
      if (st.word.compare_exchange_weak(v, me | kWaiters, std::memory_order_acquire, std::memory_order_relaxed)) {
        return Got::Acquired;
      }
      continue;
    }
    if (!(v & kWaiters) &&
        !st.word.compare_exchange_weak(v, v | kWaiters, std::memory_order_relaxed, std::memory_order_relaxed)) {
      continue;
    }
    if (deadline.expired()) return Got::TimedOut;
    auto slice = Deadline::after(kOwnerCheck);
    bool final_slice = !deadline.is_never() && deadline.ns() <= slice.ns();
    bool woken = detail::futex_wait(st.word, v | kWaiters, final_slice ? deadline : slice);
    if (woken) continue;
    if (st.flavor == SyncFlavor::Process) {
      std::uint32_t holder = v & kPidMask;
      std::uint32_t cur = st.word.load(std::memory_order_relaxed);
      if ((cur & kPidMask) == holder && !detail::process_alive(holder)) {
        // Exactly one waiter wins this CAS; it now holds the lock.
        if (st.word.compare_exchange_strong(cur, me | kWaiters, std::memory_order_acquire, std::memory_order_relaxed)) {
          return Got::TookOver;
        }
      }
    }
  }
}

}  // namespace

Lock::Lock() : Lock(SyncFlavor::Process, false) {}

Lock::Lock(SyncFlavor flavor, bool recursive) : st_(detail::Shared<LockState>::make()) {
  st_->flavor = flavor;
  st_->recursive = recursive ? 1 : 0;
}

bool Lock::acquire_until(Deadline deadline) {
  LockState& st = *st_;
  const std::uint32_t me = detail::this_pid();
  const std::uint32_t tid = detail::this_tid();
  std::uint32_t seen = 0;
  Got got = Got::Acquired;
  // Re-entering an RLock the caller holds needs no atomic write: plain reads
  // of a line that may be shared with a spinning waiter cost nothing, a
  // failed compare-exchange would pull it back exclusive.
  if (st.recursive) {
    std::uint32_t v = st.word.load(std::memory_order_relaxed);
    if ((v & kPidMask) == me && st.owner_tid.load(std::memory_order_relaxed) == tid) {
      ++st.count;
      return true;
    }
  }
  if (!st.word.compare_exchange_strong(seen, me, std::memory_order_acquire, std::memory_order_relaxed)) {
    if (st.recursive && (seen & kPidMask) == me && st.owner_tid.load(std::memory_order_relaxed) == tid) {
      ++st.count;
      return true;
    }
    got = acquire_slow(st, me, deadline);
    if (got == Got::TimedOut) return false;
  }
  // We hold it: the holder's fields are ours to write.
  st.owner_tid.store(tid, std::memory_order_relaxed);
  st.count = 1;
  st.owner_died.store(got == Got::TookOver ? 1 : 0, std::memory_order_relaxed);
  return true;
}

void Lock::throw_bad_release() const {
  if (st_->recursive) {
    throw_flavored(st_->flavor, "attempt to release recursive lock not owned by thread",
                   "cannot release un-acquired lock", true);
  }
  throw_flavored(st_->flavor, "semaphore or lock released too many times", "release unlocked lock", false);
}

bool Lock::owned_by_caller() const noexcept {
  std::uint32_t v = st_->word.load(std::memory_order_relaxed);
  return v != 0 && (v & kPidMask) == detail::this_pid() &&
         st_->owner_tid.load(std::memory_order_relaxed) == detail::this_tid();
}

void Lock::check_timeout(bool negative) const {
  if (negative && st_->flavor == SyncFlavor::Thread) throw ValueError("timeout value must be a non-negative number");
}

bool Lock::locked() const noexcept { return st_->word.load(std::memory_order_relaxed) != 0; }

bool Lock::owner_died() const noexcept { return st_->owner_died.load(std::memory_order_relaxed) != 0; }

RLock::RLock() : Lock(SyncFlavor::Process, true) {}
RLock::RLock(SyncFlavor flavor) : Lock(flavor, true) {}

std::uint32_t RLock::count() const noexcept { return owned_by_caller() ? st_->count : 0; }

}  // namespace mpx
