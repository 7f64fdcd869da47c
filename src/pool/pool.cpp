// mpx::Pool's and ThreadPool's backends (detail/pool_backends.hpp), the
// callbacks' guard and the progress line.
#include "mpx/pool.hpp"

#include <unistd.h>

#include <cstdio>

#include "mpx/process.hpp"

namespace mpx::detail {

std::size_t checked_chunksize(long size) {
  if (size < 1) throw ValueError("Chunksize must be 1+, not " + std::to_string(size));
  return static_cast<std::size_t>(size);
}

// ---- ProcessBackend ---------------------------------------------------------

ProcessBackend::ProcessBackend(PoolOptions options) : default_timeout_(options.timeout) {
  const int processes = options.processes.value_or(cpu_count());
  if (processes < 1) throw ValueError("Number of processes must be at least 1");
  if (options.maxtasksperchild && *options.maxtasksperchild < 1) {
    throw ValueError("maxtasksperchild must be a positive int or None");
  }
  ProcessPoolConfig config;
  config.processes = processes;
  config.start_method = options.context ? options.context->get_start_method() : std::string();
  config.initializer = options.initializer.run();
  config.ship_initializer = options.initializer.shipper();
  config.maxtasksperchild = options.maxtasksperchild.value_or(0);
  config.replace_dead_workers = true;
  core_ = std::make_unique<ProcessPoolCore>(std::move(config));
}

std::chrono::nanoseconds ProcessBackend::timeout_of(
    const std::optional<std::chrono::nanoseconds>& asked) const noexcept {
  auto v = asked ? *asked : default_timeout_;
  return v == forever ? std::chrono::nanoseconds(0) : v;
}

void ProcessBackend::terminate() {
  core_->terminate();
  core_->join(Deadline::never());
}

// ---- ThreadBackend ----------------------------------------------------------

ThreadBackend::ThreadBackend(ThreadPoolOptions options) : initializer_(std::move(options.initializer)) {
  const int n = options.processes.value_or(cpu_count());
  if (n < 1) throw ValueError("Number of processes must be at least 1");
  static std::atomic<int> pools{0};
  const int pool = ++pools;
  result_thread_ = std::thread([this] { result_main(); });
  try {
    for (int i = 0; i < n; ++i) {
      threading::Thread t({.name = "ThreadPool-" + std::to_string(pool) + "_" + std::to_string(i), .daemon = true},
                          [this] { worker_main(); });
      t.start();
      threads_.push_back(std::move(t));
    }
  } catch (...) {
    terminate();
    throw;
  }
}

ThreadBackend::~ThreadBackend() { terminate(); }

void ThreadBackend::refuse_timeout(std::chrono::nanoseconds timeout) {
  if (timeout.count() > 0) {
    throw ValueError("a ThreadPool cannot stop a running thread: per-task timeouts need mpx::Pool (processes)");
  }
}

std::chrono::nanoseconds ThreadBackend::timeout_of(const std::optional<std::chrono::nanoseconds>& asked) const {
  return asked && *asked != forever ? *asked : std::chrono::nanoseconds(0);
}

void ThreadBackend::submit(Task task, bool continuation) {
  {
    std::lock_guard lock(broken_mu_);
    if (!broken_.empty()) throw BrokenThreadPool(broken_);
  }
  const int state = state_.load();
  if (state == kTerminated || (state == kClosed && !continuation)) throw ValueError("Pool not running");
  tasks_.put(std::move(task));
}

void ThreadBackend::open_feed() {
  std::lock_guard lock(feeds_mu_);
  ++feeds_;
}

void ThreadBackend::close_feed() noexcept {
  std::lock_guard lock(feeds_mu_);
  if (--feeds_ == 0 && stop_pending_) stop_workers_locked();
}

// One empty task per worker, behind the queued ones: each worker leaves at
// its own. With feeds_mu_ held; once.
void ThreadBackend::stop_workers_locked() {
  stop_pending_ = false;
  for (std::size_t i = 0; i < threads_.size(); ++i) tasks_.put(Task{});
}

void ThreadBackend::close() {
  int expected = kRunning;
  if (!state_.compare_exchange_strong(expected, kClosed)) return;
  std::lock_guard lock(feeds_mu_);
  if (feeds_ == 0) {
    stop_workers_locked();
  } else {
    stop_pending_ = true;  // an imap still reads its input: the last one stops the workers
  }
}

void ThreadBackend::terminate() {
  const int was = state_.exchange(kTerminated);
  if (was == kTerminated) return;
  {
    std::lock_guard lock(feeds_mu_);
    if (was == kRunning || stop_pending_) stop_workers_locked();
  }
  join();
}

void ThreadBackend::join() {
  std::call_once(joined_, [this] {
    for (auto& t : threads_) t.join();
    results_.put(std::function<void()>{});
    result_thread_.join();
  });
}

void ThreadBackend::worker_main() {
  if (initializer_) {
    try {
      initializer_();
    } catch (const std::exception& e) {
      std::lock_guard lock(broken_mu_);
      if (broken_.empty()) broken_ = std::string("A thread in the pool failed in its initializer: ") + e.what();
    } catch (...) {
      std::lock_guard lock(broken_mu_);
      if (broken_.empty()) broken_ = "A thread in the pool failed in its initializer";
    }
  }
  for (;;) {
    Task task = tasks_.get();
    if (!task.run) return;
    std::exception_ptr refused;
    {
      std::lock_guard lock(broken_mu_);
      if (!broken_.empty()) refused = std::make_exception_ptr(BrokenThreadPool(broken_));
    }
    if (!refused && state_.load() == kTerminated) {
      refused = std::make_exception_ptr(ProcessError("the pool was terminated"));
    }
    if (refused) {
      results_.put([fail = std::move(task.fail), refused] { fail(refused); });
      continue;
    }
    try {
      results_.put(task.run());
    } catch (...) {
      results_.put([fail = std::move(task.fail), e = std::current_exception()] { fail(e); });
    }
  }
}

void ThreadBackend::result_main() {
  for (;;) {
    std::function<void()> done = results_.get();
    if (!done) return;
    done();
  }
}

// ---- what both share ---------------------------------------------------------

void run_pool_callback(const char* what, const std::function<void()>& fn) noexcept {
  try {
    fn();
  } catch (...) {
    log_exception(std::string("exception in a pool ") + what, std::current_exception());
  }
}

Progress::Progress(bool enabled, std::size_t total)
    : on_(enabled && ::isatty(STDERR_FILENO) == 1), total_(total), start_ns_(Deadline::now_ns()) {}

void Progress::advance(std::size_t items) noexcept {
  std::lock_guard lock(mu_);
  if (!on_) return;
  done_ += items;
  const std::int64_t now = Deadline::now_ns();
  if (now - last_draw_ns_ >= 100'000'000) {
    last_draw_ns_ = now;
    draw(false);
  }
}

void Progress::finish() noexcept {
  std::lock_guard lock(mu_);
  if (!on_) return;
  draw(true);
  on_ = false;  // once
}

void Progress::draw(bool final) noexcept {
  constexpr int kWidth = 30;
  const double elapsed = static_cast<double>(Deadline::now_ns() - start_ns_) / 1e9;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  char bar[kWidth + 1];
  const int fill = static_cast<int>(frac * kWidth);
  for (int i = 0; i < kWidth; ++i) bar[i] = i < fill ? '#' : '.';
  bar[kWidth] = '\0';
  if (total_ == 0) {
    std::fprintf(stderr, "\r%zu items %.0f items/s%s", done_, rate, final ? "\n" : "   ");
    std::fflush(stderr);
    return;
  }
  char eta[32] = "";
  if (!final && rate > 0 && done_ <= total_) {
    std::snprintf(eta, sizeof eta, " ETA %.1fs", static_cast<double>(total_ - done_) / rate);
  }
  std::fprintf(stderr, "\r[%s] %zu/%zu %.0f items/s%s%s", bar, done_, total_, rate, eta, final ? "\n" : "   ");
  std::fflush(stderr);
}

}  // namespace mpx::detail
