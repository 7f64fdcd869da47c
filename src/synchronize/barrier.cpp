// Barrier: Python's threading.Barrier algorithm (which multiprocessing reuses
// over shared state) on an mpx Condition, plus one thing Python lacks: a
// party that dies inside wait() breaks the barrier instead of wedging it.
#include <algorithm>
#include <mutex>

#include "mpx/synchronize.hpp"

namespace mpx {

using detail::BarrierState;
using detail::Deadline;
using detail::kWaiterSlots;

namespace {
constexpr std::int32_t kFilling = 0, kDraining = 1, kResetting = -1, kBroken = -2;
}

Barrier::Barrier(int parties, std::function<void()> action, std::optional<std::chrono::duration<double>> timeout)
    : action_(std::move(action)) {
  if (parties < 1) throw ValueError("parties must be > 0");
  st_ = detail::Shared<BarrierState>::make();
  st_->parties = static_cast<std::uint32_t>(parties);
  if (timeout) st_->default_timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout).count();
}

std::uint32_t Barrier::wait() {
  auto d = st_->default_timeout_ns >= 0 ? Deadline::after(std::chrono::nanoseconds(st_->default_timeout_ns))
                                        : Deadline::never();
  return wait_until(d);
}

std::uint32_t Barrier::wait_until(Deadline deadline) {
  std::scoped_lock hold(cond_);
  BarrierState& st = *st_;
  // Block while the barrier drains or resets (Python's _enter).
  while (st.state == kDraining || st.state == kResetting) cond_.wait_until(Deadline::after(kOwnerCheck));
  if (st.state < 0) throw BrokenBarrierError("the barrier is broken");
  std::uint32_t index = st.count.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t me = detail::this_pid();
  if (index < static_cast<std::uint32_t>(kWaiterSlots)) st.party_pid[index] = me;
  struct Leave {  // Python's finally: count -= 1; _exit()
    Barrier& b;
    ~Leave() { b.leave(); }
  } leave{*this};
  if (index + 1 == st.parties) {
    try {
      if (action_) action_();
      st.state = kDraining;
      cond_.notify_all();
    } catch (...) {
      break_barrier();
      throw;
    }
    return index;
  }
  if (!wait_draining(deadline)) {
    break_barrier();
    throw BrokenBarrierError("the barrier is broken");
  }
  if (st.state < 0) throw BrokenBarrierError("the barrier is broken");
  return index;
}

// Waits (lock held, released while asleep) until the barrier drains. Looks
// for dead parties between slices. Returns false on timeout.
bool Barrier::wait_draining(Deadline deadline) {
  BarrierState& st = *st_;
  while (st.state == kFilling) {
    if (deadline.expired()) return false;
    auto slice = Deadline::after(kOwnerCheck);
    cond_.wait_until(!deadline.is_never() && deadline.ns() < slice.ns() ? deadline : slice);
    if (st.state != kFilling) break;
    std::uint32_t live = std::min<std::uint32_t>(st.count, kWaiterSlots);
    for (std::uint32_t i = 0; i < live; ++i) {
      if (st.party_pid[i] != 0 && !detail::process_alive(st.party_pid[i])) {
        // A party died waiting: its count can never come back. Break, as an
        // abort would, and forget it so reset() can drain.
        st.party_pid[i] = 0;
        st.count.fetch_sub(1, std::memory_order_relaxed);
        break_barrier();
        return true;
      }
    }
  }
  return true;
}

void Barrier::leave() {
  BarrierState& st = *st_;
  st.count.fetch_sub(1, std::memory_order_relaxed);
  // Forget one entry of our process (threads of one process share a pid).
  std::uint32_t me = detail::this_pid();
  for (auto& t : st.party_pid) {
    if (t == me) {
      t = 0;
      break;
    }
  }
  if (st.count == 0 && (st.state == kResetting || st.state == kDraining)) {
    st.state = kFilling;
    cond_.notify_all();
  }
}

void Barrier::break_barrier() {
  st_->state = kBroken;
  cond_.notify_all();
}

void Barrier::reset() {
  std::scoped_lock hold(cond_);
  BarrierState& st = *st_;
  if (st.count > 0) {
    if (st.state == kFilling || st.state == kBroken) st.state = kResetting;
  } else {
    st.state = kFilling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::scoped_lock hold(cond_);
  break_barrier();
}

std::uint32_t Barrier::parties() const noexcept { return st_->parties; }

std::uint32_t Barrier::n_waiting() const {
  // Python reads these without the lock too; a snapshot.
  return st_->state.load() == kFilling ? st_->count.load() : 0u;
}

bool Barrier::broken() const { return st_->state == kBroken; }

}  // namespace mpx
