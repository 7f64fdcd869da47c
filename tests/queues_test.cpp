// mpx::Queue, SimpleQueue, JoinableQueue: Python's semantics, close(),
// many producers and consumers across fork, items larger than the ring.
#include "mpx/queues.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mpx/detail/message_ring.hpp"
#include "mpx/process.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/threading.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

struct Tick {
  int producer;
  int seq;
};

std::string big_string(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i % 61));
  return s;
}

void join_ok(mpx::Process& p) {
  ASSERT_TRUE(p.join(30s)) << "child did not finish";
  EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace

TEST(Queue, FifoInOneProcess) {
  mpx::Queue<int> q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 100; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 100u);
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
}

TEST(Queue, EncodableTypes) {
  mpx::Queue<std::string> strings;
  strings.put("");
  strings.put("hello");
  EXPECT_EQ(strings.get(), "");
  EXPECT_EQ(strings.get(), "hello");

  mpx::Queue<std::vector<std::map<int, std::string>>> nested;
  std::vector<std::map<int, std::string>> v{{{1, "a"}}, {}, {{2, "b"}, {3, "c"}}};
  nested.put(v);
  EXPECT_EQ(nested.get(), v);

  mpx::Queue<Tick> ticks;
  ticks.put(Tick{3, 4});
  Tick t = ticks.get();
  EXPECT_EQ(t.producer, 3);
  EXPECT_EQ(t.seq, 4);
}

TEST(Queue, EmptyAndTimeouts) {
  // Python: get(block=False) and get(timeout=t) raise queue.Empty.
  mpx::Queue<int> q;
  EXPECT_THROW(q.get_nowait(), mpx::queue::Empty);
  EXPECT_THROW(q.get(false), mpx::queue::Empty);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(50ms), mpx::queue::Empty);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  EXPECT_FALSE(q.try_get().has_value());
  EXPECT_FALSE(q.try_get(10ms).has_value());
  // multiprocessing (unlike queue.Queue): a negative timeout does not wait.
  EXPECT_THROW(q.get(-1s), mpx::queue::Empty);
  mpx::Queue<int> one(1);
  one.put(1);
  EXPECT_THROW(one.put(2, -1s), mpx::queue::Full);
}

TEST(Queue, MaxsizeAndFull) {
  mpx::Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  q.put(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(3), mpx::queue::Full);
  EXPECT_THROW(q.put(3, 20ms), mpx::queue::Full);
  EXPECT_FALSE(q.try_put(3));
  EXPECT_EQ(q.get(), 1);
  EXPECT_FALSE(q.full());
  EXPECT_TRUE(q.try_put(3));
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
  // Python: maxsize <= 0 means unbounded.
  mpx::Queue<int> unbounded(-5);
  EXPECT_EQ(unbounded.maxsize(), 0u);
  for (int i = 0; i < 1000; ++i) unbounded.put_nowait(i);
  EXPECT_FALSE(unbounded.full());
}

TEST(Queue, BlockedPutGoesOnWhenAConsumerMakesRoom) {
  mpx::Queue<int> q(1);
  q.put(1);
  mpx::Process consumer([&] {
    if (q.get(20s) != 1) std::_Exit(2);
  });
  consumer.start();
  q.put(2, 20s);  // waits for the child's get
  join_ok(consumer);
  EXPECT_EQ(q.get(), 2);
}

TEST(Queue, CloseDrainsThenRaisesClosed) {
  mpx::Queue<int> q;
  q.put(1);
  q.put(2);
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_THROW(q.put(3), mpx::ValueError);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
  EXPECT_THROW(q.get(), mpx::Closed);
  EXPECT_THROW(q.get_nowait(), mpx::Closed);
  EXPECT_FALSE(q.try_get().has_value());
  q.close();  // twice is fine, as in Python
}

TEST(Queue, CloseStopsEveryConsumerWithoutSentinels) {
  mpx::Queue<int> q;
  mpx::Value<long> sum(0);
  constexpr int kConsumers = 3, kItems = 300;
  std::vector<mpx::Process> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      long mine = 0;
      for (int item : q) mine += item;  // ends at Closed
      std::scoped_lock hold(sum.get_lock());
      sum = sum.value() + mine;
    });
    consumers.back().start();
  }
  for (int i = 1; i <= kItems; ++i) q.put(i);
  q.close();
  for (auto& c : consumers) join_ok(c);
  EXPECT_EQ(sum.value(), long{kItems} * (kItems + 1) / 2);
}

