// 16_producer_consumer_sentinel: cooks put food on a Queue; after they finish, main puts one None per eater.
//
// Seed lesson: 生产者消费者模型 — 基于队列实现 (the producer-consumer model on a
// Queue). The eaters loop on q.get() for ever, so the program would never end;
// the seed's fix is an end signal, one per consumer ("相当low": quite lame).
// The Python original:
//
//   def consumer(q, name):
//       while True:
//           res = q.get()
//           if res is None: break                  # the end signal
//           print('%s 吃 %s' % (name, res))         # name eats res
//
//   def producer(q, name, food):
//       for i in range(3):
//           res = '%s%s' % (food, i)
//           q.put(res)
//           print('%s 生产了 %s' % (name, res))      # name made res
//
//   if __name__ == '__main__':
//       q = Queue()
//       p1 = Process(target=producer, args=(q, 'cook1', '包子'))   # baozi
//       p2 = Process(target=producer, args=(q, 'cook2', '骨头'))   # bones
//       p3 = Process(target=producer, args=(q, 'cook3', '泔水'))   # swill
//       c1 = Process(target=consumer, args=(q, 'consumer1'))
//       c2 = Process(target=consumer, args=(q, 'consumer2'))
//       p1.start(); p2.start(); p3.start(); c1.start(); c2.start()
//       p1.join(); p2.join(); p3.join()
//       q.put(None); q.put(None)                   # one None per consumer
//       print('主')                                 # main
//
// C++ has no None in a queue of strings, so the queue carries
// std::optional<std::string> and std::nullopt is the None. The sentinels go
// in only after every cook is joined, so they queue up behind all the food and
// each eater takes exactly one. Each eater sends what it ate back to main on a
// second Queue. Who ate what depends on the scheduler (stderr); the sorted
// totals do not (stdout). 18 does the same without sentinels.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kPerCook = 3;
constexpr int kEaters = 2;
const std::vector<std::string> kFoods = {"baozi", "bones", "swill"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace

int main() {
  mpx::Queue<std::optional<std::string>> q;       // std::nullopt is Python's None
  mpx::Queue<std::vector<std::string>> eaten_by;  // each eater's list, sent back at the end

  std::vector<mpx::Process> cooks;
  for (std::size_t c = 0; c < kFoods.size(); ++c) {
    cooks.emplace_back([&, c] {
      for (int i = 0; i < kPerCook; ++i) {
        std::string res = kFoods[c] + std::to_string(i);
        q.put(res);
        std::fprintf(stderr, "cook%zu made %s\n", c + 1, res.c_str());
      }
    });
  }
  std::vector<mpx::Process> eaters;
  for (int e = 1; e <= kEaters; ++e) {
    eaters.emplace_back([&, e] {
      std::vector<std::string> ate;
      for (;;) {
        std::optional<std::string> res = q.get();
        if (!res) break;  // if res is None: break
        std::fprintf(stderr, "consumer%d eats %s\n", e, res->c_str());
        ate.push_back(*res);
        std::this_thread::sleep_for(
            std::chrono::milliseconds(2));  // eating takes a while: the other eater gets some too
      }
      eaten_by.put(ate);
    });
  }
  for (auto& p : cooks) p.start();
  for (auto& p : eaters) p.start();

  for (auto& p : cooks) p.join();
  for (int e = 0; e < kEaters; ++e) q.put(std::nullopt);  // q.put(None), once per consumer

  std::vector<std::string> made, ate;
  for (const auto& food : kFoods) {
    for (int i = 0; i < kPerCook; ++i) made.push_back(food + std::to_string(i));
  }
  for (int e = 0; e < kEaters; ++e) {
    std::vector<std::string> one = eaten_by.get();
    ate.insert(ate.end(), one.begin(), one.end());
  }
  for (auto& p : eaters) p.join();
  std::sort(ate.begin(), ate.end());

  std::printf("%zu cooks made %zu: %s\n", kFoods.size(), made.size(), join(made).c_str());
  std::printf("main joined the cooks, then put %d Nones, one per consumer\n", kEaters);
  std::printf("%d consumers ate %zu: %s\n", kEaters, ate.size(), join(ate).c_str());
  std::printf("each consumer stopped at its None; left in the queue: %zu\n", q.qsize());
  std::printf("主 (main)\n");
  return ate == made && q.empty() ? 0 : 1;
}
