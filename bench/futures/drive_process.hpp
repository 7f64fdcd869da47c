// bench/futures/drive_process.hpp — the futures.process.* figures, measured
// as the futures.thread.* ones (drive.hpp's tasks_per_s and us_round_trip):
//
//   futures.process.submit  tasks/s: N submits of `i * i` to a pool of 2
//                           worker processes, then the value of each in order
//   futures.process.rt      µs per submit(i) then get(), one at a time
//
// `make()` builds the pool (once, only if a process figure is asked for);
// submit(pool, i) and get(future) as in drive.hpp. No mpx here.
#pragma once

#include <memory>

#include "drive.hpp"

namespace futbench {

inline bool wants_process(const bench::Args& args) {
  return args.wants("futures.process.submit") || args.wants("futures.process.rt");
}

template <class Make, class Submit, class Get>
void run_process(const bench::Args& args, Make make, Submit submit, Get get) {
  if (!wants_process(args)) return;
  auto pool = make();
  auto sub = [&](long i) { return submit(*pool, i); };
  const char* tput = "futures.process.submit";
  if (args.wants(tput)) {
    long n = args.count(tput, 200000);
    bench::emit(
        tput, "tasks/s",
        bench::repeat(
            args.reps(), [&] { return tasks_per_s(n / 10 + 1, sub, get); }, [&] { return tasks_per_s(n, sub, get); }));
  }
  const char* rt = "futures.process.rt";
  if (args.wants(rt)) {
    long n = args.count(rt, 20000);
    bench::emit(rt, "us",
                bench::repeat(
                    args.reps(), [&] { return us_round_trip(n / 10 + 1, sub, get); },
                    [&] { return us_round_trip(n, sub, get); }));
  }
}

/// Whether any futures.thread.* figure is asked for.
inline bool wants_thread(const bench::Args& args) {
  return args.wants("futures.thread.submit") || args.wants("futures.thread.rt");
}

}  // namespace futbench
