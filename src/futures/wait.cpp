// futures::wait() and as_completed() over untyped futures
// (detail/future_wait.hpp): Python's _Waiter classes on a futex event.
#include "mpx/detail/future_wait.hpp"

#include <mutex>
#include <string>
#include <unordered_map>

#include "mpx/detail/futex.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

void Notification::set() noexcept {
  if (word_.exchange(1, std::memory_order_acq_rel) == 2) futex_wake(word_);
}

bool Notification::wait(Deadline deadline) {
  if (spin([&] { return word_.load(std::memory_order_acquire) == 1; })) return true;
  for (;;) {
    std::uint32_t v = word_.load(std::memory_order_acquire);
    if (v == 1) return true;
    if (v == 0 && !word_.compare_exchange_weak(v, 2, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    if (!futex_wait(word_, 2, deadline)) return word_.load(std::memory_order_acquire) == 1;
  }
}

namespace {

// Python's _FirstCompletedWaiter, _AllCompletedWaiter and _AsCompletedWaiter
// in one: the futures that finished, and when to set the event.
class ModeWaiter final : public FutureWaiter {
 public:
  ModeWaiter(WaitMode mode, std::size_t pending) : mode_(mode), pending_(pending) {}

  void add_result(FutureCore* f) noexcept override { add(f, false); }
  void add_exception(FutureCore* f) noexcept override { add(f, true); }
  void add_cancelled(FutureCore* f) noexcept override { add(f, false); }

  /// A future that finished between the caller's look and the install.
  void add_done(FutureCore* f) noexcept {
    const bool failed = (f->word() & FutureCore::kStatusMask) == FutureCore::kFinished && f->stored_exception();
    add(f, failed);
  }

  std::vector<FutureCore*> take() {
    std::lock_guard lock(mu_);
    std::vector<FutureCore*> out;
    out.swap(finished_);
    event_.clear();
    return out;
  }
  bool wait(Deadline deadline) { return event_.wait(deadline); }

 private:
  void add(FutureCore* f, bool failed) noexcept {
    std::lock_guard lock(mu_);
    try {
      finished_.push_back(f);
    } catch (...) {
      // Out of memory: the future is still seen as done by its status.
    }
    switch (mode_) {
      case WaitMode::first_completed:
      case WaitMode::as_completed:
        event_.set();
        break;
      case WaitMode::first_exception:
        if (failed) {
          event_.set();
          break;
        }
        [[fallthrough]];
      case WaitMode::all_completed:
        if (pending_ > 0 && --pending_ == 0) event_.set();
        break;
    }
  }

  std::mutex mu_;
  std::vector<FutureCore*> finished_;
  const WaitMode mode_;
  std::size_t pending_;
  Notification event_;
};

bool notified_done(std::uint32_t st) { return st == FutureCore::kFinished || st == FutureCore::kCancelledAndNotified; }

}  // namespace

void wait_futures(const std::vector<FutureCore*>& fs, Deadline deadline, WaitMode mode, std::vector<char>& done) {
  // Python's wait(): done = {f in fs: CANCELLED_AND_NOTIFIED or FINISHED}.
  const std::size_t n = fs.size();
  done.assign(n, 0);
  std::size_t ndone = 0;
  bool failed = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t st = fs[i]->word() & FutureCore::kStatusMask;
    if (notified_done(st)) {
      done[i] = 1;
      ++ndone;
      failed = failed || (st == FutureCore::kFinished && fs[i]->stored_exception());
    }
  }
  if (mode == WaitMode::first_completed && ndone > 0) return;
  if (mode == WaitMode::first_exception && failed) return;
  if (ndone == n) return;

  ModeWaiter waiter(mode, n - ndone);
  std::vector<char> installed(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (done[i]) continue;
    const std::uint32_t st = fs[i]->install_waiter(&waiter);
    if (notified_done(st)) {
      waiter.add_done(fs[i]);  // finished since the look above
    } else {
      installed[i] = 1;
    }
  }
  waiter.wait(deadline);
  for (std::size_t i = 0; i < n; ++i) {
    if (installed[i]) fs[i]->remove_waiter(&waiter);
  }
  std::unordered_map<FutureCore*, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) index.emplace(fs[i], i);
  for (auto* f : waiter.take()) done[index.at(f)] = 1;
}

struct AsCompletedState::Waiter {
  ModeWaiter w{WaitMode::as_completed, 0};
};

AsCompletedState::AsCompletedState(std::vector<FutureCore*> fs, Deadline deadline)
    : waiter_(std::make_unique<Waiter>()), total_(fs.size()), deadline_(deadline) {
  try {
    for (auto* f : fs) {
      // Python: finished = {f: CANCELLED_AND_NOTIFIED or FINISHED}; a waiter on the rest.
      if (notified_done(f->install_waiter(&waiter_->w))) {
        ready_.push_back(f);
      } else {
        pending_.insert(f);
      }
    }
  } catch (...) {
    for (auto* f : pending_) f->remove_waiter(&waiter_->w);
    for (auto* f : fs) f->release();
    throw;
  }
}

AsCompletedState::~AsCompletedState() {
  for (auto* f : pending_) {
    f->remove_waiter(&waiter_->w);
    f->release();
  }
  for (auto* f : ready_) f->release();
}

FutureCore* AsCompletedState::next() {
  auto pop = [&] {
    FutureCore* f = ready_.front();
    ready_.pop_front();
    return f;  // our reference goes to the caller: nothing here keeps it (CPython issue 14406)
  };
  if (!ready_.empty()) return pop();
  while (!over_ && !pending_.empty()) {
    if (deadline_.expired()) {
      over_ = true;
      throw TimeoutError(std::to_string(pending_.size()) + " (of " + std::to_string(total_) + ") futures unfinished");
    }
    waiter_->w.wait(deadline_);
    for (auto* f : waiter_->w.take()) {  // in finishing order
      if (pending_.erase(f) == 0) continue;
      f->remove_waiter(&waiter_->w);
      ready_.push_back(f);
    }
    if (!ready_.empty()) return pop();
  }
  return nullptr;
}

}  // namespace mpx::detail
