// 17_producer_consumer_joinable: eaters call task_done(), cooks wait in q.join(), and the daemon eaters end with main.
//
// Seed lesson: 生产者消费者模型 — 基于JoinableQueue实现 (the producer-consumer
// model on a JoinableQueue). No end signal at all: each cook waits in
// q.join() until everything put so far has been marked done, so once main has
// joined the cooks, everything has been eaten, and the eaters, daemons stuck
// in q.get() for ever, are simply ended with main. The Python original:
//
//   def consumer(q, name):
//       while True:
//           res = q.get()
//           print('%s 吃 %s' % (name, res))          # name eats res
//           q.task_done()   # tells q.join(): one item taken and dealt with
//
//   def producer(q, name, food):
//       for i in range(3):
//           res = '%s%s' % (food, i)
//           q.put(res)
//           print('%s 生产了 %s' % (name, res))       # name made res
//       q.join()            # returns once the consumers have dealt with all of it
//
//   if __name__ == '__main__':
//       q = JoinableQueue()
//       p1 = Process(target=producer, args=(q, 'cook1', '包子'))   # baozi
//       p2 = Process(target=producer, args=(q, 'cook2', '骨头'))   # bones
//       p3 = Process(target=producer, args=(q, 'cook3', '泔水'))   # swill
//       c1 = Process(target=consumer, args=(q, 'consumer1'))
//       c2 = Process(target=consumer, args=(q, 'consumer2'))
//       c1.daemon = True
//       c2.daemon = True
//       p1.start(); p2.start(); p3.start(); c1.start(); c2.start()
//       p1.join(); p2.join(); p3.join()
//       print('主')          # main; the daemon consumers die with it
//
// Each eater hands what it ate to main on a second queue *before* task_done(),
// so when the cooks' join() has returned, every item is already there. Each
// cook also checks, when its q.join() returns, that all of its own food has
// been eaten, and reports that to main. Who ate what depends on the scheduler
// (stderr); the sorted totals do not (stdout).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kCooks = 3;
constexpr int kPerCook = 3;
constexpr int kEaters = 2;
constexpr int kItems = kCooks * kPerCook;
constexpr const char* kFoods[kCooks] = {"baozi", "bones", "swill"};

std::string food(int item) { return kFoods[item / kPerCook] + std::to_string(item % kPerCook); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace

int main() {
  mpx::JoinableQueue<int> q;          // item c * kPerCook + i: cook c's food number i
  mpx::Queue<int> eaten;              // what the eaters ate, for main to count
  mpx::Array<int> done_flag(kItems);  // set by the eater before task_done()
  mpx::Array<int> all_done_at_join(kCooks);

  std::vector<mpx::Process> cooks;
  for (int c = 0; c < kCooks; ++c) {
    cooks.emplace_back([&, c] {
      for (int i = 0; i < kPerCook; ++i) {
        q.put(c * kPerCook + i);
        std::fprintf(stderr, "cook%d made %s\n", c + 1, food(c * kPerCook + i).c_str());
      }
      q.join();  // until every item put so far, ours included, is task_done()
      int ours_done = 0;
      for (int i = 0; i < kPerCook; ++i) ours_done += done_flag.get(c * kPerCook + i);
      all_done_at_join.set(c, ours_done == kPerCook ? 1 : 0);
    });
  }
  std::vector<mpx::Process> eaters;
  for (int e = 1; e <= kEaters; ++e) {
    eaters.emplace_back(mpx::ProcessOptions{.name = "consumer" + std::to_string(e), .daemon = true}, [&, e] {
      for (;;) {
        int res = q.get();
        std::fprintf(stderr, "consumer%d eats %s\n", e, food(res).c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // eating takes a while
        eaten.put(res);
        done_flag.set(res, 1);
        q.task_done();
      }
    });
  }
  for (auto& p : cooks) p.start();
  for (auto& p : eaters) p.start();
  for (auto& p : cooks) p.join();

  std::vector<std::string> ate;
  for (int n = 0; n < kItems; ++n) {
    int res = eaten.get_nowait();  // already there: queue::Empty here would be a bug
    ate.push_back(food(res));
  }
  std::sort(ate.begin(), ate.end());
  bool joins_ok = true;
  for (int c = 0; c < kCooks; ++c) joins_ok = joins_ok && all_done_at_join.get(c) == 1;
  bool alive = std::all_of(eaters.begin(), eaters.end(), [](mpx::Process& p) { return p.is_alive(); });

  std::printf("%d cooks made %d; when each cook's q.join() returned, all its food was eaten: %s\n", kCooks, kItems,
              joins_ok ? "true" : "false");
  std::printf("%d consumers ate %zu, all task_done(): %s\n", kEaters, ate.size(), join(ate).c_str());
  std::printf("after the cooks' joins: q.qsize() = %zu, and nothing more was eaten: %s\n", q.qsize(),
              eaten.empty() ? "true" : "false");
  std::printf("the daemon consumers, still waiting in q.get(), are alive: %s\n", alive ? "true" : "false");
  std::printf("主 (main) returns; at exit mpx terminates the daemon consumers\n");
  return joins_ok && eaten.empty() && q.empty() && alive ? 0 : 1;
}
