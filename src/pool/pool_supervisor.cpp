// The supervisor of a process pool: it starts every worker (their
// PR_SET_PDEATHSIG follows the thread that started them), watches their
// pidfds, reaps the dead and replaces them, and tells the result thread
// (detail/process_pool.hpp has the diagram).
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "mpx/context.hpp"
#include "mpx/detail/process_pool.hpp"
#include "pool/pool_control.hpp"

namespace mpx::detail {

namespace {

using pool::ResultHeader;

std::string worker_name(const std::string& method, int n) {
  std::string prefix = method.empty() ? get_start_method() : method;
  prefix[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(prefix[0])));
  if (prefix == "Forkserver") prefix = "ForkServer";
  return prefix + "PoolWorker-" + std::to_string(n);
}

}  // namespace

void ProcessPoolCore::wake_supervisor() noexcept {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);  // EAGAIN: already awake
}

// ---- the supervisor ---------------------------------------------------------

void ProcessPoolCore::start_worker(std::uint32_t index) {
  static std::atomic<int> counter{0};
  PoolWorkerArgs args = args_;
  args.index = index;
  Context ctx = get_context(config_.start_method);
  Process p = ctx.Process(ProcessOptions{.name = worker_name(ctx.get_start_method(), ++counter), .daemon = true},
                          pool_worker_main, std::move(args));
  p.start();
  std::lock_guard lock(mu_);
  workers_[index] = Worker{.process = p, .alive = true, .starting = false};
  if (state_ == State::Terminated) p.kill();  // terminate() ran while it started
}

void ProcessPoolCore::start_requested_workers() {
  for (std::uint32_t i = 0; i < args_.slots; ++i) {
    {
      std::lock_guard lock(mu_);
      if (!workers_[i].starting) continue;
    }
    std::exception_ptr error;
    try {
      start_worker(i);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      workers_[i].starting = false;
      if (error) demand_error_ = error;
    }
    workers_changed_.notify_all();
  }
}

void ProcessPoolCore::supervisor_loop() {
  std::exception_ptr error;
  try {
    if (!config_.start_on_demand) {
      for (std::uint32_t i = 0; i < args_.slots; ++i) start_worker(i);
    }
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
    start_error_ = error;
  }
  workers_changed_.notify_all();
  std::vector<pollfd> fds;
  std::vector<std::uint32_t> who;
  for (;;) {
    if (config_.start_on_demand) start_requested_workers();
    fds.assign(1, pollfd{wake_.get(), POLLIN, 0});
    who.clear();
    {
      std::lock_guard lock(mu_);
      bool starting = false;
      for (std::uint32_t i = 0; i < workers_.size(); ++i) {
        starting = starting || workers_[i].starting;
        if (!workers_[i].alive) continue;
        fds.push_back(pollfd{workers_[i].process.sentinel(), POLLIN, 0});
        who.push_back(i);
      }
      if (who.empty() && !starting && state_ != State::Running) break;
    }
    int timeout_ms = -1;
    {
      std::lock_guard lock(mu_);
      if (state_ == State::Terminated) timeout_ms = terminate_deadline_.poll_timeout_ms();
    }
    if (timeout_ms == 0) {
      // terminate()'s grace is over: whoever is still there is stuck.
      std::lock_guard lock(mu_);
      for (auto& w : workers_) {
        if (w.alive) w.process.kill();
      }
      terminate_deadline_ = Deadline::never();
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
      if (errno == EINTR) continue;
      std::perror("mpx pool supervisor: poll");
      std::abort();
    }
    if (fds[0].revents) {
      std::uint64_t n;
      [[maybe_unused]] auto r = ::read(wake_.get(), &n, sizeof n);
    }
    for (std::size_t k = 1; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      Process p = [&] {
        std::lock_guard lock(mu_);
        return workers_[who[k - 1]].process;
      }();
      p.join();
      handle_death(who[k - 1], p.exitcode());
    }
  }
  ResultHeader stop;
  stop.kind = pool::kStop;
  {
    std::lock_guard lock(mu_);
    ++notices_;
    wake_result_thread_locked();
  }
  args_.results.put(std::span(reinterpret_cast<const std::byte*>(&stop), sizeof stop), Deadline::never());
}

// Runs on the supervisor once `index` has been reaped: every complete result
// it put is in the ring already, so the kDied message lands behind them.
void ProcessPoolCore::handle_death(std::uint32_t index, std::optional<int> exitcode) {
  auto& s = pool::slot(args_.control, index);
  std::uint64_t task = s.task.load(std::memory_order_seq_cst);
  const bool init_failed = task == pool::kInitFailedTask;
  if (init_failed) task = 0;
  const std::int64_t deadline = s.deadline_ns.load(std::memory_order_relaxed);
  const bool timed_out = task != 0 && deadline != 0 && pool::steady_ns() >= deadline;
  pool::raise_to(pool::header(args_.control).last_taken, task);
  s.deadline_ns.store(0, std::memory_order_relaxed);
  s.task.store(0, std::memory_order_seq_cst);

  ResultHeader died;
  died.kind = pool::kDied;
  died.worker = index;
  died.id = task;
  died.exitcode = exitcode.value_or(0);
  died.timed_out = timed_out;
  // maxtasksperchild or close(): a worker leaving on its own, not a death.
  died.clean = task == 0 && died.exitcode == 0;

  // Whether the pool breaks is the result thread's call (it reads this
  // death after the worker's results, and after an initializer's failure).
  bool replace;
  {
    std::lock_guard lock(mu_);
    workers_[index].alive = false;
    const bool work_left = !table_.empty() || !pending_.empty() || feeds_ > 0;
    replace = !init_failed && (died.clean || config_.replace_dead_workers) && broken_.empty() &&
              (state_ == State::Running || (state_ == State::Closed && work_left));
    workers_[index].starting = replace;  // the slot is taken: an on-demand start picks another
    ++notices_;
    wake_result_thread_locked();
  }
  // The replacement first, so whoever learns of the death finds the pool whole.
  if (replace) {
    try {
      start_worker(index);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      workers_[index].starting = false;
      if (broken_.empty()) broken_ = std::string("a replacement worker could not be started: ") + e.what();
    }
    workers_changed_.notify_all();
  }
  args_.results.put(std::span(reinterpret_cast<const std::byte*>(&died), sizeof died), Deadline::never());
}

}  // namespace mpx::detail
