// mpx::queue (mpx/queue.hpp): each class, timeouts and their errors, move-only
// items, many producers and consumers counting every item exactly once,
// shutdown, and the storage policies. CPython's own test_queue.py is ported
// in conformance/queue_conformance_test.cpp. Suites are named Thread* (ThreadQueue,
// ThreadLifoQueue ...): multiprocessing's queues_test.cpp has Queue and SimpleQueue.
#include "mpx/queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/queue_threads.hpp"

using namespace std::chrono_literals;
using mpx::queue::Empty;
using mpx::queue::Full;
using mpx::queue::LifoQueue;
using mpx::queue::PriorityQueue;
using mpx::queue::Queue;
using mpx::queue::ShutDown;
using mpx::queue::SimpleQueue;
using mpx::test::Threads;
using mpx::test::wait_sleeping;
using Clock = std::chrono::steady_clock;

namespace {

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const mpx::ValueError& e) {
    return e.what();
  }
  return "(no ValueError)";
}

/// Counts live instances, to see when the queue destroys items.
struct Tracked {
  static inline std::atomic<int> live{0};
  int value = 0;
  explicit Tracked(int v) : value(v) { ++live; }
  Tracked(Tracked&& o) noexcept : value(o.value) { ++live; }
  Tracked& operator=(Tracked&&) = default;
  ~Tracked() { --live; }
};

// ---- order ---------------------------------------------------------------------

TEST(ThreadQueue, FifoOrderAcrossManyBlocks) {
  Queue<int> q;
  for (int i = 0; i < 20000; ++i) q.put(i);  // int: 4096 per block, so five blocks
  EXPECT_EQ(q.qsize(), 20000u);
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadQueue, InterleavedPutsAndGetsKeepOrder) {
  Queue<std::string> q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 300; ++round) {
    for (int i = 0; i < 7; ++i) q.put(std::to_string(next_in++));
    for (int i = 0; i < 5; ++i) ASSERT_EQ(q.get(), std::to_string(next_out++));
  }
  while (!q.empty()) ASSERT_EQ(q.get(), std::to_string(next_out++));
  EXPECT_EQ(next_in, next_out);
}

TEST(ThreadLifoQueue, LastInFirstOut) {
  LifoQueue<int> q;
  for (int i = 0; i < 3000; ++i) q.put(i);
  for (int i = 2999; i >= 0; --i) ASSERT_EQ(q.get(), i);
}

TEST(ThreadPriorityQueue, LowestFirst) {
  PriorityQueue<int> q;
  for (int v : {5, 1, 4, 1, 5, 9, 2, 6, 5, 3}) q.put(v);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 2, 3, 4, 5, 5, 5, 6, 9}));
}

TEST(ThreadPriorityQueue, CustomCompareHighestFirst) {
  PriorityQueue<int, std::greater<int>> q;
  for (int v : {3, 7, 1}) q.put(v);
  EXPECT_EQ(q.get(), 7);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(q.get(), 1);
}

struct ByPriority {
  int priority;
  char tag;
};
struct LessPriority {
  bool operator()(const ByPriority& a, const ByPriority& b) const { return a.priority < b.priority; }
};

// Ties come out in heapq's order, as in Python (not first-in first-out).
// The expected string is what CPython 3.11 prints for the same calls with
// a class whose __lt__ compares the priority only.
TEST(ThreadPriorityQueue, TiesComeOutInHeapqOrderAsPython) {
  PriorityQueue<ByPriority, LessPriority> q;
  std::string out;
  for (auto [p, t] : std::vector<std::pair<int, char>>{
           {1, 'a'}, {0, 'b'}, {1, 'c'}, {0, 'd'}, {1, 'e'}, {0, 'f'}, {2, 'g'}, {1, 'h'}, {0, 'i'}, {1, 'j'}}) {
    q.put(ByPriority{p, t});
  }
  for (int i = 0; i < 3; ++i) out += q.get().tag;
  for (auto [p, t] : std::vector<std::pair<int, char>>{{0, 'k'}, {1, 'l'}, {0, 'm'}}) q.put(ByPriority{p, t});
  while (!q.empty()) out += q.get().tag;
  EXPECT_EQ(out, "bfdikmcjhaelg");
}

TEST(ThreadPriorityQueue, ComparatorObjectIsUsed) {
  struct Mod {
    int m;
    bool operator()(int a, int b) const { return a % m < b % m; }
  };
  mpx::queue::BasicQueue<int, mpx::queue::Heap<int, Mod>> q(0, mpx::queue::Heap<int, Mod>(Mod{10}));
  for (int v : {19, 21, 35}) q.put(v);
  EXPECT_EQ(q.get(), 21);
  EXPECT_EQ(q.get(), 35);
  EXPECT_EQ(q.get(), 19);
}

