// The slow paths of the future core (detail/future_core.hpp): the lock bit,
// completion with waiters, sleepers and callbacks, cancel, repr, logging.
#include "mpx/detail/future_core.hpp"

#include <cxxabi.h>
#include <sched.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "mpx/detail/futex.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

struct FutureCore::Extras {
  std::vector<std::function<void(FutureCore*)>> callbacks;
  std::vector<FutureWaiter*> waiters;
};

namespace {

enum class Notify { none, outcome, cancelled };

const char* status_name(std::uint32_t st) {
  switch (st & FutureCore::kStatusMask) {
    case FutureCore::kPending:
      return "PENDING";
    case FutureCore::kRunning:
      return "RUNNING";
    case FutureCore::kCancelled:
      return "CANCELLED";
    case FutureCore::kCancelledAndNotified:
      return "CANCELLED_AND_NOTIFIED";
    default:
      return "FINISHED";
  }
}

// Python's _STATE_TO_DESCRIPTION_MAP.
const char* status_description(std::uint32_t st) {
  switch (st & FutureCore::kStatusMask) {
    case FutureCore::kPending:
      return "pending";
    case FutureCore::kRunning:
      return "running";
    case FutureCore::kCancelled:
    case FutureCore::kCancelledAndNotified:
      return "cancelled";
    default:
      return "finished";
  }
}

/// The dynamic type and what() of the exception `e` holds.
std::pair<std::string, std::string> describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return {type_name(typeid(ex)), ex.what()};
  } catch (...) {
    auto* t = abi::__cxa_current_exception_type();
    return {t ? type_name(*t) : std::string("unknown exception"), ""};
  }
}

// Python's repr shows type(x).__name__, without the module: "OSError" for
// mpx::OSError. Template names keep their qualification (it is their argument list).
std::string short_name(std::string name) {
  if (name.find('<') != std::string::npos) return name;
  auto colon = name.rfind("::");
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

void backoff(unsigned round) noexcept {
  if (round < 64) {
    cpu_relax();
  } else {
    ::sched_yield();  // the holder was preempted: let it run
  }
}

}  // namespace

std::string type_name(const std::type_info& t) {
  int status = 0;
  char* s = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : t.name();
  std::free(s);
  return out;
}

void log_exception(const std::string& message, std::exception_ptr e) noexcept {
  try {
    auto [type, what] = describe(e);
    std::string text = message + "\n" + type + (what.empty() ? "" : ": " + what) + "\n";
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
  } catch (...) {
    // Out of memory while reporting: nothing more can be said.
  }
}

FutureCore::~FutureCore() { delete extras_; }

std::uint32_t FutureCore::lock() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  for (unsigned round = 0;; ++round) {
    if (!(s & kLocked)) {
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire, std::memory_order_relaxed))
        return s | kLocked;
      continue;
    }
    backoff(round);
    s = state_.load(std::memory_order_relaxed);
  }
}

void FutureCore::run_callbacks(std::vector<std::function<void(FutureCore*)>>& cbs) noexcept {
  for (auto& cb : cbs) {
    try {
      cb(this);
    } catch (...) {
      // Python: LOGGER.exception('exception calling callback for %r', self)
      std::string what;
      try {
        what = "exception calling callback for " + repr();
      } catch (...) {
      }
      log_exception(what, std::current_exception());
    }
  }
}

void FutureCore::finish_locked(std::uint32_t old, std::uint32_t now, bool notify_waiters) noexcept {
  // `old` is the locked word; `now` the new status with the flags to keep.
  // Release: a reader that sees the new status here (done(), result()) must
  // also see the outcome stored before it (TSan found this one relaxed).
  state_.store(now | kLocked, std::memory_order_release);
  std::vector<std::function<void(FutureCore*)>> cbs;
  const std::uint32_t st = now & kStatusMask;
  if (extras_) {
    if (notify_waiters) {
      for (auto* w : extras_->waiters) {
        if (st == kCancelledAndNotified) {
          w->add_cancelled(this);
        } else if (exception_) {
          w->add_exception(this);
        } else {
          w->add_result(this);
        }
      }
    }
    if (st == kFinished || st == kCancelled) cbs.swap(extras_->callbacks);
  }
  unlock(now);
  if (old & kSleepers) futex_wake(state_);
  if (!cbs.empty()) run_callbacks(cbs);
}

bool FutureCore::set_running_slow() {
  std::uint32_t s = lock();
  const std::uint32_t st = s & kStatusMask;
  if (st == kPending) {
    unlock((s & ~kStatusMask) | kRunning);
    return true;
  }
  if (st == kCancelled) {
    // No wake needed: cancel() woke the sleepers; no callbacks: cancel() ran them.
    finish_locked(s & ~kSleepers, (s & ~kStatusMask & ~kSleepers) | kCancelledAndNotified, true);
    return false;
  }
  unlock(s);
  std::fprintf(stderr, "Future %p in unexpected state: %s\n", static_cast<void*>(this), status_name(st));
  throw RuntimeError("Future in unexpected state");
}

