// Event and Condition: waits on a shared futex word; Condition keeps a slot
// per waiter (ticket order) so notify(n) wakes the n oldest, and so the
// notification of a waiter that died is passed on.
#include <algorithm>
#include <climits>

#include "mpx/detail/futex.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

using detail::ConditionState;
using detail::Deadline;
using detail::kWaiterSlots;
using detail::SyncFlavor;

namespace {

constexpr std::uint32_t kFree = 0, kWaiting = 1, kNotified = 2;

// Marks the oldest waiting slot notified. Returns false if none waits.
bool notify_oldest(ConditionState& st) {
  for (;;) {
    int best = -1;
    std::uint64_t best_ticket = UINT64_MAX;
    for (int i = 0; i < kWaiterSlots; ++i) {
      if (st.slot_state[i].load(std::memory_order_acquire) == kWaiting) {
        auto t = st.slot_ticket[i].load(std::memory_order_relaxed);
        if (t < best_ticket) best_ticket = t, best = i;
      }
    }
    if (best < 0) return false;
    std::uint32_t expected = kWaiting;
    // Fails only if that waiter timed out meanwhile: pick again.
    if (st.slot_state[best].compare_exchange_strong(expected, kNotified, std::memory_order_acq_rel)) return true;
  }
}

void wake_waiters(ConditionState& st) {
  st.seq.fetch_add(1, std::memory_order_release);
  detail::futex_wake(st.seq);
}

// Frees the slots of waiters that died; a notification one of them had not
// consumed goes to the oldest live waiter.
void reap_dead_waiters(ConditionState& st) {
  bool pass_on = false;
  for (int i = 0; i < kWaiterSlots; ++i) {
    std::uint32_t s = st.slot_state[i].load(std::memory_order_acquire);
    if (s == kFree) continue;
    std::uint32_t pid = st.slot_pid[i].load(std::memory_order_relaxed);
    if (pid != 0 && !detail::process_alive(pid) && st.slot_state[i].compare_exchange_strong(s, kFree)) {
      pass_on |= s == kNotified;
    }
  }
  if (pass_on && notify_oldest(st)) wake_waiters(st);
}

}  // namespace

// ---- Event -------------------------------------------------------------------

Event::Event() : st_(detail::Shared<detail::EventState>::make()) {}

bool Event::is_set() const noexcept { return (st_->word.load(std::memory_order_acquire) & 1) != 0; }

void Event::set() {
  auto& w = st_->word;
  std::uint32_t v = w.load(std::memory_order_relaxed);
  do {
    if (v & 1) return;  // already set: nothing changes, nobody to wake
  } while (!w.compare_exchange_weak(v, (v + 2) | 1, std::memory_order_seq_cst, std::memory_order_relaxed));
  if (st_->waiters.load(std::memory_order_seq_cst) > 0) detail::futex_wake(w);
}

void Event::clear() { st_->word.fetch_and(~std::uint32_t{1}, std::memory_order_release); }

bool Event::wait_until(Deadline deadline) {
  std::uint32_t start = st_->word.load(std::memory_order_acquire);
  if (start & 1) return true;
  // Done when the flag is up, or when a set() happened since we started
  // (the set count moved), even if a clear() came right after it.
  auto done = [start](std::uint32_t v) { return (v & 1) != 0 || (v >> 1) != (start >> 1); };
  std::uint32_t seen = start;
  // Spin before counting ourselves a waiter: set() makes no futex_wake call
  // for a waiter that is only spinning.
  if (detail::spin([&] { return done(seen = st_->word.load(std::memory_order_acquire)); })) return true;
  st_->waiters.fetch_add(1, std::memory_order_seq_cst);
  // Re-read after counting ourselves: a set() that saw no waiter woke nobody.
  bool set = detail::sleep_until(st_->word, done, st_->word.load(std::memory_order_seq_cst), deadline);
  st_->waiters.fetch_sub(1, std::memory_order_relaxed);
  return set;
}

// ---- Condition ---------------------------------------------------------------

Condition::Condition() : Condition(RLock(), SyncFlavor::Process) {}
Condition::Condition(const Lock& lock) : Condition(lock, lock.st_->flavor) {}
Condition::Condition(const Lock& lock, SyncFlavor flavor)
    : lock_(lock), st_(detail::Shared<ConditionState>::make()), flavor_(flavor) {}

void Condition::release() { lock_.release(); }

void Condition::check_owned(const char* what) const {
  if (lock_.owned_by_caller()) return;
  if (flavor_ == SyncFlavor::Thread) throw RuntimeError(std::string("cannot ") + what + " on un-acquired lock");
  throw AssertionError(std::string("must acquire() condition before using ") + what + "()");
}

bool Condition::wait_until(Deadline deadline) {
  check_owned("wait");
  ConditionState& st = *st_;
  const std::uint32_t me = detail::this_pid();
  int slot = -1;
  for (int i = 0; i < kWaiterSlots && slot < 0; ++i) {
    std::uint32_t expected = kFree;
    if (st.slot_state[i].load(std::memory_order_relaxed) == kFree) {
      st.slot_ticket[i].store(st.next_ticket++, std::memory_order_relaxed);
      st.slot_pid[i].store(me, std::memory_order_relaxed);
      if (st.slot_state[i].compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel)) slot = i;
    }
  }
  std::uint32_t seen = st.seq.load(std::memory_order_acquire);
  // Release the lock completely (an RLock may be held several levels deep).
  auto& ls = *lock_.st_;
  std::uint32_t depth = ls.recursive ? ls.count : 1;
  ls.count = 1;
  lock_.release();

  bool notified = false;
  auto check = kOwnerCheck;
  for (;;) {
    if (slot >= 0 ? st.slot_state[slot].load(std::memory_order_acquire) == kNotified
                  : st.seq.load(std::memory_order_acquire) != seen) {
      notified = true;
      break;
    }
    if (deadline.expired()) break;
    auto slice = Deadline::after(check);
    bool final_slice = !deadline.is_never() && deadline.ns() <= slice.ns();
    std::uint32_t now = st.seq.load(std::memory_order_acquire);
    if (slot >= 0) seen = now;
    if (!detail::futex_wait(st.seq, now, final_slice ? deadline : slice) && flavor_ == SyncFlavor::Process) {
      reap_dead_waiters(st);
      check = std::min(check * 2, std::chrono::milliseconds(160));  // many waiters: look less often
    }
  }
  if (slot >= 0) {
    std::uint32_t expected = kWaiting;
    if (!notified && !st.slot_state[slot].compare_exchange_strong(expected, kFree)) notified = true;  // raced a notify
    st.slot_pid[slot].store(0, std::memory_order_relaxed);
    st.slot_state[slot].store(kFree, std::memory_order_release);
  }
  lock_.acquire();
  ls.count = depth;
  return notified;
}

void Condition::notify(std::uint32_t n) {
  check_owned("notify");
  bool any = false;
  for (std::uint32_t i = 0; i < n && notify_oldest(*st_); ++i) any = true;
  if (any) wake_waiters(*st_);
}

void Condition::notify_all() {
  check_owned("notify");
  for (int i = 0; i < kWaiterSlots; ++i) {
    std::uint32_t expected = kWaiting;
    st_->slot_state[i].compare_exchange_strong(expected, kNotified, std::memory_order_acq_rel);
  }
  wake_waiters(*st_);  // also wakes untracked waiters (more than kWaiterSlots)
}

}  // namespace mpx