TEST(ThreadSimpleQueue, FifoWithoutTasks) {
  SimpleQueue<int> q;
  q.put(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.try_put(3));
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.try_get(), 3);
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_THROW(q.get_nowait(), Empty);
}

// ---- sizes ---------------------------------------------------------------------

TEST(ThreadQueue, SizesAndFull) {
  Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  q.put(1);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), Full);
  EXPECT_FALSE(q.try_put(3));
  Queue<int> unbounded(-1);
  for (int i = 0; i < 100; ++i) unbounded.put(i);
  EXPECT_FALSE(unbounded.full());
}

TEST(ThreadQueue, GrowingMaxsizeWakesABlockedPut) {
  Queue<int> q(1);
  q.put(0);
  Threads threads;
  int tid = threads.add([&] { q.put(1); });
  ASSERT_TRUE(wait_sleeping(tid));
  q.set_maxsize(2);
  threads.join();
  EXPECT_EQ(q.qsize(), 2u);
}

// ---- timeouts ------------------------------------------------------------------

TEST(ThreadQueue, GetTimeoutRaisesEmptyAfterTheTimeout) {
  Queue<int> q;
  auto t0 = Clock::now();
  EXPECT_THROW(q.get(30ms), Empty);
  EXPECT_GE(Clock::now() - t0, 30ms);
  t0 = Clock::now();
  EXPECT_EQ(q.try_get(20ms), std::nullopt);
  EXPECT_GE(Clock::now() - t0, 20ms);
  EXPECT_THROW(q.get(0ms), Empty);
}

TEST(ThreadQueue, PutTimeoutRaisesFullAfterTheTimeout) {
  Queue<int> q(1);
  q.put(1);
  auto t0 = Clock::now();
  EXPECT_THROW(q.put(2, 30ms), Full);
  EXPECT_GE(Clock::now() - t0, 30ms);
  EXPECT_FALSE(q.try_put(2, 10ms));
  EXPECT_EQ(q.qsize(), 1u);
}

TEST(ThreadQueue, GetWithTimeoutReturnsAnItemThatArrives) {
  Queue<int> q;
  Threads threads;
  int tid = threads.add([&] { EXPECT_EQ(q.get(std::chrono::seconds(20)), 7); });
  ASSERT_TRUE(wait_sleeping(tid));
  q.put(7);
}

TEST(ThreadQueue, ForeverIsNoTimeout) {
  Queue<int> q;
  q.put(1);
  EXPECT_EQ(q.get(mpx::forever), 1);
  q.put(2, mpx::forever);
  EXPECT_EQ(q.try_get(mpx::forever), 2);
}

TEST(ThreadQueue, NegativeTimeoutIsAValueErrorWithPythonsMessage) {
  const std::string msg = "'timeout' must be a non-negative number";
  Queue<int> bounded(5);
  EXPECT_EQ(error_of([&] { bounded.put(1, -1s); }), msg);
  EXPECT_EQ(error_of([&] { bounded.try_put(1, -1ms); }), msg);
  EXPECT_EQ(error_of([&] { bounded.get(-1s); }), msg);
  bounded.put(1);
  EXPECT_EQ(error_of([&] { bounded.get(-1s); }), msg);  // even with an item there, as Python
  EXPECT_EQ(error_of([&] { bounded.try_get(-1s); }), msg);
  EXPECT_EQ(error_of([&] { bounded.join(-1s); }), msg);
  // Python checks put's timeout only on a bounded queue.
  Queue<int> unbounded;
  unbounded.put(1, -1s);
  EXPECT_EQ(unbounded.qsize(), 1u);
  SimpleQueue<int> simple;
  simple.put(1);
  EXPECT_EQ(error_of([&] { simple.get(-1s); }), msg);
}

TEST(ThreadQueue, ShutDownComesBeforeTheNegativeTimeoutCheck) {
  Queue<int> q(1);
  q.shutdown();
  EXPECT_THROW(q.get(-1s), ShutDown);  // Python looks at is_shutdown first
  EXPECT_THROW(q.put(1, -1s), ShutDown);
}

// ---- task_done / join ------------------------------------------------------------

