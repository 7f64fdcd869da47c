// mpx/detail/sync_state.hpp — the shared-memory layout of the synchronization
// primitives, and the owner bookkeeping that makes them survive kill -9.
//
// Lock / RLock (one 32-bit futex word, owner inside it):
//
//     word = 0                       free
//     word = tid                     held by thread `tid` (of any process)
//     word = tid | kWaiters          held, and someone sleeps on the word
//
//   acquire: CAS 0 → tid. Else set kWaiters and futex-wait on the word, in
//   slices; after a slice, if the holder's thread is gone (kill -9, or its
//   process exited), CAS the word from the dead tid to our own: exactly one
//   waiter takes the lock over and is told owner_died().
//   release: exchange → 0; if kWaiters was set, wake one.
//
// Semaphore: `value` is the futex word; the tids of up to kHolderSlots
// holders are kept beside it, so a waiter can give back the slots of holders
// that died. Event: a flag word. Condition: a notify sequence word plus
// waiter slots (ticket order, so notify(n) wakes the n oldest).
#pragma once

#include <atomic>
#include <cstdint>

namespace mpx::detail {

/// Errors are raised as multiprocessing raises them, or as threading does.
enum class SyncFlavor : std::uint32_t { Process, Thread };

inline constexpr std::uint32_t kWaiters = 0x80000000u;
inline constexpr std::uint32_t kTidMask = 0x3fffffffu;
inline constexpr int kHolderSlots = 32;
inline constexpr int kWaiterSlots = 64;

struct LockState {
  std::atomic<std::uint32_t> word{0};
  std::uint32_t count = 0;                   // RLock depth; touched only by the holder
  std::atomic<std::uint32_t> owner_died{0};  // the current holding was taken from a dead holder
  SyncFlavor flavor = SyncFlavor::Process;
  std::uint32_t recursive = 0;
};

struct SemaphoreState {
  std::atomic<std::uint32_t> value{0};
  std::atomic<std::uint32_t> waiters{0};
  std::uint32_t maxvalue = 0;
  std::uint32_t bounded = 0;
  SyncFlavor flavor = SyncFlavor::Process;
  std::atomic<std::uint32_t> holders[kHolderSlots] = {};
};

struct EventState {
  std::atomic<std::uint32_t> flag{0};
  std::atomic<std::uint32_t> waiters{0};
};

struct ConditionState {
  std::atomic<std::uint32_t> seq{0};  // bumped by every notify; waiters sleep on it
  std::uint64_t next_ticket = 0;      // guarded by the condition's lock
  // Per waiter: state (0 free, 1 waiting, 2 notified), ticket and tid.
  std::atomic<std::uint32_t> slot_state[kWaiterSlots] = {};
  std::atomic<std::uint64_t> slot_ticket[kWaiterSlots] = {};
  std::atomic<std::uint32_t> slot_tid[kWaiterSlots] = {};
};

// Guarded by the barrier's condition lock.
struct BarrierState {
  std::uint32_t parties = 0;
  std::int32_t state = 0;  // 0 filling, 1 draining, -1 resetting, -2 broken (Python's values)
  std::uint32_t count = 0;
  std::int64_t default_timeout_ns = -1;        // < 0: none
  std::uint32_t party_tid[kWaiterSlots] = {};  // who is inside wait(), to notice the dead
};

/// This thread's kernel thread id (cached; refreshed in a fork child).
std::uint32_t this_tid() noexcept;
/// Whether thread `tid` still runs: false once it exited, or its process
/// died (zombie included). A slow call (reads /proc): for slow paths only.
bool tid_alive(std::uint32_t tid) noexcept;

}  // namespace mpx::detail
