// futures.thread.* with mpx: ThreadPoolExecutor(2), submit() and result() (drive.hpp).
// futures.process.* with mpx: ProcessPoolExecutor(2), fork, the same
// (drive_process.hpp); run first, before any thread pool exists.
#include <mpx/futures.hpp>

#include <memory>

#include "drive_process.hpp"

namespace {
long square(long i) { return i * i; }
}  // namespace

int main(int argc, char** argv) {
  const bench::Args args(argc, argv);
  futbench::run_process(
      args,
      [] {
        return std::make_unique<mpx::futures::ProcessPoolExecutor>(
            mpx::futures::ProcessPoolOptions{.max_workers = 2, .mp_context = mpx::get_context("fork")});
      },
      [](mpx::futures::ProcessPoolExecutor& ex, long i) { return ex.submit(square, i); },
      [](const mpx::futures::Future<long>& f) { return f.result(); });
  if (!futbench::wants_thread(args)) return 0;
  mpx::futures::ThreadPoolExecutor ex(2);
  return futbench::run(
      argc, argv, [&](long i) { return ex.submit([i] { return i * i; }); },
      [](const mpx::futures::Future<long>& f) { return f.result(); });
}
