// pool.*, the limit: a minimal shared-memory process pool without mpx
// (shm_pool.hpp; BASELINES.md B5), 2 forked workers, the task x -> x*x.
//
//   pool.map.chunksize1   one message per task and one per result, spin
//                         (bounded) then futex; tasks/s
//   pool.map.default      Python's default chunking (len / (4 × 2) rounded
//                         up: 8 chunks): one message per chunk each way, the
//                         items and results through shared arrays; tasks/s
//   pool.apply_async.rt   one task at a time, round robin over the 2
//                         workers, everyone blocking on a futex (BASELINES'
//                         21.7 µs); µs per round trip
//
// `--processes N` (default 2, at most 8) varies the worker count.
#include <vector>

#include "bench.hpp"
#include "shm_pool.hpp"

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const int processes = static_cast<int>(args.option("processes", 2));
  if (processes > shmpool::Pool::kMaxWorkers) bench::fail("--processes: at most 8");
  const char* chunk1 = "pool.map.chunksize1";
  if (args.wants(chunk1)) {
    const long n = args.count(chunk1, 1000000);
    shmpool::Pool pool(processes, shmpool::Mode::Spin, 0);
    bench::emit(chunk1, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return pool.map_one_by_one(static_cast<std::uint64_t>(n / 10 + 1)); },
                    [&] { return pool.map_one_by_one(static_cast<std::uint64_t>(n)); }));
  }
  const char* dflt = "pool.map.default";
  if (args.wants(dflt)) {
    const long n = args.count(dflt, 1000000);
    shmpool::Pool pool(processes, shmpool::Mode::Spin, static_cast<std::size_t>(n));
    std::vector<std::uint64_t> items(static_cast<std::size_t>(n)), out;
    for (std::size_t i = 0; i < items.size(); ++i) items[i] = i;
    const std::uint64_t per = 4 * static_cast<std::uint64_t>(processes);
    const std::uint64_t chunksize = (items.size() + per - 1) / per;
    bench::emit(dflt, "tasks/s",
                bench::repeat(
                    args.reps(), [&] { return pool.map_chunked(items, chunksize, out); },
                    [&] { return pool.map_chunked(items, chunksize, out); }));
  }
  const char* rt = "pool.apply_async.rt";
  if (args.wants(rt)) {
    const long n = args.count(rt, 20000);
    shmpool::Pool pool(processes, shmpool::Mode::Block, 0);
    bench::emit(rt, "us",
                bench::repeat(
                    args.reps(), [&] { return pool.round_trip_us(static_cast<std::uint64_t>(n / 10 + 1)); },
                    [&] { return pool.round_trip_us(static_cast<std::uint64_t>(n)); }));
  }
  return 0;
}