TEST(ThreadQueue, TaskDoneTooManyTimes) {
  Queue<int> q;
  EXPECT_EQ(error_of([&] { q.task_done(); }), "task_done() called too many times");
  q.put(1);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  q.get();
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  q.task_done();
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_THROW(q.task_done(), mpx::ValueError);
}

TEST(ThreadQueue, JoinWithTimeout) {
  Queue<int> q;
  EXPECT_TRUE(q.join(0ms));
  q.put(1);
  auto t0 = Clock::now();
  EXPECT_FALSE(q.join(20ms));
  EXPECT_GE(Clock::now() - t0, 20ms);
  q.get();
  Threads threads;
  int tid = threads.add([&] { EXPECT_TRUE(q.join(std::chrono::seconds(20))); });
  ASSERT_TRUE(wait_sleeping(tid));
  q.task_done();
  threads.join();
  EXPECT_TRUE(q.join(0ms));
}

// The joiner may destroy the queue as soon as join() returns; task_done()
// must not touch it after that (ASan and TSan watch this test).
TEST(ThreadQueue, JoinerMayDestroyTheQueueRightAway) {
  for (int round = 0; round < 200; ++round) {
    auto q = std::make_unique<Queue<int>>();
    q->put(round);
    Threads threads;
    threads.add([&q] {
      q->get();
      q->task_done();
    });
    q->join();
    q.reset();
  }
}

// ---- move-only items -------------------------------------------------------------

TEST(ThreadQueue, MoveOnlyItems) {
  Queue<std::unique_ptr<int>> q(1);
  q.put(std::make_unique<int>(1));
  auto p = std::make_unique<int>(2);
  EXPECT_FALSE(q.try_put(std::move(p)));
  ASSERT_NE(p, nullptr);  // a failed put leaves its argument as it was
  EXPECT_THROW(q.put_nowait(std::move(p)), Full);
  ASSERT_NE(p, nullptr);
  EXPECT_THROW(q.put(std::move(p), 1ms), Full);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*q.get(), 1);
  EXPECT_TRUE(q.try_put(std::move(p)));
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(*q.try_get().value(), 2);

  LifoQueue<std::unique_ptr<int>> lifo;
  lifo.put(std::make_unique<int>(1));
  lifo.put(std::make_unique<int>(2));
  EXPECT_EQ(*lifo.get(), 2);

  struct Deref {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const { return *a < *b; }
  };
  PriorityQueue<std::unique_ptr<int>, Deref> heap;
  for (int v : {3, 1, 2}) heap.put(std::make_unique<int>(v));
  EXPECT_EQ(*heap.get(), 1);
  EXPECT_EQ(*heap.get(), 2);

  SimpleQueue<std::unique_ptr<std::string>> simple;
  simple.put(std::make_unique<std::string>("x"));
  EXPECT_EQ(*simple.get(), "x");
}

TEST(ThreadQueue, CopiesFromLvaluesAndBuildsFromOtherTypes) {
  Queue<std::string> q;
  const std::string s = "kept";
  q.put(s);
  q.put("built");          // const char* -> std::string, built inside
  q.put({'z', 'z', 'z'});  // braced: a std::string
  EXPECT_EQ(s, "kept");
  EXPECT_EQ(q.get(), "kept");
  EXPECT_EQ(q.get(), "built");
  EXPECT_EQ(q.get(), "zzz");
}

TEST(ThreadQueue, ItemsLeftAreDestroyedWithTheQueue) {
  Tracked::live = 0;
  {
    Queue<Tracked> q;
    for (int i = 0; i < 10000; ++i) q.put(Tracked(i));  // 4096 per block: three blocks
    for (int i = 0; i < 5000; ++i) q.get();             // the first one is spare now
    EXPECT_EQ(Tracked::live.load(), 5000);
    LifoQueue<Tracked> lifo;
    lifo.put(Tracked(1));
    PriorityQueue<Tracked, decltype([](const Tracked& a, const Tracked& b) { return a.value < b.value; })> heap;
    heap.put(Tracked(1));
  }
  EXPECT_EQ(Tracked::live.load(), 0);
}

// A copy that throws inside put(): nothing was added, the count did not move.
TEST(ThreadQueue, ThrowingCopyLeavesTheQueueAsItWas) {
  struct Picky {
    int v;
    explicit Picky(int x) : v(x) {}
    Picky(const Picky& o) : v(o.v) {
      if (v < 0) throw std::runtime_error("no copies of negatives");
    }
    Picky(Picky&&) noexcept = default;
  };
  Queue<Picky> q;
  const Picky bad(-1);
  EXPECT_THROW(q.put(bad), std::runtime_error);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  q.put(Picky(1));
  EXPECT_EQ(q.get().v, 1);
}

