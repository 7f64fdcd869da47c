// process.start_join.fork, the limit: fork() + _exit(0) + waitpid() from a
// small process (BASELINES.md B1 fork_exit_waitpid_small). No mpx here.
#include <unistd.h>

#include "bench.hpp"

namespace {

double ms_per_process(long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) _exit(0);
    bench::wait_ok(pid);
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