TEST(Queue, JoinThreadNeedsCloseFirst) {
  mpx::Queue<int> q;
  EXPECT_THROW(q.join_thread(), mpx::AssertionError);
  q.cancel_join_thread();
  q.close();
  q.join_thread();
}

TEST(Queue, ManyProducersManyConsumersEveryItemOnceInOrderPerProducer) {
  constexpr int kProducers = 3, kConsumers = 3, kItems = 2000;
  mpx::Queue<Tick> q(64);  // small: producers block and wake often
  mpx::Queue<std::vector<Tick>> results;
  std::vector<mpx::Process> procs;
  for (int c = 0; c < kConsumers; ++c) {
    procs.emplace_back([&] {
      std::vector<Tick> seen;
      for (Tick t : q) seen.push_back(t);
      results.put(seen);
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    procs.emplace_back([&, p] {
      for (int i = 0; i < kItems; ++i) q.put(Tick{p, i});
    });
  }
  for (auto& p : procs) p.start();
  for (int i = kConsumers; i < kConsumers + kProducers; ++i) join_ok(procs[static_cast<std::size_t>(i)]);
  q.close();
  std::vector<int> count(kProducers * kItems, 0);
  for (int c = 0; c < kConsumers; ++c) {
    std::vector<int> last(kProducers, -1);
    for (Tick t : results.get(30s)) {
      ASSERT_GE(t.producer, 0);
      ASSERT_LT(t.producer, kProducers);
      // One consumer sees each producer's items in the order they were put.
      EXPECT_GT(t.seq, last[static_cast<std::size_t>(t.producer)]);
      last[static_cast<std::size_t>(t.producer)] = t.seq;
      ++count[static_cast<std::size_t>(t.producer * kItems + t.seq)];
    }
  }
  for (int i = 0; i < kConsumers; ++i) join_ok(procs[static_cast<std::size_t>(i)]);
  EXPECT_TRUE(std::all_of(count.begin(), count.end(), [](int n) { return n == 1; }));
}

TEST(Queue, ThreadsOfSeveralProcessesShareIt) {
  mpx::Queue<int> q;
  constexpr int kThreads = 4, kItems = 500;
  mpx::Process producer([&] {
    std::vector<std::unique_ptr<mpx::threading::Thread>> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.push_back(std::make_unique<mpx::threading::Thread>([&q, t] {
        for (int i = 0; i < kItems; ++i) q.put(t * kItems + i);
      }));
      threads.back()->start();
    }
    for (auto& t : threads) t->join();
  });
  producer.start();
  std::vector<int> got(kThreads * kItems, 0);
  std::vector<std::thread> consumers;
  std::mutex mu;
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&] {
      for (int n = 0; n < kThreads * kItems / 2; ++n) {
        int v = q.get(30s);
        std::scoped_lock hold(mu);
        ++got[static_cast<std::size_t>(v)];
      }
    });
  }
  for (auto& t : consumers) t.join();
  join_ok(producer);
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](int n) { return n == 1; }));
}

TEST(Queue, ItemsLargerThanTheRingFlowThrough) {
  // A 10 MiB item through a 64 KiB ring: fragments, no deadlock.
  mpx::Queue<std::string> q(0, {.ring_bytes = 64 << 10});
  const std::string a = big_string(10 << 20, 'a'), b = big_string(100, 'b'), c = big_string(300 << 10, 'c');
  mpx::Process producer([&] {
    q.put(a);
    q.put(b);
    q.put(c);
  });
  producer.start();
  EXPECT_EQ(q.get(30s), a);
  EXPECT_EQ(q.get(30s), b);
  EXPECT_EQ(q.get(30s), c);
  join_ok(producer);
}

TEST(Queue, CloseDuringAMultiFragmentPutFinishesThatItem) {
  // close() while a producer waits for room between two fragments: the item
  // is finished (close only refuses new puts), consumers drain it, then Closed.
  mpx::Queue<std::string> q(0, {.ring_bytes = 4096});
  const std::string big = big_string(64 << 10, 'k');
  std::thread producer([&] { q.put(big); });
  // The ring holds 4 KiB of the 64 KiB: wait until the put is under way.
  while (q.ring().head_for_tests().load() == 0) {
    std::this_thread::yield();
  }
  q.close();
  EXPECT_EQ(q.get(20s), big);
  producer.join();
  EXPECT_THROW(q.get(), mpx::Closed);
}

