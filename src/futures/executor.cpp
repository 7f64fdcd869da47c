// ThreadPoolExecutor's out-of-line members (detail/executor.hpp).
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "mpx/futures.hpp"

namespace mpx::futures {

namespace {

// Python 3.13's os.process_cpu_count(): the CPUs this process may run on.
int process_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  int n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

// Python: ThreadPoolExecutor._counter, for the default thread name prefix.
std::atomic<int> g_counter{0};

}  // namespace

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options) {
  const int n = options.max_workers ? *options.max_workers : std::min(32, process_cpu_count() + 4);
  if (n <= 0) throw ValueError("max_workers must be greater than 0");
  std::string prefix = options.thread_name_prefix.empty()
                           ? "ThreadPoolExecutor-" + std::to_string(g_counter.fetch_add(1))
                           : std::move(options.thread_name_prefix);
  core_ = std::make_shared<mpx::detail::PoolCore>(n, std::move(prefix), std::move(options.initializer));
  core_->register_for_exit();
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  try {
    core_->shutdown(true, false);
  } catch (...) {
    // A join that cannot happen (this thread is a worker): the pool ends by itself.
  }
}

void ThreadPoolExecutor::shutdown(ShutdownOptions options) { core_->shutdown(options.wait, options.cancel_futures); }

void ThreadPoolExecutor::enqueue(mpx::detail::FutureCore* task) {
  core_->enter();
  Leave leave{core_.get()};
  core_->push(task);
  core_->adjust_thread_count();
}

}  // namespace mpx::futures
