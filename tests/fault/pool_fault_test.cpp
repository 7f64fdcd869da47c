// kill -9 of pool workers at random points — while they run a task, wait
// for one, hold the task ring's consumer lock, or put a result: every task
// whose worker survived returns the right value, every other fails with
// WorkerLost, none is run twice, nothing hangs, and the pool keeps its size.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "mpx/detail/arena.hpp"
#include "mpx/futures.hpp"
#include "mpx/pool.hpp"
#include "mpx/sharedctypes.hpp"

using namespace std::chrono_literals;

namespace {

// A little work (about 100 µs), so kills land in every phase of a task.
long checked_square(int x) {
  volatile long spin = 0;
  for (int i = 0; i < 100000; ++i) spin = spin + i;
  return static_cast<long>(x) * x;
}

// Each worker gets the run counters as its initializer's argument (Python's
// initargs: shared by inheritance), and counts every task it runs in them.
std::optional<mpx::RawArray<int>> g_runs;
void take_runs(mpx::RawArray<int> runs) { g_runs = runs; }
long counted_square(int x) {
  auto& runs = *g_runs;
  runs[static_cast<std::size_t>(x)] = runs[static_cast<std::size_t>(x)] + 1;
  return checked_square(x);
}

int die_by_sigkill(int) {
  ::raise(SIGKILL);
  return 0;
}
int hang(int) {
  for (;;) ::pause();
}

// Kills a random worker every few hundred µs until told to stop.
class Killer {
 public:
  template <class Workers>
  Killer(Workers workers, int max_kills) {
    thread_ = std::thread([this, workers, max_kills] {
      std::mt19937 rng(12345);
      while (!stop_ && kills_ < max_kills) {
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));  // spacing, not sync
        auto ws = workers();
        if (ws.empty()) continue;
        ws[rng() % ws.size()].kill();
        ++kills_;
      }
    });
  }
  ~Killer() { stop(); }
  int stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return kills_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> kills_{0};
  std::thread thread_;
};

}  // namespace

TEST(PoolFault, KillNineAtRandomPointsInAThousandTaskMap) {
  constexpr int kTasks = 1000;
  mpx::RawArray<int> runs(kTasks);
  mpx::Pool pool({.processes = 2, .initializer = {take_runs, runs}});
  std::vector<int> in(kTasks);
  for (int i = 0; i < kTasks; ++i) in[static_cast<std::size_t>(i)] = i;
  int ok = 0, lost = 0;
  {
    Killer killer([&] { return pool.workers(); }, 25);
    auto it = pool.imap(counted_square, in);
    for (int i = 0; i < kTasks; ++i) {
      try {
        auto v = it.next(60s);
        ASSERT_TRUE(v);
        EXPECT_EQ(*v, static_cast<long>(i) * i) << i;
        ++ok;
      } catch (const mpx::WorkerLost& e) {
        EXPECT_EQ(e.exitcode(), -SIGKILL);
        ++lost;
      }
    }
    EXPECT_EQ(it.next(1s), std::nullopt);
    const int kills = killer.stop();
    std::printf("%d kills, %d tasks lost\n", kills, lost);
    EXPECT_LE(lost, kills);
    EXPECT_GT(kills, 0);
  }
  EXPECT_EQ(ok + lost, kTasks);
  EXPECT_GT(ok, kTasks / 2);
  for (int i = 0; i < kTasks; ++i) EXPECT_LE(runs[static_cast<std::size_t>(i)], 1) << "task " << i << " ran twice";
  // The pool is whole again and works.
  EXPECT_EQ(pool.map(checked_square, std::vector<int>{1, 2, 3}), (std::vector<long>{1, 4, 9}));
  EXPECT_EQ(pool.workers().size(), 2u);
  pool.close();
  pool.join();
}

// `rounds` maps of 0..n-1 with `chunksize` while a killer kills up to
// `max_kills` workers: each map returns every value right or fails with
// WorkerLost (by SIGKILL), none hangs, fewer fail than were killed, and
// the pool works afterwards.
namespace {
void maps_under_kills(int n, std::size_t chunksize, int rounds, int max_kills) {
  mpx::Pool pool(2);
  std::vector<int> in(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) in[static_cast<std::size_t>(i)] = i;
  Killer killer([&] { return pool.workers(); }, max_kills);
  int failed_maps = 0;
  for (int round = 0; round < rounds; ++round) {
    try {
      auto out = pool.map({.chunksize = chunksize}, checked_square, in);
      ASSERT_EQ(out.size(), in.size());
      for (int i = 0; i < n; ++i) ASSERT_EQ(out[static_cast<std::size_t>(i)], static_cast<long>(i) * i);
    } catch (const mpx::WorkerLost& e) {
      EXPECT_EQ(e.exitcode(), -SIGKILL);
      ++failed_maps;
    }
  }
  EXPECT_LE(failed_maps, killer.stop());
  EXPECT_EQ(pool.apply(checked_square, 12), 144);
  EXPECT_EQ(pool.map({.chunksize = 1}, checked_square, std::vector<int>{1, 2, 3}), (std::vector<long>{1, 4, 9}));
}
}  // namespace

TEST(PoolFault, KillNineDuringChunkedMapsFailsOnlyTheirChunks) { maps_under_kills(2000, 50, 10, 10); }

// map() with chunksize 1: its caller feeds the ring and reads the results
// itself, and hands a worker's death over to the result thread.
TEST(PoolFault, KillNineWhileAMapCallerReadsItsOwnResults) { maps_under_kills(3000, 1, 6, 12); }

TEST(PoolFault, ExecutorReplacingDeadWorkersSurvivesKills) {
  namespace fut = mpx::futures;
  fut::ProcessPoolExecutor ex({.max_workers = 2, .replace_dead_workers = true});
  std::vector<fut::Future<long>> fs;
  for (int i = 0; i < 500; ++i) fs.push_back(ex.submit(checked_square, i));
  Killer killer([&] { return ex.processes(); }, 10);
  int ok = 0, lost = 0;
  for (int i = 0; i < 500; ++i) {
    try {
      EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(60s), static_cast<long>(i) * i);
      ++ok;
    } catch (const mpx::WorkerLost&) {
      ++lost;
    }
  }
  EXPECT_LE(lost, killer.stop());
  EXPECT_EQ(ok + lost, 500);
  EXPECT_EQ(ex.broken(), "");
}

// A worker killed by a signal never gives back the counts its fork took on
// the shared blocks (the pool's rings, and every other object of the
// parent): the parent gives them back once it has reaped it (the fork
// ledger, detail/shared_object.hpp). Without that, every crash or timeout
// would leak the pool's 8 MiB of rings for good.
TEST(PoolFault, KilledWorkersGiveTheirSharedMemoryBack) {
  auto& arena = mpx::detail::Arena::shared();
  mpx::Value<int> bystander(0);  // an object of the parent, inherited by every worker
  auto cycle = [] {
    mpx::Pool pool(2);
    EXPECT_THROW(pool.apply(die_by_sigkill, 0), mpx::WorkerLost);
    EXPECT_THROW(pool.apply_async({.timeout = 50ms}, hang, 0).get(10s), mpx::TimeoutError);
    pool.close();
    pool.join();
  };
  cycle();  // whatever a first pool makes for good
  const auto before = arena.used();
  for (int i = 0; i < 3; ++i) cycle();
  EXPECT_EQ(arena.used(), before);
}
