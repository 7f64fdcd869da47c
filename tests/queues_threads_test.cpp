// mpx::Queue and JoinableQueue between threads of one process: the same
// shared-memory ring, its locks and its waits, under TSan (label thread).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "mpx/queues.hpp"

using namespace std::chrono_literals;

TEST(QueueThreads, ManyProducersManyConsumersEveryItemOnce) {
  constexpr int kProducers = 4, kConsumers = 4, kItems = 3000;
  mpx::Queue<int> q(32, {.ring_bytes = 4096});
  std::vector<std::atomic<int>> seen(kProducers * kItems);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      for (int item : q) seen[static_cast<std::size_t>(item)].fetch_add(1);
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kItems; ++i) q.put(p * kItems + i);
    });
  }
  for (auto& t : producers) t.join();
  q.close();
  for (auto& t : threads) t.join();
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](const std::atomic<int>& n) { return n.load() == 1; }));
}

TEST(QueueThreads, LargeItemsThroughASmallRing) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 4096});
  std::thread producer([&] {
    for (int i = 0; i < 20; ++i)
      q.put(std::string(static_cast<std::size_t>(10000 + i * 997), static_cast<char>('a' + i)));
  });
  for (int i = 0; i < 20; ++i) {
    std::string s = q.get(30s);
    ASSERT_EQ(s, std::string(static_cast<std::size_t>(10000 + i * 997), static_cast<char>('a' + i)));
  }
  producer.join();
}

TEST(QueueThreads, JoinableQueueJoinReturnsWhenEveryTaskIsDone) {
  mpx::JoinableQueue<int> q;
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&] {
      while (auto item = q.try_get(5s)) {
        done.fetch_add(1);
        q.task_done();
        if (*item < 0) break;
      }
    });
  }
  for (int i = 0; i < 300; ++i) q.put(i);
  q.join();
  EXPECT_EQ(done.load(), 300);
  for (int w = 0; w < 3; ++w) q.put(-1);
  for (auto& t : workers) t.join();
}

TEST(QueueThreads, TimeoutsWhileOthersWork) {
  mpx::Queue<int> q(1);
  q.put(0);
  std::atomic<int> full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      if (!q.try_put(1, 20ms)) full.fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(full.load(), 3);
  EXPECT_EQ(q.get(), 0);
}
