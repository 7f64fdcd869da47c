// ThreadPoolExecutor's engine (detail/thread_pool.hpp): workers, their park
// and wake-up, lazy thread creation, shutdown, a failed initializer, and the
// exit hook that lets running pools finish before the threads are joined.
#include "mpx/detail/thread_pool.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

constexpr const char* kBrokenMessage = "A thread initializer failed, the thread pool is not usable anymore";

// Every live pool, for the exit hook (Python's _threads_queues). Leaked: the
// hook runs during exit, after static objects may be gone.
struct PoolRegistry {
  std::mutex mu;
  std::vector<std::weak_ptr<PoolCore>> pools;
  bool hook_installed = false;
  bool exiting = false;  // the hook ran: Python's global _shutdown
};
PoolRegistry* const g_registry = new PoolRegistry;

// A fork child has none of the parent's worker threads: it forgets the
// parent's pools (Python clears _threads_queues, bpo-43944), and the registry
// lock cannot be left held by a thread that does not exist there.
void atfork_prepare() { g_registry->mu.lock(); }
void atfork_parent() { g_registry->mu.unlock(); }
void atfork_child() {
  new (&g_registry->mu) std::mutex;
  g_registry->pools.clear();  // (the parent's std::atexit entry is inherited, hook_installed stays true)
}
const bool g_atfork = (::pthread_atfork(atfork_prepare, atfork_parent, atfork_child), true);

void backoff(unsigned round) noexcept {
  if (round < 64) {
    cpu_relax();
  } else {
    ::sched_yield();
  }
}

}  // namespace

PoolCore::PoolCore(int max_workers, std::string thread_name_prefix, std::function<void()> initializer)
    : max_workers_(max_workers),
      prefix_(std::move(thread_name_prefix)),
      initializer_(std::move(initializer)),
      pid_(::getpid()) {
  (void)g_atfork;
}

PoolCore::~PoolCore() {
  // No worker is left (each holds the core): what is still queued was never
  // going to run (no thread could be started). Its futures are cancelled.
  if (forked_away()) return;
  while (FutureCore* t = pop_blocking()) {
    t->cancel();
    try {
      t->set_running_or_notify_cancel();
    } catch (...) {
    }
    t->discard();
    t->release();
  }
}

void PoolCore::register_for_exit() {
  std::lock_guard lock(g_registry->mu);
  if (g_registry->exiting) gate_.fetch_or(kExiting, std::memory_order_relaxed);
  std::erase_if(g_registry->pools, [](const auto& w) { return w.expired(); });
  g_registry->pools.push_back(weak_from_this());
}

void PoolCore::refuse(std::uint32_t gate) {
  leave();
  // Python's order: _broken, then _shutdown, then the interpreter's.
  if (gate & kBroken) throw BrokenThreadPool(broken());
  if (gate & kShutdown) throw RuntimeError("cannot schedule new futures after shutdown");
  throw RuntimeError("cannot schedule new futures after interpreter shutdown");
}

