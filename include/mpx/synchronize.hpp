// mpx/synchronize.hpp — multiprocessing's Lock, RLock, Semaphore,
// BoundedSemaphore, Condition, Event and Barrier, in shared memory.
//
//   mpx::Lock lock;                                  // made before the fork ...
//   mpx::Process p([&] {
//     std::scoped_lock hold(lock);                   // ... used in the child
//     buy_ticket();
//   });
//   p.start();
//   if (lock.acquire(2s)) { ...; lock.release(); }   // acquire(timeout=2) -> bool
//   p.join();
//
// Every primitive lives in mpx's shared arena, so fork children share it
// (capture it by reference or copy the handle: copies share one primitive).
// Timeouts follow Python: acquire(timeout) and wait(timeout) return bool; a
// negative timeout means "do not wait". Lock and RLock are C++ Lockables
// (lock/unlock/try_lock/try_lock_for), so std::scoped_lock and
// std::unique_lock work.
//
// Beyond Python — a process killed (SIGKILL) while holding a Lock, an RLock,
// a Semaphore slot or a Condition's lock does not deadlock the others: the
// next acquirer gets it within a few milliseconds (waiters look at the
// holder every kOwnerCheck), and its owner_died() is true until the next
// acquire, so it can repair the data the lock guarded. A process killed while
// waiting in a Condition or a Barrier leaves them usable: a Condition passes
// the dead waiter's notification on; a Barrier breaks (BrokenBarrierError for
// the others, as for an abort) and reset() makes it usable again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/futex.hpp"
#include "mpx/detail/shared_object.hpp"
#include "mpx/detail/sync_state.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/errors.hpp"

namespace mpx {

/// How long a waiter sleeps before it looks whether the holder still lives.
inline constexpr std::chrono::milliseconds kOwnerCheck{10};

class Condition;

/// Python: multiprocessing.Lock — a non-recursive lock any process or thread
/// may release (as in Python, release need not come from the acquirer).
class Lock {
 public:
  Lock();

  /// Python: acquire(block=True, timeout=None). Returns whether it was acquired.
  /// Blocks: until acquired if `block`; never otherwise.
  bool acquire(bool block = true) {
    return acquire_fast() || acquire_until(block ? detail::Deadline::never() : detail::Deadline::now());
  }
  /// Python: acquire(timeout=t). A negative timeout does not wait
  /// (threading flavour: ValueError, as threading raises).
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    check_timeout(timeout < timeout.zero());
    return acquire_until(detail::Deadline::after(timeout));
  }
  /// Python: release(). On an RLock, undoes one level of the owner's acquire.
  /// Throws: ValueError("semaphore or lock released too many times") if not
  ///   locked (threading: RuntimeError("release unlocked lock")).
  void release() {
    if (!release_fast()) throw_bad_release();
  }

  /// Whether some thread of some process holds it. Python: threading.Lock.locked().
  bool locked() const noexcept;
  /// Whether the calling thread holds it (Python's RLock._is_owned()).
  bool owned_by_caller() const noexcept;
  /// True when the current holding was taken over from a holder that died
  /// holding it (beyond Python). Reset by the next acquire.
  bool owner_died() const noexcept;

  // C++ Lockable.
  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return acquire(timeout);
  }

  bool acquire_until(detail::Deadline deadline);

  /// Passed to a spawned child as a Process argument, it is the same lock
  /// there (detail/transfer.hpp); anywhere else: RuntimeError, as in Python.
  template <class Archive>
  void save(Archive& ar) const {
    detail::save_shared(ar, st_, "Lock");
  }
  template <class Archive>
  void load(Archive& ar) {
    detail::load_shared(ar, st_, "Lock");
  }

 protected:
  explicit Lock(detail::SyncFlavor flavor, bool recursive);
  void check_timeout(bool negative) const;

  // The fast paths, inline: every Value access and `with lock:` goes through
  // them. A free word taken with one compare-exchange, or an RLock re-entered
  // with plain reads; anything else goes to acquire_until.
  bool acquire_fast() noexcept {
    detail::LockState& st = *st_;
    const std::uint32_t me = detail::this_pid();
    std::uint32_t v = st.word.load(std::memory_order_relaxed);
    if (v == 0) {
      if (!st.word.compare_exchange_strong(v, me, std::memory_order_acquire, std::memory_order_relaxed)) return false;
      st.owner_tid.store(detail::this_tid(), std::memory_order_relaxed);
      st.count = 1;
      st.owner_died.store(0, std::memory_order_relaxed);
      return true;
    }
    if (st.recursive && (v & detail::kPidMask) == me &&
        st.owner_tid.load(std::memory_order_relaxed) == detail::this_tid()) {
      ++st.count;
      return true;
    }
    return false;
  }
  // Every valid release; false (and nothing changed) for a release Python
  // refuses, which throw_bad_release() reports.
  bool release_fast() {
    detail::LockState& st = *st_;
    std::uint32_t v = st.word.load(std::memory_order_relaxed);
    if (v == 0) return false;
    if (st.recursive) {
      if ((v & detail::kPidMask) != detail::this_pid() ||
          st.owner_tid.load(std::memory_order_relaxed) != detail::this_tid()) {
        return false;
      }
      if (--st.count > 0) return true;
    }
    st.owner_tid.store(0, std::memory_order_relaxed);
    if (st.word.exchange(0, std::memory_order_release) & detail::kWaiters) detail::futex_wake(st.word, 1);
    return true;
  }
  [[noreturn]] void throw_bad_release() const;

  friend class Condition;
  detail::Shared<detail::LockState> st_;
};

