// 50_aio_tasks_switching: coroutines switch at IO waits — one thread, many tasks.
//
// Seed lesson: 单线程下实现并发 — 协程 (concurrency in one thread:
// coroutines). Concurrency is "switching + saving state"; a coroutine does
// both in user space, and switches exactly where it would otherwise wait
// for IO. Python's asyncio:
//
//   async def worker(name, delay):
//       for step in range(3):
//           print(f"{name} step {step}")
//           await asyncio.sleep(delay)      # the IO wait: other tasks run now
//       return f"{name} done"
//   async def main():
//       print(await asyncio.gather(worker("A", 0.010), worker("B", 0.015)))
//   asyncio.run(main())
//
// Three tasks share the thread; while one "waits" (sleep stands in for a
// socket read), the loop runs another, so the total time is about the
// longest task, not the sum. The interleaving is fixed by the deadlines, so
// the output is deterministic.
#include <chrono>
#include <cstdio>
#include <string>

#include "mpx/aio.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

aio::Task<std::string> worker(std::string name, std::chrono::milliseconds delay) {
  for (int step = 0; step < 3; ++step) {
    std::printf("%s step %d\n", name.c_str(), step);
    co_await aio::sleep(delay);  // switch: the loop runs whoever is ready
  }
  co_return name + " done";
}

aio::Task<> main_task() {
  auto start = aio::clock::now();
  auto [a, b, c] = co_await aio::gather(worker("A", 40ms), worker("B", 70ms), worker("C", 100ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(aio::clock::now() - start);
  std::printf("%s, %s, %s\n", a.c_str(), b.c_str(), c.c_str());
  // Sequentially it would take 3 x (40 + 70 + 100) = 630 ms.
  std::printf("all three in one thread, concurrently: %s\n", took < 600ms ? "yes" : "no");
}

int main() {
  aio::run(main_task());
  return 0;
}
