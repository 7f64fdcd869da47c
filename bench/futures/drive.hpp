// bench/futures/drive.hpp — what the futures.thread.* programs share: the two
// figures, measured the same way for every pool (the PEERS.md programs'
// method, baseline/peers/pools.cpp). A pool program supplies submit(i), which
// schedules the trivial task `i * i` (a long) and returns its future, and
// get(f), which waits for that future's value.
//
//   futures.thread.submit  tasks/s: N submits from this thread, then the value
//                          of each in order; futures freed after the clock stops
//   futures.thread.rt      µs per submit(i) then get(), one at a time
//
// No mpx here: the limit and the peers use it too.
#pragma once

#include <vector>

#include "bench.hpp"

namespace futbench {

inline long expected_sum(long n) {
  long s = 0;
  for (long i = 0; i < n; ++i) s += i * i;
  return s;
}

template <class Submit, class Get>
double tasks_per_s(long n, Submit& submit, Get& get) {
  using F = decltype(submit(0L));
  std::vector<F> futs;
  futs.reserve(static_cast<std::size_t>(n));
  const long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) futs.push_back(submit(i));
  long sum = 0;
  for (auto& f : futs) sum += get(f);
  const double s = bench::seconds_since(t0);
  if (sum != expected_sum(n)) bench::fail("wrong results");
  return static_cast<double>(n) / s;
}

template <class Submit, class Get>
double us_round_trip(long n, Submit& submit, Get& get) {
  long sum = 0;
  const long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    auto f = submit(i);
    sum += get(f);
  }
  const double s = bench::seconds_since(t0);
  if (sum != expected_sum(n)) bench::fail("wrong results");
  return s / static_cast<double>(n) * 1e6;
}

/// Runs the figures asked for on the command line with one pool.
template <class Submit, class Get>
int run(int argc, char** argv, Submit submit, Get get) {
  bench::Args args(argc, argv);
  const char* tput = "futures.thread.submit";
  if (args.wants(tput)) {
    long n = args.count(tput, 200000);
    bench::emit(tput, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return tasks_per_s(n / 10 + 1, submit, get); },
                    [&] { return tasks_per_s(n, submit, get); }));
  }
  const char* rt = "futures.thread.rt";
  if (args.wants(rt)) {
    long n = args.count(rt, 20000);
    bench::emit(rt, "us",
                bench::repeat(
                    args.reps(), [&] { return us_round_trip(n / 10 + 1, submit, get); },
                    [&] { return us_round_trip(n, submit, get); }));
  }
  return 0;
}

}  // namespace futbench
