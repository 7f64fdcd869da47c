// futures::ProcessPoolExecutor's out-of-line parts (detail/process_executor.hpp).
#include "mpx/futures.hpp"

namespace mpx::futures {

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
  config.replace_dead_workers = options.replace_dead_workers;
  config.broken_message =
      "A process in the process pool was terminated abruptly while the future was running or pending.";
  config.closed_runtime_error = "cannot schedule new futures after shutdown";
  core_ = std::make_unique<mpx::detail::ProcessPoolCore>(std::move(config));
}

ProcessPoolExecutor::~ProcessPoolExecutor() { shutdown(ShutdownOptions{.wait = true}); }

void ProcessPoolExecutor::shutdown(ShutdownOptions options) {
  core_->close();
  if (options.cancel_futures) core_->cancel_pending();
  if (options.wait) core_->join(mpx::detail::Deadline::never());
}

void ProcessPoolExecutor::enqueue(mpx::detail::FutureCore*) {
  throw ProcessError(
      "ProcessPoolExecutor: a call submitted through the Executor base cannot travel to a worker process; call "
      "submit() on the ProcessPoolExecutor itself");
}

}  // namespace mpx::futures
