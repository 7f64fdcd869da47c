// 51_aio_producer_consumer: producer/consumer with coroutines and an aio::Queue.
//
// Seed lesson: 生产者消费者模型 with 协程 — the producer/consumer of the
// process lessons (16-18), now as tasks of one thread sharing an asyncio
// Queue. put() waits while the queue is full, get() while it is empty;
// join() waits until every item had its task_done(). Python:
//
//   async def producer(q):
//       for i in range(6):
//           await q.put(f"bun {i}")
//           print(f"made bun {i}")
//   async def consumer(q, name):
//       while True:
//           item = await q.get()
//           print(f"{name} ate {item}")
//           q.task_done()
//   async def main():
//       q = asyncio.Queue(maxsize=2)
//       consumers = [asyncio.create_task(consumer(q, n)) for n in ("alice", "bob")]
//       await producer(q)
//       await q.join()
//       for c in consumers: c.cancel()
//
// No sentinels: the consumers are cancelled once join() returns, and the
// CancelledError ends their loops. The order is fixed by the queue's FIFO
// waiters, so the output is deterministic.
#include <cstdio>
#include <string>
#include <vector>

#include "mpx/aio.hpp"

namespace aio = mpx::aio;

aio::Task<> producer(aio::Queue<std::string>& q) {
  for (int i = 0; i < 6; ++i) {
    co_await q.put("bun " + std::to_string(i));
    std::printf("made bun %d\n", i);
  }
}

aio::Task<> consumer(aio::Queue<std::string>& q, std::string name) {
  for (;;) {
    std::string item = co_await q.get();
    std::printf("%s ate %s\n", name.c_str(), item.c_str());
    q.task_done();
  }
}

aio::Task<> main_task() {
  aio::Queue<std::string> q(2);
  std::vector<aio::Task<>> consumers;
  for (const char* n : {"alice", "bob"}) consumers.push_back(aio::create_task(consumer(q, n)));
  co_await producer(q);
  co_await q.join();
  for (auto& c : consumers) c.cancel();
  auto outcomes = co_await aio::gather(aio::GatherOptions{.return_exceptions = true}, consumers);
  std::printf("all eaten; %zu consumers cancelled\n", outcomes.size());
}

int main() {
  aio::run(main_task());
  return 0;
}
