// 13_condition_producer_consumer: cooks and eaters in separate processes share a plate guarded by two Conditions.
//
// Seed lesson: 生产者消费者模型 (the producer-consumer model): the cooks
// (producers) and the eaters (consumers) never wait for each other directly,
// only for a buffer between them. The Python original puts a Queue there:
//
//   def consumer(q, name):
//       while True:
//           res = q.get()
//           if res is None: break                 # one end signal per consumer
//           print('%s 吃 %s' % (name, res))        # name eats res
//
//   def producer(q, name, food):
//       for i in range(3):
//           res = '%s%s' % (food, i)
//           q.put(res)
//           print('%s 生产了 %s' % (name, res))     # name made res
//
//   if __name__ == '__main__':
//       q = Queue()
//       p1 = Process(target=producer, args=(q, 'cook1', '包子'))
//       ...
//       c1 = Process(target=consumer, args=(q, 'consumer1'))
//       ...
//       p1.join(); p2.join(); p3.join()
//       q.put(None); q.put(None)
//       print('主')
//
// A blocking queue is a buffer, a lock and two conditions: "not empty" for the
// consumers, "not full" for the producers (Python's queue.Queue is built
// exactly so, and the seeds list Condition with Lock and Semaphore). Here the
// plate is a small ring in shared memory (a RawValue: the Conditions' lock
// guards it), two mpx::Conditions share one mpx::Lock, and the end needs no
// None per consumer: the last cook to finish tells every waiting eater.
// Who eats what depends on the scheduler (stderr); the totals do not (stdout).
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <optional>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kCooks = 2;
constexpr int kEaters = 3;
constexpr int kPerCook = 10;
constexpr int kPlateSize = 4;

// Everything the Conditions guard. Trivially copyable, so it can live in a RawValue.
struct Plate {
  int ring[kPlateSize];
  int head;        // next to take
  int count;       // on the plate now
  int cooks_left;  // cooks still cooking
  int most;        // the largest count ever seen
};

struct Kitchen {
  mpx::RawValue<Plate> plate{Plate{{}, 0, 0, kCooks, 0}};
  mpx::Lock mutex;
  mpx::Condition not_empty{mutex};  // eaters wait here
  mpx::Condition not_full{mutex};   // cooks wait here

  // q.put(item)
  void put(int item) {
    std::scoped_lock hold(mutex);
    Plate& p = *plate.get_obj();
    not_full.wait_for([&] { return p.count < kPlateSize; });
    p.ring[(p.head + p.count) % kPlateSize] = item;
    ++p.count;
    p.most = std::max(p.most, p.count);
    not_empty.notify();
  }

  // The last cook wakes every eater: an empty plate now means "no more".
  void cook_done() {
    std::scoped_lock hold(mutex);
    if (--plate.get_obj()->cooks_left == 0) not_empty.notify_all();
  }

  // q.get(), or nothing once the plate is empty and every cook has finished.
  std::optional<int> get() {
    std::scoped_lock hold(mutex);
    Plate& p = *plate.get_obj();
    not_empty.wait_for([&] { return p.count > 0 || p.cooks_left == 0; });
    if (p.count == 0) return std::nullopt;
    int item = p.ring[p.head];
    p.head = (p.head + 1) % kPlateSize;
    --p.count;
    not_full.notify();
    return item;
  }
};

}  // namespace

int main() {
  Kitchen kitchen;
  mpx::Array<int> eaten(kEaters);    // how many each eater ate
  mpx::Array<long> id_sum(kEaters);  // and the sum of their ids

  std::vector<mpx::Process> procs;
  for (int c = 1; c <= kCooks; ++c) {
    procs.emplace_back([&, c] {
      for (int i = 0; i < kPerCook; ++i) kitchen.put(c * 100 + i);  // '包子%s' % i, numbered per cook
      kitchen.cook_done();
    });
  }
  for (int e = 0; e < kEaters; ++e) {
    procs.emplace_back([&, e] {
      int n = 0;
      long sum = 0;
      while (auto item = kitchen.get()) {
        ++n;
        sum += *item;
      }
      eaten.set(e, n);
      id_sum.set(e, sum);
      std::fprintf(stderr, "eater%d ate %d\n", e + 1, n);
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();

  long made_sum = 0;
  for (int c = 1; c <= kCooks; ++c) {
    for (int i = 0; i < kPerCook; ++i) made_sum += c * 100 + i;
  }
  int ate = 0;
  long ate_sum = 0;
  for (int e = 0; e < kEaters; ++e) {
    ate += eaten.get(e);
    ate_sum += id_sum.get(e);
  }
  Plate end = kitchen.plate.value();
  std::printf("%d cooks made %d baozi, ids summing to %ld\n", kCooks, kCooks * kPerCook, made_sum);
  std::printf("%d eaters ate %d baozi, ids summing to %ld\n", kEaters, ate, ate_sum);
  if (end.most <= kPlateSize) {
    std::printf("the plate, with room for %d, never held more; %d left on it\n", kPlateSize, end.count);
  } else {
    std::printf("the plate, with room for %d, held %d at once\n", kPlateSize, end.most);
  }
  return ate == kCooks * kPerCook && ate_sum == made_sum && end.most <= kPlateSize && end.count == 0 ? 0 : 1;
}