void FutureCore::publish_slow() noexcept {
  std::uint32_t s = lock();
  finish_locked(s, (s & ~kStatusMask & ~kSleepers) | kFinished, true);
}

bool FutureCore::cancel() {
  std::uint32_t s = lock();
  const std::uint32_t st = s & kStatusMask;
  if (st != kPending) {
    unlock(s);
    return st == kCancelled || st == kCancelledAndNotified;
  }
  // Python: the state changes and sleepers wake; waiters hear of it only from
  // set_running_or_notify_cancel() (CANCELLED_AND_NOTIFIED).
  finish_locked(s, (s & ~kStatusMask & ~kSleepers) | kCancelled, false);
  return true;
}

void FutureCore::throw_invalid_state(std::uint32_t s) const {
  std::string msg = status_name(s);
  msg += ": " + repr();
  if ((s & kOwned) && !is_done(s)) msg += " (its executor sets the outcome)";
  throw InvalidStateError(msg);
}

std::uint32_t FutureCore::try_finish(void (*store)(FutureCore*, void*), void* arg, std::exception_ptr* e,
                                     std::uint32_t refuse) {
  std::uint32_t s = lock();
  const std::uint32_t st = s & kStatusMask;
  if ((st != kPending && st != kRunning) || (s & refuse)) {
    unlock(s);
    return s;
  }
  if (e) {
    exception_ = std::move(*e);
  } else {
    try {
      store(this, arg);
    } catch (...) {
      unlock(s);
      throw;
    }
  }
  finish_locked(s, (s & ~kStatusMask & ~kSleepers) | kFinished, true);
  return 0;
}

void FutureCore::set_exception(std::exception_ptr e) {
  if (std::uint32_t s = try_finish(nullptr, nullptr, &e, kOwned)) throw_invalid_state(s);
}

void FutureCore::set_result_with(void (*store)(FutureCore*, void*), void* arg) {
  if (std::uint32_t s = try_finish(store, arg, nullptr, kOwned)) throw_invalid_state(s);
}

bool FutureCore::set_result_quietly(void (*store)(FutureCore*, void*), void* arg) {
  const std::uint32_t s = try_finish(store, arg, nullptr, kOwned | kLists);
  return s == 0 || is_done(s);
}

bool FutureCore::set_exception_quietly(std::exception_ptr e) {
  const std::uint32_t s = try_finish(nullptr, nullptr, &e, kOwned | kLists);
  return s == 0 || is_done(s);
}

void FutureCore::add_done_callback(std::function<void(FutureCore*)> fn) {
  std::uint32_t s = lock();
  if (!is_done(s)) {
    try {
      if (!extras_) extras_ = new Extras;
      extras_->callbacks.push_back(std::move(fn));
    } catch (...) {
      unlock(s);
      throw;
    }
    unlock(s | kLists);
    return;
  }
  unlock(s);
  std::vector<std::function<void(FutureCore*)>> one;
  one.push_back(std::move(fn));
  run_callbacks(one);
}

std::uint32_t FutureCore::install_waiter(FutureWaiter* w) {
  std::uint32_t s = lock();
  const std::uint32_t st = s & kStatusMask;
  if (st == kCancelledAndNotified || st == kFinished) {
    unlock(s);
    return st;
  }
  try {
    if (!extras_) extras_ = new Extras;
    extras_->waiters.push_back(w);
  } catch (...) {
    unlock(s);
    throw;
  }
  unlock(s | kLists);
  return st;
}

void FutureCore::remove_waiter(FutureWaiter* w) noexcept {
  std::uint32_t s = lock();
  if (extras_) {
    auto& ws = extras_->waiters;
    for (std::size_t i = 0; i < ws.size(); ++i) {
      if (ws[i] == w) {
        ws.erase(ws.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
  }
  unlock(s);
}

bool FutureCore::wait_done_slow(Deadline deadline) const {
  help_wait(deadline);
  if (spin([&] { return is_done(state_.load(std::memory_order_acquire)); })) return true;
  for (unsigned round = 0;; ++round) {
    std::uint32_t s = state_.load(std::memory_order_acquire);
    if (is_done(s)) return true;
    if (!(s & kSleepers)) {
      if (s & kLocked) {  // only the holder may change the word now
        backoff(round);
        continue;
      }
      if (!state_.compare_exchange_weak(s, s | kSleepers, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      s |= kSleepers;
    }
    if (!futex_wait(state_, s, deadline)) return done();
  }
}

std::string FutureCore::repr() const {
  char addr[32];
  std::snprintf(addr, sizeof addr, "%p", static_cast<const void*>(this));
  const std::uint32_t s = state_.load(std::memory_order_acquire);
  std::string out = std::string("<Future at ") + addr + " state=" + status_description(s);
  if ((s & kStatusMask) == kFinished) {
    if (exception_) {
      out += " raised " + short_name(describe(exception_).first);
    } else {
      const auto& t = result_type();
      out += " returned " + (t == typeid(void) ? std::string("None") : short_name(type_name(t)));
    }
  }
  return out + ">";
}

}  // namespace mpx::detail
