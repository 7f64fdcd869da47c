// 18_producer_consumer_close: the last cook closes the Queue; every eater's for-loop ends by itself, no sentinels.
//
// Beyond the seed's lesson (生产者消费者模型): 16 ends the eaters with one None
// per consumer, which the seed itself calls 相当low (quite lame): main must
// know how many eaters there are and wait for every cook first. 17 needs a
// JoinableQueue, daemons and a join() per cook. In Python the end signal has
// to be hand-made because Queue.close() only says "this process will put no
// more"; the consumers never learn it:
//
//   def consumer(q, name):
//       while True:
//           res = q.get()
//           if res is None: break       # one None per consumer, put by main
//           print('%s 吃 %s' % (name, res))
//
// An mpx::Queue's close() is seen by every process: puts after it raise
// ValueError, and once what was put before is drained, get() raises
// mpx::Closed in every consumer. So the consumer is just
//
//   for (std::string& res : q) eat(res);   // ends when q is closed and drained
//
// and whoever knows the food is all made closes the queue: here the last cook
// to finish (a shared count of cooks still cooking), not main. Main does not
// count eaters and puts nothing. Who ate what depends on the scheduler
// (stderr); the sorted totals do not (stdout).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kCooks = 3;
constexpr int kPerCook = 4;
constexpr int kEaters = 3;
constexpr const char* kFoods[kCooks] = {"baozi", "bones", "swill"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out;
}

}  // namespace

int main() {
  mpx::Queue<std::string> q;
  mpx::Value<int> cooking(kCooks);                // cooks not finished yet
  mpx::Queue<std::vector<std::string>> eaten_by;  // each eater's list, sent back at the end

  std::vector<mpx::Process> procs;
  for (int c = 0; c < kCooks; ++c) {
    procs.emplace_back([&, c] {
      for (int i = 0; i < kPerCook; ++i) {
        std::string res = kFoods[c] + std::to_string(i);
        q.put(res);
        std::fprintf(stderr, "cook%d made %s\n", c + 1, res.c_str());
      }
      std::scoped_lock hold(cooking.get_lock());
      cooking = cooking.value() - 1;
      if (cooking.value() == 0) {
        q.close();  // the last cook: no more food, for every eater
        std::fprintf(stderr, "cook%d was last and closed the queue\n", c + 1);
      }
    });
  }
  for (int e = 1; e <= kEaters; ++e) {
    procs.emplace_back([&, e] {
      std::vector<std::string> ate;
      for (std::string& res : q) {  // get() until closed and drained
        std::fprintf(stderr, "consumer%d eats %s\n", e, res.c_str());
        ate.push_back(std::move(res));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // eating takes a while
      }
      eaten_by.put(ate);
    });
  }
  for (auto& p : procs) p.start();

  std::vector<std::string> made, ate;
  for (const char* food : kFoods) {
    for (int i = 0; i < kPerCook; ++i) made.push_back(food + std::to_string(i));
  }
  std::vector<std::size_t> counts;
  for (int e = 0; e < kEaters; ++e) {
    std::vector<std::string> one = eaten_by.get();
    counts.push_back(one.size());
    ate.insert(ate.end(), one.begin(), one.end());
  }
  for (auto& p : procs) p.join();
  std::sort(ate.begin(), ate.end());
  std::size_t sum = 0;
  for (std::size_t n : counts) sum += n;

  std::printf("%d cooks made %zu: %s\n", kCooks, made.size(), join(made).c_str());
  std::printf("%d consumers ate %zu: %s\n", kEaters, sum, join(ate).c_str());
  std::printf("totals match: %s; every consumer's loop ended by itself, no None put\n", ate == made ? "true" : "false");

  // Closed for everyone, main included.
  std::printf("q.closed() = %s, q.empty() = %s\n", q.closed() ? "true" : "false", q.empty() ? "true" : "false");
  try {
    q.get();
  } catch (const mpx::Closed& e) {
    std::printf("q.get(): Closed: %s\n", e.what());
  }
  try {
    q.put("more");
  } catch (const mpx::ValueError& e) {
    std::printf("q.put(\"more\"): ValueError: %s\n", e.what());
  }
  return ate == made && sum == made.size() ? 0 : 1;
}