TEST(Queue, MessageSizeLimit) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 4096, .max_message_size = 1000});
  EXPECT_THROW(q.put(std::string(2000, 'x')), mpx::ValueError);
  q.put(std::string(900, 'y'));
  EXPECT_EQ(q.get().size(), 900u);
}

TEST(Queue, JoiningAProducerWithItemsStillQueuedDoesNotDeadlock) {
  // Python's documented pitfall ("Joining processes that use queues"):
  // the child's put('X' * 1000000) sits in its feeder thread until someone
  // reads, so joining before get() deadlocks. mpx's put() returns with the
  // item in shared memory: the child exits and the join returns.
  mpx::Queue<std::string> q;
  mpx::Process producer([&] { q.put(std::string(1000000, 'X')); });
  producer.start();
  join_ok(producer);
  EXPECT_EQ(q.get(1s).size(), 1000000u);
}

TEST(Queue, WrapsAroundTheRingManyTimes) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 4096});
  mpx::Process producer([&] {
    for (int i = 0; i < 5000; ++i)
      q.put(std::string(static_cast<std::size_t>(i % 700), static_cast<char>('a' + i % 26)));
  });
  producer.start();
  for (int i = 0; i < 5000; ++i) {
    std::string s = q.get(30s);
    ASSERT_EQ(s, std::string(static_cast<std::size_t>(i % 700), static_cast<char>('a' + i % 26)));
  }
  join_ok(producer);
}

// The pool's feed: one thread puts bursts inside a put batch (one wake-up
// call for the burst, waking up to as many sleepers as records), consumers
// in two processes wait unlocked between bursts. Every message arrives once,
// whatever burst it came in; nested batches wake at the outer end.
TEST(MessageRing, PutBatchesReachConsumersInOtherProcesses) {
  using mpx::detail::Deadline;
  mpx::detail::MessageRing tasks({.ring_bytes = 1 << 16, .wait_unlocked = true});
  mpx::detail::MessageRing done({.ring_bytes = 1 << 16});
  constexpr int kBursts = 200;
  constexpr int kMessages = kBursts * (kBursts + 1) / 2;
  auto consumer = [&] {
    for (;;) {
      int value = 0;
      try {
        if (!tasks.get(
                Deadline::after(30s),
                [](void* ctx, std::span<const std::byte> m) { std::memcpy(ctx, m.data(), sizeof(int)); }, &value))
          mpx::exit(2);
      } catch (const mpx::Closed&) {
        return;
      }
      done.put(std::as_bytes(std::span(&value, 1)), Deadline::never());
    }
  };
  mpx::Process a(consumer), b(consumer);
  a.start();
  b.start();
  std::vector<int> seen(kMessages, 0);
  int next = 0;
  for (int burst = 1; burst <= kBursts; ++burst) {
    tasks.begin_put_batch();
    tasks.begin_put_batch();  // nested: only the outer end wakes
    for (int i = 0; i < burst; ++i, ++next) tasks.put(std::as_bytes(std::span(&next, 1)), Deadline::never());
    tasks.end_put_batch();
    tasks.end_put_batch();
    // The burst is taken before the next: the consumers go back to waiting.
    for (int i = 0; i < burst; ++i) {
      int value = -1;
      ASSERT_TRUE(done.get(
          Deadline::after(30s),
          [](void* ctx, std::span<const std::byte> m) { std::memcpy(ctx, m.data(), sizeof(int)); }, &value));
      ASSERT_GE(value, 0);
      ASSERT_LT(value, kMessages);
      ++seen[static_cast<std::size_t>(value)];
    }
  }
  tasks.close();
  join_ok(a);
  join_ok(b);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kMessages);
}

