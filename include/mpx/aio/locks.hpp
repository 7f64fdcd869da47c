// mpx/aio/locks.hpp — asyncio's synchronization primitives for the tasks of one loop.
//
//   aio::Lock lock;
//   {
//     auto held = co_await lock.hold();       // async with lock:
//     ...                                      // released when `held` goes
//   }
//   aio::Event ready;  co_await ready.wait();  ready.set();
//   aio::Condition cond;                       // over its own Lock
//   { auto held = co_await cond.hold(); co_await cond.wait_for([&] { return !items.empty(); }); }
//   aio::Semaphore sem(2);  { auto held = co_await sem.hold(); ... }
//
// Not thread-safe, as in Python: they coordinate tasks of one loop (use
// mpx::threading or mpx's process-shared ones across threads and processes).
// Each wait is an asyncio Future in a FIFO; cancellation follows CPython 3.12
// (Lib/asyncio/locks.py): a waiter woken and then cancelled passes its
// wake-up on, so nothing is lost.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <utility>

#include "mpx/aio/future.hpp"
#include "mpx/aio/task.hpp"

namespace mpx::aio {

namespace detail {
/// Takes `f` off a waiting line, if it is still there.
template <class F>
void remove_waiter(std::deque<F>& q, const F& f) noexcept {
  for (auto it = q.begin(); it != q.end(); ++it) {
    if (it->core() == f.core()) {
      q.erase(it);
      return;
    }
  }
}
/// The waiting line of the locks and queues (Python's `waiters.append(fut);
/// try: await fut ... finally: waiters.remove(fut)`): queues `fut`, waits
/// for it and takes it off the line whatever happened. Returns what the
/// wait raised (CancelledError...), or null; the caller decides what to hand on.
template <class F>
Task<std::exception_ptr> wait_queued(std::deque<F>& q, F fut) {
  q.push_back(fut);
  std::exception_ptr err;
  try {
    co_await fut;
  } catch (...) {
    err = std::current_exception();
  }
  remove_waiter(q, fut);
  co_return err;
}
}  // namespace detail

/// What hold() gives: releases the primitive when it goes out of scope.
template <class Primitive>
class [[nodiscard]] Held {
 public:
  explicit Held(Primitive* p) noexcept : p_(p) {}
  Held(Held&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Held& operator=(Held&&) = delete;
  ~Held() {
    if (p_) p_->release();
  }
  /// Releases now (once).
  void release() {
    if (auto* p = std::exchange(p_, nullptr)) p->release();
  }

 private:
  Primitive* p_;
};

/// Python: asyncio.Lock — not reentrant; FIFO among waiters.
class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  /// Python: acquire(). Blocks: this task until the lock is free.
  /// Throws: CancelledError (the lock is then not held).
  Task<bool> acquire();
  /// Python: release(). Throws: RuntimeError if not locked.
  void release();
  /// Python: locked().
  bool locked() const noexcept { return locked_; }
  /// `async with lock`: acquire, and release when the result goes.
  Task<Held<Lock>> hold();

 private:
  void wake_up_first();
  std::deque<Future<>> waiters_;
  bool locked_ = false;
};

/// Python: asyncio.Event.
class Event {
 public:
  /// Python: is_set(), set() (wakes every waiter), clear().
  bool is_set() const noexcept { return value_; }
  void set();
  void clear() noexcept { value_ = false; }
  /// Python: wait() -> True. Blocks: until set. Throws: CancelledError.
  Task<bool> wait();

 private:
  std::deque<Future<>> waiters_;
  bool value_ = false;
};

/// Python: asyncio.Condition(lock=None).
class Condition {
 public:
  Condition() : lock_(&own_) {}
  explicit Condition(Lock& lock) : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  Task<bool> acquire() { return lock_->acquire(); }
  void release() { lock_->release(); }
  bool locked() const noexcept { return lock_->locked(); }
  Task<Held<Lock>> hold() { return lock_->hold(); }
  /// Python: wait() — releases the lock, waits for notify, re-acquires
  /// (even when cancelled). Throws: RuntimeError if the lock is not held; CancelledError.
  Task<bool> wait();
  /// Python: wait_for(predicate) — waits until predicate() is true; returns it.
  Task<bool> wait_for(std::function<bool()> predicate);
  /// Python: notify(n=1), notify_all(). Throws: RuntimeError if the lock is not held.
  void notify(std::size_t n = 1);
  void notify_all() { notify(waiters_.size()); }

 private:
  Lock own_;
  Lock* lock_;
  std::deque<Future<bool>> waiters_;
};

/// Python: asyncio.Semaphore(value=1). Throws: ValueError for a negative value.
class Semaphore {
 public:
  explicit Semaphore(long value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;
  /// Python: locked() — acquire() would wait.
  bool locked() const noexcept;
  /// Python: acquire(). Blocks: while the counter is 0. Throws: CancelledError.
  Task<bool> acquire();
  /// Python: release().
  virtual void release();
  Task<Held<Semaphore>> hold();
  long value() const noexcept { return value_; }

 protected:
  bool wake_up_next();
  std::deque<Future<>> waiters_;
  long value_;
};

/// Python: asyncio.BoundedSemaphore — release() beyond the initial value
/// raises ValueError("BoundedSemaphore released too many times").
class BoundedSemaphore final : public Semaphore {
 public:
  explicit BoundedSemaphore(long value = 1) : Semaphore(value), bound_(value) {}
  void release() override;

 private:
  long bound_;
};

}  // namespace mpx::aio