// ---- shutdown ----------------------------------------------------------------------

TEST(ThreadQueue, ShutdownWakesBlockedGettersAndPutters) {
  Queue<int> empty;
  Queue<int> full(1);
  full.put(0);
  std::atomic<int> shut{0};
  Threads threads;
  std::vector<int> tids;
  for (int i = 0; i < 3; ++i) {
    tids.push_back(threads.add([&] {
      try {
        empty.get();
      } catch (const ShutDown&) {
        ++shut;
      }
    }));
    tids.push_back(threads.add([&] {
      try {
        full.put(1);
      } catch (const ShutDown&) {
        ++shut;
      }
    }));
  }
  for (int tid : tids) ASSERT_TRUE(wait_sleeping(tid));
  empty.shutdown();
  full.shutdown();
  threads.join();
  EXPECT_EQ(shut.load(), 6);
  EXPECT_EQ(full.get(), 0);  // not immediate: what is left can still be gotten
  EXPECT_THROW(full.get(), ShutDown);
  EXPECT_THROW(full.try_get(), ShutDown);
  EXPECT_THROW(full.try_put(1), ShutDown);
}

TEST(ThreadQueue, ImmediateShutdownDrainsAndReleasesJoin) {
  Tracked::live = 0;
  Queue<Tracked> q;
  for (int i = 0; i < 10; ++i) q.put(Tracked(i));
  Tracked taken = q.get();  // gotten, not task_done: join waits for it
  Threads threads;
  std::atomic<bool> joined{false};
  int tid = threads.add([&] {
    q.join();
    joined = true;
  });
  ASSERT_TRUE(wait_sleeping(tid));
  q.shutdown(true);
  EXPECT_EQ(Tracked::live.load(), 1);  // the nine left were destroyed
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_FALSE(joined.load());
  EXPECT_THROW(q.get(), ShutDown);
  q.task_done();
  threads.join();
  EXPECT_TRUE(joined.load());
  EXPECT_TRUE(q.is_shutdown());
}

// An item whose destructor uses the queue: drained items are destroyed
// after shutdown() released its locks (a deadlock otherwise).
TEST(ThreadQueue, DrainedItemsMayUseTheQueueWhenDestroyed) {
  struct Item;
  using Q = Queue<Item>;
  struct Item {
    Q* q = nullptr;
    Item() = default;
    explicit Item(Q* owner) : q(owner) {}
    Item(Item&& o) noexcept : q(std::exchange(o.q, nullptr)) {}
    ~Item() {
      if (q == nullptr) return;
      try {
        q->task_done();  // takes the lock of the get side
      } catch (const mpx::ValueError&) {
      }
    }
  };
  Q q;
  for (int i = 0; i < 5; ++i) q.put(Item(&q));
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
}

// ---- many threads ------------------------------------------------------------------

template <class Q>
void every_item_exactly_once(Q& q, int producers, int consumers, int per_producer) {
  const int total = producers * per_producer;
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(total));
  std::atomic<int> got{0};
  Threads threads;
  for (int c = 0; c < consumers; ++c) {
    threads.add([&, c] {
      for (;;) {
        int v;
        if (c % 3 == 0) {
          v = q.get();
        } else if (c % 3 == 1) {
          auto x = q.try_get(std::chrono::milliseconds(1));
          if (!x) continue;
          v = *x;
        } else {
          auto x = q.try_get();
          if (!x) {
            std::this_thread::yield();
            continue;
          }
          v = *x;
        }
        if (v < 0) return;  // one stop item per consumer
        seen[static_cast<std::size_t>(v)].fetch_add(1);
        ++got;
      }
    });
  }
  {
    Threads feeders;
    for (int p = 0; p < producers; ++p) {
      feeders.add([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          const int v = p * per_producer + i;
          if (i % 2 == 0) {
            q.put(v);
          } else {
            while (!q.try_put(v, std::chrono::milliseconds(1))) {
            }
          }
        }
      });
    }
  }
  // Every item gotten before the stop items go in: a LifoQueue would
  // otherwise hand the stops out first.
  const auto deadline = Clock::now() + mpx::test::kQueueTestTimeout;
  while (!q.empty()) {
    ASSERT_LT(Clock::now(), deadline) << "consumers stopped taking items";
    std::this_thread::yield();
  }
  for (int c = 0; c < consumers; ++c) q.put(-1);
  threads.join();
  EXPECT_EQ(got.load(), total);
  for (int v = 0; v < total; ++v) ASSERT_EQ(seen[static_cast<std::size_t>(v)].load(), 1) << "item " << v;
  EXPECT_TRUE(q.empty());
}

