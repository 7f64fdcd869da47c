// 19_thread_pipeline_priority_queue: threads in a pipeline; queue.Queue, LifoQueue and PriorityQueue orders.
//
// Seed lesson: 线程队列 (queues between threads): queue.Queue is first in,
// first out; queue.LifoQueue last in, first out (a stack); queue.PriorityQueue
// hands out the lowest entry first. The Python original:
//
//   import queue
//   q = queue.PriorityQueue()
//   q.put((20, 'a')); q.put((10, 'b')); q.put((30, 'c'))
//   print(q.get()); print(q.get()); print(q.get())    # (10, 'b') (20, 'a') (30, 'c')
//
// Then a pipeline of threads: a producer thread files jobs with a priority,
// a worker thread takes the most urgent first and hands results to a printer
// thread through a plain Queue. Python 3.13's shutdown() ends each stage: a
// get() on a shut-down queue raises ShutDown once it is empty, so no
// sentinel is needed. The worker starts only after every job is filed, so
// the urgency order — and this program's output — is the same on every run.
#include <cstdio>
#include <string>
#include <utility>

#include <mpx/mpx.hpp>

namespace queue = mpx::queue;
namespace threading = mpx::threading;

using Job = std::pair<int, std::string>;  // (priority, what): lower is more urgent, as in Python

int main() {
  // The three orders.
  queue::Queue<int> fifo;
  queue::LifoQueue<int> lifo;
  queue::PriorityQueue<Job> by_priority;
  for (int i : {1, 2, 3}) {
    fifo.put(i);
    lifo.put(i);
  }
  by_priority.put({20, "a"});
  by_priority.put({10, "b"});
  by_priority.put({30, "c"});
  std::printf("Queue:        ");
  for (int i = 0; i < 3; ++i) std::printf(" %d", fifo.get());
  std::printf("\nLifoQueue:    ");
  for (int i = 0; i < 3; ++i) std::printf(" %d", lifo.get());
  std::printf("\n");
  for (int i = 0; i < 3; ++i) {
    Job j = by_priority.get();
    std::printf("PriorityQueue: (%d, '%s')\n", j.first, j.second.c_str());
  }

  // The pipeline: producer -> PriorityQueue -> worker -> Queue -> printer.
  queue::PriorityQueue<Job> jobs;
  queue::Queue<std::string> results;
  threading::Thread producer([&] {
    const Job filed[] = {{3, "water the plants"}, {1, "put out the fire"}, {2, "call the plumber"},
                         {3, "sort the mail"},    {1, "stop the flood"},   {2, "pay the bill"}};
    for (const Job& j : filed) jobs.put(j);
    jobs.shutdown();  // no more jobs: the worker's get() raises ShutDown once they are done
  });
  threading::Thread worker([&] {
    try {
      for (;;) {
        Job j = jobs.get();
        results.put("[" + std::to_string(j.first) + "] " + j.second);
        jobs.task_done();
      }
    } catch (const queue::ShutDown&) {
      results.shutdown();
    }
  });
  threading::Thread printer([&] {
    try {
      for (;;) std::printf("done %s\n", results.get().c_str());
    } catch (const queue::ShutDown&) {
    }
  });
  producer.start();
  producer.join();  // every job filed before the worker looks: a fixed order
  worker.start();
  printer.start();
  worker.join();
  printer.join();
  std::printf("unfinished jobs: %zu\n", jobs.qsize());
  return 0;
}