// get_many, as a pool's result thread drains: small messages come in
// batches of at most the number asked, a fragmented one (larger than a
// quarter of the ring) alone, and every message arrives once, in order,
// from a producer in another process.
TEST(MessageRing, GetManyTakesBatchesInOrderAndLeavesFragmentedMessagesWhole) {
  using mpx::detail::Deadline;
  mpx::detail::MessageRing ring({.ring_bytes = 1 << 14});
  constexpr int kMessages = 3000;
  auto size_of = [](int i) -> std::size_t { return i % 97 == 0 ? 9000 : 4 + static_cast<std::size_t>(i % 40); };
  mpx::Process producer([&] {
    for (int i = 0; i < kMessages; ++i) {
      std::vector<std::byte> m(size_of(i), std::byte{0x5a});
      std::memcpy(m.data(), &i, sizeof i);
      ring.put(m, Deadline::never());
    }
  });
  producer.start();
  struct Seen {
    std::vector<int> ids;
    std::vector<std::size_t> sizes;
  } seen;
  auto sink = [](void* ctx, std::span<const std::byte> m) {
    auto* s = static_cast<Seen*>(ctx);
    int id = -1;
    std::memcpy(&id, m.data(), sizeof id);
    s->ids.push_back(id);
    s->sizes.push_back(m.size());
  };
  std::size_t largest_batch = 0;
  while (seen.ids.size() < static_cast<std::size_t>(kMessages)) {
    const std::size_t before = seen.ids.size();
    ASSERT_TRUE(ring.get_many(Deadline::after(30s), sink, &seen, 8));
    const std::size_t got = seen.ids.size() - before;
    ASSERT_GE(got, 1u);
    ASSERT_LE(got, 8u);
    largest_batch = std::max(largest_batch, got);
    for (std::size_t k = before; k < seen.ids.size(); ++k) {
      if (seen.sizes[k] > 4096) {
        EXPECT_EQ(got, 1u) << "a fragmented message shares a batch";
      }
    }
  }
  join_ok(producer);
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(seen.ids[static_cast<std::size_t>(i)], i);
    ASSERT_EQ(seen.sizes[static_cast<std::size_t>(i)], size_of(i));
  }
  EXPECT_EQ(ring.qsize(), 0u);
  EXPECT_GE(largest_batch, 1u);
}

// A producer short of room is woken once half the ring is free, not per
// message taken: it must still get every message through, in order, over a
// ring far smaller than what it puts (and with maxsize, at once).
TEST(MessageRing, AProducerWaitingForRoomGoesOnAsTheConsumerDrains) {
  for (std::uint32_t maxsize : {0u, 3u}) {
    mpx::Queue<std::string> q(static_cast<int>(maxsize), {.ring_bytes = 4096});
    mpx::Process producer([&] {
      for (int i = 0; i < 3000; ++i) q.put(std::string(static_cast<std::size_t>(100 + i % 300), 'x'));
    });
    producer.start();
    for (int i = 0; i < 3000; ++i) ASSERT_EQ(q.get(30s).size(), static_cast<std::size_t>(100 + i % 300));
    join_ok(producer);
  }
}

TEST(SimpleQueue, GetPutEmptyClose) {
  mpx::SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  mpx::Process child([&] { q.put("from child"); });
  child.start();
  EXPECT_EQ(q.get(), "from child");
  join_ok(child);
  EXPECT_TRUE(q.empty());
  q.close();
  EXPECT_THROW(q.get(), mpx::Closed);
}

TEST(JoinableQueue, TaskDoneTooManyTimes) {
  mpx::JoinableQueue<int> q;
  EXPECT_THROW(q.task_done(), mpx::ValueError);
  q.put(1);
  EXPECT_EQ(q.get(), 1);
  q.task_done();
  EXPECT_THROW(q.task_done(), mpx::ValueError);
  q.join();
}

TEST(JoinableQueue, JoinWaitsForEveryTaskDone) {
  mpx::JoinableQueue<int> q;
  mpx::Value<int> done(0);
  constexpr int kItems = 50;
  for (int i = 0; i < kItems; ++i) q.put(i);
  EXPECT_FALSE(q.join(10ms));
  mpx::Process worker([&] {
    for (int i = 0; i < kItems; ++i) {
      q.get(20s);
      done = done.value() + 1;
      q.task_done();
    }
  });
  worker.start();
  q.join();
  EXPECT_EQ(done.value(), kItems);
  join_ok(worker);
}

TEST(Queue, CorruptedHeaderRaisesDecodeError) {
  mpx::Queue<int> q;
  q.put(7);
  q.ring().head_for_tests().store(~std::uint64_t{0});
  EXPECT_THROW(q.get(), mpx::DecodeError);
}

TEST(Queue, CorruptedRecordRaisesDecodeError) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 4096});
  q.put("hello");
  // Smash the first record's length.
  auto* ring = static_cast<unsigned char*>(q.ring().shared_records_for_tests());
  std::fill(ring, ring + 4, 0x7f);
  EXPECT_THROW(q.get(), mpx::DecodeError);
}
