// src/aio/locks.cpp — asyncio.Lock, Event, Condition, Semaphore: CPython
// 3.12's Lib/asyncio/locks.py, with `await` moved out of `except` blocks.
#include "mpx/aio/locks.hpp"

#include <algorithm>

namespace mpx::aio {
namespace {

bool is_cancel(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

// ---- Lock ---------------------------------------------------------------------

Task<bool> Lock::acquire() {
  if (!locked_ && std::all_of(waiters_.begin(), waiters_.end(), [](const Future<>& w) { return w.cancelled(); })) {
    locked_ = true;
    co_return true;
  }
  Future<> fut;
  std::exception_ptr err = co_await detail::wait_queued(waiters_, fut);
  if (err) {
    if (is_cancel(err) && !locked_) wake_up_first();
    std::rethrow_exception(err);
  }
  locked_ = true;
  co_return true;
}

void Lock::release() {
  if (!locked_) throw RuntimeError("Lock is not acquired.");
  locked_ = false;
  wake_up_first();
}

void Lock::wake_up_first() {
  if (waiters_.empty()) return;
  Future<>& first = waiters_.front();
  if (!first.done()) first.set_result();
}

Task<Held<Lock>> Lock::hold() {
  co_await acquire();
  co_return Held<Lock>(this);
}

// ---- Event --------------------------------------------------------------------

void Event::set() {
  if (value_) return;
  value_ = true;
  for (auto& f : waiters_) {
    if (!f.done()) f.set_result();
  }
}

Task<bool> Event::wait() {
  if (value_) co_return true;
  Future<> fut;
  std::exception_ptr err = co_await detail::wait_queued(waiters_, fut);
  if (err) std::rethrow_exception(err);
  co_return true;
}

// ---- Condition ------------------------------------------------------------------

Task<bool> Condition::wait() {
  if (!locked()) throw RuntimeError("cannot wait on un-acquired lock");
  release();
  Future<bool> fut;
  std::exception_ptr err = co_await detail::wait_queued(waiters_, fut);
  // The lock is taken back even if the wait was cancelled (Python's finally).
  bool cancelled = false;
  for (;;) {
    try {
      co_await lock_->acquire();
      break;
    } catch (const CancelledError&) {
      cancelled = true;
    }
  }
  if (err) std::rethrow_exception(err);
  if (cancelled) throw CancelledError("");
  co_return true;
}

Task<bool> Condition::wait_for(std::function<bool()> predicate) {
  bool result = predicate();
  while (!result) {
    co_await wait();
    result = predicate();
  }
  co_return result;
}

void Condition::notify(std::size_t n) {
  if (!locked()) throw RuntimeError("cannot notify on un-acquired lock");
  std::size_t idx = 0;
  for (auto& f : waiters_) {
    if (idx >= n) break;
    if (!f.done()) {
      ++idx;
      f.set_result(false);
    }
  }
}

// ---- Semaphore ------------------------------------------------------------------

Semaphore::Semaphore(long value) : value_(value) {
  if (value < 0) throw ValueError("Semaphore initial value must be >= 0");
}

bool Semaphore::locked() const noexcept {
  return value_ == 0 || std::any_of(waiters_.begin(), waiters_.end(), [](const Future<>& w) { return !w.cancelled(); });
}

Task<bool> Semaphore::acquire() {
  if (!locked()) {
    --value_;
    co_return true;
  }
  Future<> fut;
  std::exception_ptr err = co_await detail::wait_queued(waiters_, fut);
  if (err) {
    if (is_cancel(err) && fut.done() && !fut.cancelled()) {
      // Woken, then cancelled: hand the unit on.
      ++value_;
      wake_up_next();
    }
    std::rethrow_exception(err);
  }
  if (value_ > 0) wake_up_next();
  co_return true;
}

void Semaphore::release() {
  ++value_;
  wake_up_next();
}

bool Semaphore::wake_up_next() {
  for (auto& f : waiters_) {
    if (!f.done()) {
      --value_;
      f.set_result();
      return true;
    }
  }
  return false;
}

Task<Held<Semaphore>> Semaphore::hold() {
  co_await acquire();
  co_return Held<Semaphore>(this);
}

void BoundedSemaphore::release() {
  if (value_ >= bound_) throw ValueError("BoundedSemaphore released too many times");
  Semaphore::release();
}

}  // namespace mpx::aio

namespace mpx::aio::detail {

void wakeup_next(std::deque<Future<>>& waiters) {
  while (!waiters.empty()) {
    Future<> w = std::move(waiters.front());
    waiters.pop_front();
    if (!w.done()) {
      w.set_result();
      break;
    }
  }
}

}  // namespace mpx::aio::detail