void PoolCore::wake_one() noexcept {
  if (spinning_.load(std::memory_order_seq_cst) != 0) return;  // a spinning worker will find the task
  std::uint32_t s = sched_.load(std::memory_order_relaxed);
  while ((s & kSleepingMask) && !(s & kWaking)) {
    if (sched_.compare_exchange_weak(s, (s - 1) | kWaking, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      epoch_.fetch_add(1, std::memory_order_seq_cst);
      futex_wake(epoch_, 1);
      return;
    }
  }
}

void PoolCore::adjust_slow() {
  // Python: "if idle threads are available, don't spin new threads".
  int c = credits_.load(std::memory_order_relaxed);
  while (c > 0) {
    if (credits_.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return;
  }
  std::lock_guard lock(mu_);
  const auto n = static_cast<int>(threads_.size());
  if (n < max_workers_) {
    threading::Thread t({.name = prefix_ + "_" + std::to_string(n)},
                        [self = shared_from_this()] { self->worker_main(); });
    t.start();  // Thread::start registered threading's exit handler: ours goes after it, so it runs first
    threads_.push_back(std::move(t));
    std::lock_guard reg(g_registry->mu);
    if (!g_registry->hook_installed) {
      g_registry->hook_installed = true;
      std::atexit(pool_exit_hook);
    }
  }
  if (static_cast<int>(threads_.size()) >= max_workers_) saturated_.store(true, std::memory_order_relaxed);
}

bool PoolCore::try_pop(FutureCore*& out) noexcept {
  if (!queue_.try_lock_consumer()) return false;
  QueueLink* n = nullptr;
  auto r = queue_.pop(n);
  queue_.unlock_consumer();
  if (r != TaskQueue::Pop::item) return false;
  out = static_cast<FutureCore*>(n);
  return true;
}

FutureCore* PoolCore::pop_blocking() noexcept {
  for (unsigned round = 0;; ++round) {
    if (queue_.try_lock_consumer()) {
      QueueLink* n = nullptr;
      auto r = queue_.pop(n);
      queue_.unlock_consumer();
      if (r == TaskQueue::Pop::item) return static_cast<FutureCore*>(n);
      if (r == TaskQueue::Pop::empty) return nullptr;
    }
    backoff(round);  // another consumer holds the queue, or a producer is mid-push
  }
}

void PoolCore::park() noexcept {
  const std::uint32_t e = epoch_.load(std::memory_order_acquire);
  sched_.fetch_add(1, std::memory_order_seq_cst);
  if (queue_.looks_empty() && !closing_.load(std::memory_order_seq_cst)) {
    try {
      futex_wait(epoch_, e, Deadline::never());
    } catch (...) {
      // An impossible futex error: treat it as a spurious wake-up.
    }
  }
  unpark();
}

void PoolCore::unpark() noexcept {
  std::uint32_t s = sched_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint32_t n = (s & kWaking) ? (s & ~kWaking) : s - 1;
    if (sched_.compare_exchange_weak(s, n, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
  }
}

FutureCore* PoolCore::take(bool& searching) {
  FutureCore* t = nullptr;
  for (;;) {
    if (try_pop(t)) break;
    if (!searching) {
      spinning_.fetch_add(1, std::memory_order_seq_cst);
      searching = true;
    }
    bool closing = false;
    spin([&] {
      if (!queue_.appears_empty() && try_pop(t)) return true;
      closing = closing_.load(std::memory_order_acquire);
      return closing;
    });
    if (t) break;
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
    searching = false;
    if (closing || closing_.load(std::memory_order_acquire)) return pop_blocking();  // null: drained, exit
    park();
  }
  if (searching) {
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
    searching = false;
  }
  return t;
}

void PoolCore::worker_main() {
  if (initializer_) {
    try {
      initializer_();
    } catch (...) {
      log_exception("Exception in initializer:", std::current_exception());
      initializer_failed();
      return;
    }
  }
  bool searching = false;
  while (FutureCore* t = take(searching)) {
    bool run = false;
    try {
      run = t->set_running_or_notify_cancel();
    } catch (...) {
      log_exception("Exception in worker", std::current_exception());  // logged by the core already
    }
    if (run) {
      t->invoke();
      credit();  // before the result is seen, so a submit right after result() finds this worker idle
      if (!searching && queue_.appears_empty()) {
        // Counted as spinning before the result is published: the submit that
        // follows a result() wakes nobody, this worker will find the task.
        spinning_.fetch_add(1, std::memory_order_seq_cst);
        searching = true;
      }
      if (!t->try_publish_owned()) {
        if (searching) {  // waiters or callbacks: do not hold back wake-ups while they run
          spinning_.fetch_sub(1, std::memory_order_seq_cst);
          searching = false;
        }
        t->publish_slow();
      }
    } else {
      t->discard();
      credit();
    }
    t->release();
  }
}

void PoolCore::close_gate(std::uint32_t flag) noexcept {
  gate_.fetch_or(flag, std::memory_order_acq_rel);
  if (forked_away()) return;  // submits in flight at fork time never finish here
  for (unsigned round = 0; (gate_.load(std::memory_order_acquire) & ~kRefusing) != 0; ++round) backoff(round);
}

void PoolCore::close_workers() noexcept {
  closing_.store(true, std::memory_order_seq_cst);
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(epoch_, INT_MAX);
}

void PoolCore::join_workers() {
  const auto self = threading::get_ident();
  for (auto& t : threads()) {
    if (t.ident() != self) t.join();  // a worker shutting down its own pool cannot join itself
  }
}

void PoolCore::initializer_failed() noexcept {
  {
    std::lock_guard lock(mu_);
    broken_ = kBrokenMessage;
  }
  close_gate(kBroken);
  // Python: drain the work queue and mark pending futures failed.
  while (FutureCore* t = pop_blocking()) {
    bool run = false;
    try {
      run = t->set_running_or_notify_cancel();
    } catch (...) {
    }
    t->discard();
    if (run) {
      t->store_exception(std::make_exception_ptr(BrokenThreadPool(kBrokenMessage)));
      t->publish_owned();
    }
    t->release();
  }
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
  close_gate(kShutdown);
  if (cancel_futures) {
    while (FutureCore* t = pop_blocking()) {
      t->cancel();
      // Python leaves these CANCELLED; mpx also tells wait()/as_completed(),
      // which would otherwise wait for them until their timeout.
      try {
        t->set_running_or_notify_cancel();
      } catch (...) {
      }
      t->discard();
      t->release();
    }
  }
  close_workers();
  if (wait) join_workers();
}

std::vector<threading::Thread> PoolCore::threads() const {
  std::lock_guard lock(mu_);
  return threads_;
}

std::string PoolCore::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

bool PoolCore::forked_away() const noexcept { return pid_ != ::getpid(); }

// Python's _python_exit, which threading._register_atexit runs before the
// non-daemon threads are joined: every pool stops taking work, finishes its
// queue, and its workers are joined. Registered after threading's own exit
// handler, so it runs before it.
void pool_exit_hook() noexcept {
  std::vector<std::shared_ptr<PoolCore>> live;
  {
    std::lock_guard lock(g_registry->mu);
    g_registry->exiting = true;
    for (auto& w : g_registry->pools) {
      if (auto p = w.lock()) live.push_back(std::move(p));
    }
  }
  for (auto& p : live) {
    if (p->forked_away()) continue;
    p->close_gate(PoolCore::kExiting);
    p->close_workers();
  }
  for (auto& p : live) {
    if (p->forked_away()) continue;
    try {
      p->join_workers();
    } catch (...) {
    }
  }
}

}  // namespace mpx::detail
