// futures::ProcessPoolExecutor's out-of-line parts (detail/process_executor.hpp),
// and its exit hook: Python's concurrent.futures.process._python_exit.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "mpx/futures.hpp"
#include "os/children.hpp"

namespace mpx::futures {

namespace {

// Every live executor's engine, for the exit hook (Python's
// _threads_wakeups). Leaked: the hook runs during exit, after static objects
// may be gone. Weak: an executor's destructor is never held up by the list.
struct ExecutorRegistry {
  std::mutex mu;
  std::vector<std::pair<std::weak_ptr<mpx::detail::ProcessPoolCore>, pid_t>> live;
  bool hook_set = false;
  bool exiting = false;  // the hook ran: Python's _global_shutdown
};
ExecutorRegistry* const g_registry = new ExecutorRegistry;

// A fork child has none of the parent's executor threads, and the lock may
// have been held by a thread that does not exist there: the child forgets
// the parent's executors (the pid of each entry says so too, for safety).
void atfork_prepare() { g_registry->mu.lock(); }
void atfork_parent() { g_registry->mu.unlock(); }
void atfork_child() {
  new (&g_registry->mu) std::mutex;
  g_registry->live.clear();
}

// Python runs _python_exit from threading's _shutdown, before
// multiprocessing's exit handler terminates the daemonic children — the
// workers. mpx terminates them in exit_children() (at exit, or from
// threading's handler, whichever comes first), which runs this first: every
// executor of this process stops taking work, finishes what was submitted,
// and its workers and threads are joined.
void exit_hook() noexcept {
  std::vector<std::shared_ptr<mpx::detail::ProcessPoolCore>> cores;
  {
    std::lock_guard lock(g_registry->mu);
    g_registry->exiting = true;
    for (auto& [w, pid] : g_registry->live) {
      if (pid != ::getpid()) continue;
      if (auto c = w.lock()) cores.push_back(std::move(c));
    }
  }
  for (auto& c : cores) {
    try {
      c->close();
    } catch (...) {
    }
  }
  for (auto& c : cores) {
    try {
      c->join(mpx::detail::Deadline::never());
    } catch (...) {
    }
  }
}

void register_for_exit(const std::shared_ptr<mpx::detail::ProcessPoolCore>& core) {
  bool exiting = false;
  {
    std::lock_guard lock(g_registry->mu);
    if (!g_registry->hook_set) {
      g_registry->hook_set = true;
      if (int e = ::pthread_atfork(atfork_prepare, atfork_parent, atfork_child); e != 0) {
        mpx::detail::throw_os_error("pthread_atfork", e);
      }
      mpx::detail::set_exit_children_prologue(exit_hook);
    }
    exiting = g_registry->exiting;
    std::erase_if(g_registry->live, [](const auto& e) { return e.first.expired(); });
    g_registry->live.emplace_back(core, ::getpid());
  }
  if (exiting) core->close();  // made during exit: it takes no work (Python's _global_shutdown)
}

bool exiting() {
  std::lock_guard lock(g_registry->mu);
  return g_registry->exiting;
}

}  // namespace

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions options) {
  const int n = options.max_workers.value_or(cpu_count());
  if (n <= 0) throw ValueError("max_workers must be greater than 0");
  // Python 3.11: max_tasks_per_child without an mp_context means spawn.
  const std::string method = options.mp_context            ? options.mp_context->get_start_method()
                             : options.max_tasks_per_child ? std::string("spawn")
                                                           : get_start_method();
  if (options.max_tasks_per_child) {
    if (*options.max_tasks_per_child < 1) throw ValueError("max_tasks_per_child must be >= 1");
    if (method == "fork") {
      throw ValueError(
          "max_tasks_per_child is incompatible with the 'fork' multiprocessing start method; supply a different "
          "mp_context.");
    }
  }
  mpx::detail::ProcessPoolConfig config;
  config.processes = n;
  config.start_method = method;
  config.initializer = options.initializer.run();
  config.ship_initializer = options.initializer.shipper();
  config.maxtasksperchild = options.max_tasks_per_child.value_or(0);
  // Python's call queue holds max_workers + EXTRA_QUEUED_CALLS (1) calls
  // not yet picked up, besides the max_workers running: those are past
  // PENDING; the rest can still be cancelled. (Counting the running ones
  // in the same N + 1 left each worker without a next call whenever the
  // result thread was late, and cost a wake-up chain per task.)
  config.max_in_flight = 2 * static_cast<std::size_t>(n) + 1;
  config.quick_in_flight = std::max<std::size_t>(256, config.max_in_flight);
  config.replace_dead_workers = options.replace_dead_workers;
  // Python 3.9+ (bpo-39207): spawn and forkserver workers start as submits
  // find none idle; fork ones all at once (a thread of ours could otherwise
  // hold a lock at a later fork).
  config.start_on_demand = method != "fork";
  config.broken_message =
      "A process in the process pool was terminated abruptly while the future was running or pending.";
  config.closed_runtime_error = "cannot schedule new futures after shutdown";
  replace_dead_workers_ = options.replace_dead_workers;
  core_ = std::make_shared<mpx::detail::ProcessPoolCore>(std::move(config));
  register_for_exit(core_);
}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(ShutdownOptions{.wait = true}); }

void ProcessPoolExecutor::shutdown(ShutdownOptions options) {
  shut_down_.store(true, std::memory_order_relaxed);
  core_->close();
  if (options.cancel_futures) core_->cancel_pending();
  if (options.wait) core_->join(mpx::detail::Deadline::never());
}

// Python's _force_shutdown: the workers are listed first (shutdown forgets
// them there), the pool shut down without waiting and its pending calls
// cancelled, then each live worker is signalled. The running calls fail when
// the supervisor reaps their workers: an abrupt death breaks the pool.
// With replace_dead_workers a death would not break it, and a replacement
// would escape the signal and run what is queued: Python fails that work
// instead ("forcefully shut down"), which terminate() does first (it also
// kills the busy workers at once, with SIGKILL).
void ProcessPoolExecutor::force_shutdown(int signo) {
  std::vector<Process> workers = core_->workers();
  shutdown(ShutdownOptions{.wait = false, .cancel_futures = true});
  if (replace_dead_workers_) {
    core_->terminate(std::make_exception_ptr(BrokenProcessPool(
        "A worker process exited while the pool was being forcefully shut down; work that was still enqueued will "
        "not be run.")));
  }
  for (auto& p : workers) {
    if (!p.is_alive()) continue;
    if (signo == SIGKILL) {
      p.kill();
    } else {
      p.terminate();
    }
  }
}

void ProcessPoolExecutor::rethrow_refusal() const {
  // Python's order: _broken (not a RuntimeError here, never caught), then
  // _shutdown_thread, then the interpreter's _global_shutdown.
  if (!shut_down_.load(std::memory_order_relaxed) && exiting()) {
    throw RuntimeError("cannot schedule new futures after interpreter shutdown");
  }
  throw;
}

void ProcessPoolExecutor::enqueue(mpx::detail::FutureCore*) {
  throw ProcessError(
      "ProcessPoolExecutor: a call submitted through the Executor base cannot travel to a worker process; call "
      "submit() on the ProcessPoolExecutor itself");
}

}  // namespace mpx::futures