TEST(ThreadQueue, ManyProducersManyConsumersEachItemOnce) {
  Queue<int> unbounded;
  every_item_exactly_once(unbounded, 4, 4, 20000);
  Queue<int> bounded(8);
  every_item_exactly_once(bounded, 4, 4, 5000);
  Queue<int> one(1);
  every_item_exactly_once(one, 3, 3, 2000);
}

TEST(ThreadLifoQueue, ManyProducersManyConsumersEachItemOnce) {
  LifoQueue<int> q(16);
  every_item_exactly_once(q, 4, 4, 5000);
}

TEST(ThreadPriorityQueue, ManyProducersManyConsumersEachItemOnce) {
  PriorityQueue<int, std::greater<int>> q(16);  // stop items (-1) come out last
  every_item_exactly_once(q, 4, 4, 5000);
}

TEST(ThreadSimpleQueue, ManyProducersManyConsumersEachItemOnce) {
  SimpleQueue<int> q;
  every_item_exactly_once(q, 4, 4, 20000);
}

// One producer, one consumer: the order survives the race between the ends.
TEST(ThreadQueue, OneToOneKeepsOrderUnderLoad) {
  Queue<std::uint64_t> q;
  constexpr std::uint64_t kN = 300000;
  Threads threads;
  threads.add([&] {
    for (std::uint64_t i = 0; i < kN; ++i) q.put(i);
  });
  for (std::uint64_t i = 0; i < kN; ++i) ASSERT_EQ(q.get(), i);
}

// task_done from many consumers while the producer waits in join().
TEST(ThreadQueue, JoinCountsTaskDoneFromManyThreads) {
  Queue<int> q(32);
  std::atomic<long> sum{0};
  Threads threads;
  for (int c = 0; c < 4; ++c) {
    threads.add([&] {
      for (;;) {
        int v = q.get();
        if (v < 0) {
          q.task_done();
          return;
        }
        sum += v;
        q.task_done();
      }
    });
  }
  for (int i = 1; i <= 10000; ++i) q.put(i);
  q.join();
  EXPECT_EQ(sum.load(), 10000L * 10001 / 2);
  for (int c = 0; c < 4; ++c) q.put(-1);
  q.join();
}

// ---- the pieces ---------------------------------------------------------------------

// detail::CountLock under contention (8 threads on 2 cores: the futex path
// runs): mutual exclusion, and every unlock_advance() counted once.
TEST(ThreadQueueDetail, CountLockExcludesAndCounts) {
  mpx::detail::CountLock lock;
  long plain = 0;  // guarded by `lock`; TSan checks it
  constexpr int kThreads = 8, kRounds = 20000;
  std::atomic<bool> go{false};
  {
    Threads threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.add([&, t] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < kRounds; ++i) {
          lock.lock();
          ++plain;
          if ((i + t) % 2 == 0) {
            lock.unlock_advance();
          } else {
            lock.unlock();
          }
        }
      });
    }
    go = true;
  }
  EXPECT_EQ(plain, long{kThreads} * kRounds);
  EXPECT_EQ(lock.count(), std::uint64_t{kThreads} * kRounds / 2);
  lock.advance();
  EXPECT_EQ(lock.lock(), std::uint64_t{kThreads} * kRounds / 2 + 1);
  lock.unlock();
}

// ---- your own storage -----------------------------------------------------------------

/// A storage policy of the user's own (Python: subclass Queue, override
/// _init/_put/_get): items come out by ascending length, ties by first in.
class ShortestFirst {
 public:
  void put(std::string&& s) { items_.insert(std::upper_bound(items_.begin(), items_.end(), s, shorter), std::move(s)); }
  std::string get() {
    std::string s = std::move(items_.front());
    items_.erase(items_.begin());
    return s;
  }

 private:
  static bool shorter(const std::string& a, const std::string& b) { return a.size() < b.size(); }
  std::vector<std::string> items_;
};
static_assert(mpx::queue::Storage<ShortestFirst, std::string>);

TEST(ThreadBasicQueue, AStoragePolicyOfYourOwn) {
  mpx::queue::BasicQueue<std::string, ShortestFirst> q(3);
  q.put("ccc");
  q.put("a");
  q.put("bb");
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "bb");
  EXPECT_EQ(q.get(), "ccc");
}

}  // namespace
