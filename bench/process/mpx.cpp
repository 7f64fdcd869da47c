// process.start_join.* with mpx: Process(target=noop).start(); join();
// repeated n times, reported as milliseconds per process.
//
//   process.start_join.fork    the default start method
//   process.start_join.spawn   mpx::get_context("spawn"): a fresh run of this
//                              binary, which mpx::init turns into the child
//   process.start_join.forkserver  mpx::get_context("forkserver"): a fork of
//                              the server (a fresh run of this binary, started
//                              once, in the warm-up) per child
//
// Python does the same with multiprocessing's contexts (python.py); the
// limits are a bare fork()+_exit(0)+waitpid (fork, and forkserver: its best
// case is one fork of a small process) and posix_spawn of /bin/true (limit.cpp).
#include <mpx/context.hpp>
#include <mpx/process.hpp>

#include "bench.hpp"

namespace {

void noop() {}

double ms_per_process(const mpx::Context& ctx, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    auto p = ctx.Process(noop);
    p.start();
    p.join();
    // A child that failed would make the figure meaningless, not just slow.
    if (p.exitcode() != 0) bench::fail("mpx child exited with " + std::to_string(p.exitcode().value_or(-999)));
  }
  return bench::seconds_since(t0) * 1e3 / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  mpx::init(argc, argv);  // a spawned child runs noop here and exits; the forkserver serves here
  bench::Args args(argc, argv);
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    std::string name = std::string("process.start_join.") + method;
    if (!args.wants(name)) continue;
    auto ctx = mpx::get_context(method);
    long n = args.count(name, 2000);
    auto samples = bench::repeat(
        args.reps(), [&] { return ms_per_process(ctx, n / 10 + 1); }, [&] { return ms_per_process(ctx, n); });
    bench::emit(name, "ms", samples);
  }
  return 0;
}
