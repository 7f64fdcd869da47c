// process.start_join.fork with mpx: Process(target=noop).start(); join();
// repeated n times, reported as milliseconds per process.
//
// Python does the same with multiprocessing's fork context (python.py); the
// limit is a bare fork()+_exit(0)+waitpid (limit.cpp).
#include <mpx/process.hpp>

#include "bench.hpp"

namespace {

double ms_per_process(long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    mpx::Process p([] {});
    p.start();
    p.join();
    // A child that failed would make the figure meaningless, not just slow.
    if (p.exitcode() != 0) bench::fail("mpx child exited with " + std::to_string(p.exitcode().value_or(-999)));
  }
  return bench::seconds_since(t0) * 1e3 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const char* name = "process.start_join.fork";
  if (args.wants(name)) {
    long n = args.count(name, 2000);
    auto samples = bench::repeat(
        args.reps(), [&] { return ms_per_process(n / 10 + 1); }, [&] { return ms_per_process(n); });
    bench::emit(name, "ms", samples);
  }
  return 0;
}
