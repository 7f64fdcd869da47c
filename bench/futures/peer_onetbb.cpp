// futures.thread.* peer: oneTBB task_arena(2 slots, none reserved) — two TBB
// workers, the submitting thread outside the arena as a ThreadPoolExecutor's
// caller is — arena.enqueue() of a std::packaged_task, std::future per task:
// PEERS.md's program (baseline/peers/pools.cpp, tbb_arena_enqueue_futures_tput).
// global_control allows 2 workers (TBB's default is one fewer than the CPUs).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <future>
#include <memory>

#include "drive.hpp"

int main(int argc, char** argv) {
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 3);
  tbb::task_arena arena(2, 0);
  arena.initialize();
  return futbench::run(
      argc, argv,
      [&](long i) {
        auto task = std::make_shared<std::packaged_task<long()>>([i] { return i * i; });
        auto f = task->get_future();
        arena.enqueue([task] { (*task)(); });
        return f;
      },
      [](std::future<long>& f) { return f.get(); });
}