/// Python: multiprocessing.RLock — re-entrant; only its owner may release it.
class RLock : public Lock {
 public:
  RLock();
  // release() is Lock's: on an RLock it throws AssertionError("attempt to
  // release recursive lock not owned by thread") unless the caller owns it
  // (threading: RuntimeError("cannot release un-acquired lock")).

  /// How deep the calling thread holds it (0 if it does not).
  std::uint32_t count() const noexcept;

 protected:
  explicit RLock(detail::SyncFlavor flavor);
};

/// Python: multiprocessing.Semaphore(value=1).
class Semaphore {
 public:
  /// Throws: ValueError("semaphore initial value must be >= 0") if negative.
  explicit Semaphore(int value = 1);

  bool acquire(bool block = true);
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(detail::Deadline::after(timeout));
  }
  /// Python: release(n=1) (multiprocessing's takes no n; threading's does).
  /// Throws: ValueError for a BoundedSemaphore released above its initial value.
  void release(std::uint32_t n = 1);
  /// Python: get_value().
  std::uint32_t get_value() const noexcept;

  /// Travels to a spawned child as a Process argument (see Lock::save).
  template <class Archive>
  void save(Archive& ar) const {
    detail::save_shared(ar, st_, "Semaphore");
  }
  template <class Archive>
  void load(Archive& ar) {
    detail::load_shared(ar, st_, "Semaphore");
  }
  /// True when the last acquire recovered a slot from a holder whose process died.
  bool owner_died() const noexcept;

  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  bool acquire_until(detail::Deadline deadline);

 protected:
  Semaphore(int value, std::uint32_t maxvalue, bool bounded, detail::SyncFlavor flavor);

 private:
  detail::Shared<detail::SemaphoreState> st_;
};

/// Python: multiprocessing.BoundedSemaphore(value=1).
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1);

 protected:
  BoundedSemaphore(int value, detail::SyncFlavor flavor);
};

/// Python: multiprocessing.Event.
class Event {
 public:
  Event();
  bool is_set() const noexcept;
  void set();
  void clear();
  /// Python: wait(timeout=None) — returns the flag.
  bool wait() { return wait_until(detail::Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::Deadline::after(timeout));
  }
  bool wait_until(detail::Deadline deadline);

  /// Travels to a spawned child as a Process argument (see Lock::save).
  template <class Archive>
  void save(Archive& ar) const {
    detail::save_shared(ar, st_, "Event");
  }
  template <class Archive>
  void load(Archive& ar) {
    detail::load_shared(ar, st_, "Event");
  }

 private:
  detail::Shared<detail::EventState> st_;
};

/// Python: multiprocessing.Condition(lock=None) — with an RLock by default.
class Condition {
 public:
  Condition();
  explicit Condition(const Lock& lock);  ///< shares `lock` (a Lock or an RLock)

