// pool.* with mpx: mpx::Pool with 2 workers (fork, as the Python side), the
// task `long square(long)`.
//
//   pool.map.chunksize1   pool.map({.chunksize = 1}, square, items): one task
//                         message per item; tasks/s
//   pool.map.default      pool.map(square, items): Python's default chunking
//                         (len / (4 × processes), rounded up); tasks/s
//   pool.apply_async.rt   pool.apply_async(square, i).get(), one at a time; µs
//
// The items vector is built before the clock starts; the pool is started
// (and warmed up by the warm-up repetition) before it too. `--processes N`
// (default 2) varies the worker count, to study the engine.
#include <mpx/pool.hpp>

#include <vector>

#include "bench.hpp"

namespace {

long square(long x) { return x * x; }

std::vector<long> iota(long n) {
  std::vector<long> v(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

void check(const std::vector<long>& got, long n) {
  if (got.size() != static_cast<std::size_t>(n)) bench::fail("map: wrong number of results");
  for (long i = 0; i < n; ++i) {
    if (got[static_cast<std::size_t>(i)] != i * i) bench::fail("map: wrong result");
  }
}

double map_tasks_per_s(mpx::Pool& pool, long n, bool chunksize1) {
  const std::vector<long> items = iota(n);
  const long long t0 = bench::now_ns();
  std::vector<long> out = chunksize1 ? pool.map({.chunksize = 1}, square, items) : pool.map(square, items);
  const double s = bench::seconds_since(t0);
  check(out, n);
  return static_cast<double>(n) / s;
}

double apply_us(mpx::Pool& pool, long n) {
  long sum = 0;
  const long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) sum += pool.apply_async(square, i).get();
  const double s = bench::seconds_since(t0);
  long expect = 0;
  for (long i = 0; i < n; ++i) expect += i * i;
  if (sum != expect) bench::fail("apply_async: wrong results");
  return s / static_cast<double>(n) * 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const int processes = static_cast<int>(args.option("processes", 2));
  mpx::Pool pool(mpx::PoolOptions{.processes = processes, .context = mpx::get_context("fork")});
  const char* chunk1 = "pool.map.chunksize1";
  if (args.wants(chunk1)) {
    const long n = args.count(chunk1, 1000000);
    bench::emit(chunk1, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return map_tasks_per_s(pool, n / 10 + 1, true); },
                    [&] { return map_tasks_per_s(pool, n, true); }));
  }
  const char* dflt = "pool.map.default";
  if (args.wants(dflt)) {
    const long n = args.count(dflt, 1000000);
    bench::emit(dflt, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return map_tasks_per_s(pool, n, false); },
                    [&] { return map_tasks_per_s(pool, n, false); }));
  }
  const char* rt = "pool.apply_async.rt";
  if (args.wants(rt)) {
    const long n = args.count(rt, 20000);
    bench::emit(rt, "us",
                bench::repeat(
                    args.reps(), [&] { return apply_us(pool, n / 10 + 1); }, [&] { return apply_us(pool, n); }));
  }
  return 0;
}
