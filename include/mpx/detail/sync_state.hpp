// mpx/detail/sync_state.hpp — the shared-memory layout of the synchronization
// primitives, and the owner bookkeeping that makes them survive kill -9.
//
// Lock / RLock (one 32-bit futex word, the holder's process inside it):
//
//     word = 0                       free
//     word = pid                     held by a thread of process `pid`
//     word = pid | kWaiters          held, and someone sleeps on the word
//     owner_tid                      which thread of `pid` (RLock, Condition)
//
//   acquire: CAS 0 → pid, then owner_tid = tid. Else set kWaiters and
//   futex-wait on the word, in slices; after a slice, if the holder's process
//   is gone (kill -9, a crash, an exit), CAS the word from the dead pid to our
//   own: exactly one waiter takes the lock over and is told owner_died().
//   A thread that ends holding a lock is not "dead" (its process lives on and
//   Python lets another thread release it).
//   release: owner_tid = 0, exchange word → 0; if kWaiters was set, wake one.
//
// Semaphore: `value` is the futex word; the pids of up to kHolderSlots
// holders are kept beside it, so a waiter can give back the slots of holders
// whose process died. Event: a flag word. Condition: a notify sequence word plus
// waiter slots (ticket order, so notify(n) wakes the n oldest).
#pragma once

#include <atomic>
#include <cstdint>

namespace mpx::detail {

/// Errors are raised as multiprocessing raises them, or as threading does.
enum class SyncFlavor : std::uint32_t { Process, Thread };

inline constexpr std::uint32_t kWaiters = 0x80000000u;
inline constexpr std::uint32_t kPidMask = 0x3fffffffu;
inline constexpr int kHolderSlots = 32;
inline constexpr int kWaiterSlots = 64;

struct LockState {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> owner_tid{0};   // the holding thread; written by the holder
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
  std::atomic<std::uint32_t> recovered{0};  // the last acquire got a dead holder's slot
  std::atomic<std::uint32_t> holders[kHolderSlots] = {};
};

// Event: bit 0 is the flag; the bits above count set() calls, so a waiter
// that was asleep when set() ran returns true even if clear() came right
// after (Python's guarantee).
struct EventState {
  std::atomic<std::uint32_t> word{0};
  std::atomic<std::uint32_t> waiters{0};
};

struct ConditionState {
  std::atomic<std::uint32_t> seq{0};  // bumped by every notify; waiters sleep on it
  std::uint64_t next_ticket = 0;      // guarded by the condition's lock
  // Per waiter: state (0 free, 1 waiting, 2 notified), ticket and tid.
  std::atomic<std::uint32_t> slot_state[kWaiterSlots] = {};
  std::atomic<std::uint64_t> slot_ticket[kWaiterSlots] = {};
  std::atomic<std::uint32_t> slot_pid[kWaiterSlots] = {};
};

// Written under the barrier's condition lock; atomics because parties(),
// n_waiting() and broken() read them without it.
struct BarrierState {
  std::uint32_t parties = 0;
  std::atomic<std::int32_t> state{0};  // 0 filling, 1 draining, -1 resetting, -2 broken (Python's values)
  std::atomic<std::uint32_t> count{0};
  std::int64_t default_timeout_ns = -1;        // < 0: none
  std::uint32_t party_pid[kWaiterSlots] = {};  // who is inside wait(), to notice the dead
};

// The caches behind this_tid() and this_pid() (thread_id.cpp); 0 = not yet
// known. Inline, because every lock operation asks. initial-exec: mpx is
// built position-independent, and the default TLS model for that costs a
// __tls_get_addr call per read; mpx is never dlopen()ed late.
extern constinit __attribute__((tls_model("initial-exec"))) thread_local std::uint32_t t_this_tid;
extern constinit std::atomic<std::uint32_t> g_this_pid;
std::uint32_t this_tid_slow() noexcept;
std::uint32_t this_pid_slow() noexcept;

/// This thread's kernel thread id (cached; refreshed in a fork child).
inline std::uint32_t this_tid() noexcept {
  std::uint32_t tid = t_this_tid;
  return tid != 0 ? tid : this_tid_slow();
}
/// This process's id (cached; refreshed in a fork child).
inline std::uint32_t this_pid() noexcept {
  std::uint32_t pid = g_this_pid.load(std::memory_order_relaxed);
  return pid != 0 ? pid : this_pid_slow();
}
/// Whether process `pid` still runs: false once it exited or was killed
/// (a zombie counts as dead). A slow call (reads /proc): for slow paths only.
bool process_alive(std::uint32_t pid) noexcept;

}  // namespace mpx::detail
