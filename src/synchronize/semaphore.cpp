// Semaphore and BoundedSemaphore: a counted futex word, plus the pids of its
// holders so that the slots of a holder killed by SIGKILL come back.
#include "mpx/detail/futex.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

using detail::Deadline;
using detail::SemaphoreState;
using detail::SyncFlavor;

namespace {

bool try_take(SemaphoreState& st) {
  std::uint32_t v = st.value.load(std::memory_order_relaxed);
  while (v > 0) {
    if (st.value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  }
  return false;
}

// Holders are tracked best-effort: with more than kHolderSlots at once, the
// extra ones are not (and their slots are not recovered if they die).
void record_holder(SemaphoreState& st, std::uint32_t me) {
  for (auto& h : st.holders) {
    std::uint32_t expected = 0;
    if (h.load(std::memory_order_relaxed) == 0 && h.compare_exchange_strong(expected, me, std::memory_order_relaxed)) {
      return;
    }
  }
}

// Python lets any thread or process release; prefer the caller's own record.
// (Records are per process: a thread that ends holding a slot keeps it, as
// in Python; only a process that dies gives its slots back.)
void forget_holder(SemaphoreState& st, std::uint32_t me) {
  for (auto& h : st.holders) {
    std::uint32_t expected = me;
    if (h.compare_exchange_strong(expected, 0, std::memory_order_relaxed)) return;
  }
  for (auto& h : st.holders) {
    std::uint32_t v = h.load(std::memory_order_relaxed);
    if (v != 0 && h.compare_exchange_strong(v, 0, std::memory_order_relaxed)) return;
  }
}

// Gives back the slots of holders that died. Returns how many.
std::uint32_t recover_dead_holders(SemaphoreState& st) {
  std::uint32_t recovered = 0;
  for (auto& h : st.holders) {
    std::uint32_t t = h.load(std::memory_order_relaxed);
    if (t != 0 && !detail::process_alive(t) && h.compare_exchange_strong(t, 0, std::memory_order_relaxed)) {
      st.value.fetch_add(1, std::memory_order_release);
      ++recovered;
    }
  }
  if (recovered) detail::futex_wake(st.value, static_cast<int>(recovered));
  return recovered;
}

}  // namespace

Semaphore::Semaphore(int value) : Semaphore(value, 0, false, SyncFlavor::Process) {}

Semaphore::Semaphore(int value, std::uint32_t maxvalue, bool bounded, SyncFlavor flavor) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  st_ = detail::Shared<SemaphoreState>::make();
  st_->value.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  st_->maxvalue = maxvalue;
  st_->bounded = bounded ? 1 : 0;
  st_->flavor = flavor;
}

bool Semaphore::acquire(bool block) { return acquire_until(block ? Deadline::never() : Deadline::now()); }

bool Semaphore::acquire_until(Deadline deadline) {
  SemaphoreState& st = *st_;
  const std::uint32_t me = detail::this_pid();
  bool recovered = false;
  for (bool first = true;; first = false) {
    if (first ? detail::spin([&] { return try_take(st); }) : try_take(st)) {
      record_holder(st, me);
      st.recovered.store(recovered ? 1 : 0, std::memory_order_relaxed);
      return true;
    }
    if (deadline.expired()) return false;
    auto slice = Deadline::after(kOwnerCheck);
    bool final_slice = !deadline.is_never() && deadline.ns() <= slice.ns();
    st.waiters.fetch_add(1, std::memory_order_seq_cst);
    bool woken = detail::futex_wait(st.value, 0, final_slice ? deadline : slice);
    st.waiters.fetch_sub(1, std::memory_order_relaxed);
    if (!woken && st.flavor == SyncFlavor::Process && recover_dead_holders(st) > 0) recovered = true;
  }
}

void Semaphore::release(std::uint32_t n) {
  SemaphoreState& st = *st_;
  if (st.bounded) {
    std::uint32_t v = st.value.load(std::memory_order_relaxed);
    do {
      if (v + n > st.maxvalue) {
        throw ValueError(st.flavor == SyncFlavor::Thread ? "Semaphore released too many times"
                                                         : "semaphore or lock released too many times");
      }
    } while (!st.value.compare_exchange_weak(v, v + n, std::memory_order_seq_cst, std::memory_order_relaxed));
  } else {
    st.value.fetch_add(n, std::memory_order_seq_cst);
  }
  const std::uint32_t me = detail::this_pid();
  for (std::uint32_t i = 0; i < n; ++i) forget_holder(st, me);
  if (st.waiters.load(std::memory_order_seq_cst) > 0) detail::futex_wake(st.value, static_cast<int>(n));
}

bool Semaphore::owner_died() const noexcept { return st_->recovered.load(std::memory_order_relaxed) != 0; }

std::uint32_t Semaphore::get_value() const noexcept { return st_->value.load(std::memory_order_relaxed); }

BoundedSemaphore::BoundedSemaphore(int value)
    : Semaphore(value, static_cast<std::uint32_t>(value), true, SyncFlavor::Process) {}
BoundedSemaphore::BoundedSemaphore(int value, SyncFlavor flavor)
    : Semaphore(value, static_cast<std::uint32_t>(value), true, flavor) {}

}  // namespace mpx
