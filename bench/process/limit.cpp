// process.start_join.*, the limits (no mpx here):
//   fork    fork() + _exit(0) + waitpid() from a small process (BASELINES.md
//           B1 fork_exit_waitpid_small);
//   spawn   posix_spawn() of /bin/true + waitpid(): starting a fresh program.
//   forkserver  the same fork()+_exit(0)+waitpid() as fork: a forkserver's
//           child can at best cost one fork of a small process.
#include <spawn.h>
#include <unistd.h>

#include <string>

#include "bench.hpp"

extern char** environ;

namespace {

double ms_per_fork(long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) _exit(0);
    bench::wait_ok(pid);
  }
  return bench::seconds_since(t0) * 1e3 / static_cast<double>(n);
}

double ms_per_spawn(long n) {
  char prog[] = "/bin/true";
  char* argv[] = {prog, nullptr};
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    pid_t pid = 0;
    if (int rc = posix_spawn(&pid, prog, nullptr, nullptr, argv, environ); rc != 0) {
      errno = rc;
      bench::die("posix_spawn");
    }
    bench::wait_ok(pid);
  }
  return bench::seconds_since(t0) * 1e3 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  struct Figure {
    const char* name;
    double (*once)(long);
  };
  for (Figure f : {Figure{"process.start_join.fork", ms_per_fork}, Figure{"process.start_join.spawn", ms_per_spawn},
                   Figure{"process.start_join.forkserver", ms_per_fork}}) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, 2000);
    bench::emit(f.name, "ms",
                bench::repeat(
                    args.reps(), [&] { return f.once(n / 10 + 1); }, [&] { return f.once(n); }));
  }
  return 0;
}