  bool acquire(bool block = true) { return lock_.acquire(block); }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return lock_.acquire(timeout);
  }
  void release();
  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }

  /// Python: wait(timeout=None). Releases the lock, waits for a notify (or a
  /// spurious wake-up, as Python allows), re-acquires. Returns false on timeout.
  /// Throws: AssertionError / RuntimeError if the caller does not hold the lock.
  bool wait() { return wait_until(detail::Deadline::never()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::Deadline::after(timeout));
  }
  /// Python: wait_for(predicate, timeout=None) — the predicate's last value.
  template <class Pred>
  bool wait_for(Pred predicate) {
    return wait_for_until(std::move(predicate), detail::Deadline::never());
  }
  template <class Pred, class Rep, class Period>
  bool wait_for(Pred predicate, std::chrono::duration<Rep, Period> timeout) {
    return wait_for_until(std::move(predicate), detail::Deadline::after(timeout));
  }
  /// Python: notify(n=1), notify_all(). Throws if the caller does not hold the lock.
  void notify(std::uint32_t n = 1);
  void notify_all();

  /// Travels to a spawned child as a Process argument (see Lock::save).
  template <class Archive>
  void save(Archive& ar) const {
    lock_.save(ar);
    detail::save_shared(ar, st_, "Condition");
    ar(static_cast<std::uint32_t>(flavor_));
  }
  template <class Archive>
  void load(Archive& ar) {
    lock_.load(ar);
    detail::load_shared(ar, st_, "Condition");
    std::uint32_t flavor = 0;
    ar(flavor);
    flavor_ = flavor == 0 ? detail::SyncFlavor::Process : detail::SyncFlavor::Thread;
  }

  bool wait_until(detail::Deadline deadline);
  template <class Pred>
  bool wait_for_until(Pred predicate, detail::Deadline deadline) {
    bool result = predicate();
    while (!result) {
      if (deadline.expired()) break;
      wait_until(deadline);
      result = predicate();
    }
    return result;
  }

 protected:
  Condition(const Lock& lock, detail::SyncFlavor flavor);

 private:
  void check_owned(const char* what) const;
  Lock lock_;
  detail::Shared<detail::ConditionState> st_;
  detail::SyncFlavor flavor_ = detail::SyncFlavor::Process;
};

/// Python: multiprocessing.Barrier(parties, action=None, timeout=None).
class Barrier {
 public:
  /// Throws: ValueError("parties must be > 0").
  explicit Barrier(int parties, std::function<void()> action = {},
                   std::optional<std::chrono::duration<double>> timeout = std::nullopt);

  /// Python: wait(timeout=None) — returns this party's index, 0..parties-1.
  /// Throws: BrokenBarrierError if the barrier is or becomes broken (abort,
  ///   reset while waiting, a timeout, a failing action, a party that died).
  std::uint32_t wait();
  template <class Rep, class Period>
  std::uint32_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::Deadline::after(timeout));
  }
  std::uint32_t wait_until(detail::Deadline deadline);
  void reset();
  void abort();
  std::uint32_t parties() const noexcept;
  std::uint32_t n_waiting() const;
  bool broken() const;

  /// A one-party barrier: what a spawned child decodes a Barrier argument into.
  Barrier() : Barrier(1) {}
  /// Travels to a spawned child as a Process argument: the same barrier
  /// there. Its action does not travel (it may capture anything): a barrier
  /// with an action raises ProcessError.
  template <class Archive>
  void save(Archive& ar) const {
    if (action_) throw ProcessError("a Barrier with an action cannot be passed to a spawned process");
    cond_.save(ar);
    detail::save_shared(ar, st_, "Barrier");
  }
  template <class Archive>
  void load(Archive& ar) {
    cond_.load(ar);
    detail::load_shared(ar, st_, "Barrier");
  }

 private:
  void break_barrier();
  void leave();
  bool wait_draining(detail::Deadline deadline);

  Condition cond_;
  detail::Shared<detail::BarrierState> st_;
  std::function<void()> action_;
};

// ---- threading's primitives ---------------------------------------------------
// The same implementation, with threading's errors (RuntimeError where
// multiprocessing raises ValueError or AssertionError) and no owner-death
// checks (a thread that ends holding a threading.Lock is a bug in Python
// too). mpx/threading.hpp re-exports them as mpx::threading::Lock and so on.
namespace threading_sync {

class Lock : public mpx::Lock {
 public:
  Lock() : mpx::Lock(detail::SyncFlavor::Thread, false) {}
};
class RLock : public mpx::RLock {
 public:
  RLock() : mpx::RLock(detail::SyncFlavor::Thread) {}
};
class Semaphore : public mpx::Semaphore {
 public:
  explicit Semaphore(int value = 1) : mpx::Semaphore(value, 0, false, detail::SyncFlavor::Thread) {}
};
class BoundedSemaphore : public mpx::BoundedSemaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : mpx::BoundedSemaphore(value, detail::SyncFlavor::Thread) {}
};
class Condition : public mpx::Condition {
 public:
  Condition() : mpx::Condition(RLock(), detail::SyncFlavor::Thread) {}
  explicit Condition(const mpx::Lock& lock) : mpx::Condition(lock, detail::SyncFlavor::Thread) {}
};
using Event = mpx::Event;
using Barrier = mpx::Barrier;

}  // namespace threading_sync
}  // namespace mpx
