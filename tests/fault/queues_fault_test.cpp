// kill -9 of queue producers and consumers mid-operation: no torn item is
// ever delivered, nothing but the one item in flight is lost, and the queue
// goes on working for everyone else.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "mpx/process.hpp"
#include "mpx/queues.hpp"
#include "support/child.hpp"

using namespace std::chrono_literals;

namespace {

// An item that proves it is whole: its bytes follow from its first word.
std::string make_item(std::uint32_t seq, std::size_t size) {
  std::string s(size, '\0');
  std::memcpy(s.data(), &seq, sizeof seq);
  for (std::size_t i = sizeof seq; i < size; ++i) s[i] = static_cast<char>((seq * 31 + i) & 0x7f);
  return s;
}

std::uint32_t check_item(const std::string& s) {
  EXPECT_GE(s.size(), 4u);
  std::uint32_t seq = 0;
  std::memcpy(&seq, s.data(), sizeof seq);
  for (std::size_t i = sizeof seq; i < s.size(); ++i) {
    if (s[i] != static_cast<char>((seq * 31 + i) & 0x7f)) {
      ADD_FAILURE() << "item " << seq << " is torn at byte " << i;
      break;
    }
  }
  return seq;
}

// The producers' position, read from the queue's shared header.
std::uint64_t bytes_published(mpx::detail::MessageRing& ring) { return ring.head_for_tests().load(); }

bool wait_for(const std::function<bool()>& cond, std::chrono::seconds limit = 20s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST(QueueFault, ProducerKilledMidTenMiBPutDeliversNothingTornAndQueueGoesOn) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 64 << 10});
  mpx::Process producer([&] { q.put(make_item(1, 10 << 20)); });
  producer.start();
  mpx::test::ChildGuard guard;
  guard.add(producer);
  // The ring holds 64 KiB of the 10 MiB: the producer blocks mid-message.
  ASSERT_TRUE(wait_for([&] { return bytes_published(q.ring()) > 32 << 10; }));
  ASSERT_TRUE(mpx::test::wait_until_sleeping(producer.pid()));
  producer.kill();
  producer.join();
  // The consumer takes the fragments that are there, notices their writer
  // is gone, drops them: nothing is delivered.
  EXPECT_THROW(q.get(300ms), mpx::queue::Empty);
  EXPECT_EQ(q.qsize(), 0u);
  // A new producer takes the dead one's lock over; its items arrive whole.
  mpx::Process next([&] {
    q.put(make_item(2, 3 << 20));
    q.put(make_item(3, 10));
  });
  next.start();
  EXPECT_EQ(check_item(q.get(20s)), 2u);
  EXPECT_EQ(check_item(q.get(20s)), 3u);
  ASSERT_TRUE(next.join(20s));
  EXPECT_EQ(next.exitcode(), 0);
}

TEST(QueueFault, ProducerKilledMidPutWhileTheConsumerWaitsForTheRest) {
  // The consumer is already inside get(), assembling, when the producer dies.
  mpx::Queue<std::string> q(0, {.ring_bytes = 64 << 10});
  std::atomic<int> outcome{0};  // 1: Empty (right), 2: an item (wrong)
  std::thread consumer([&] {
    try {
      q.get(3s);
      outcome = 2;
    } catch (const mpx::queue::Empty&) {
      outcome = 1;
    }
  });
  mpx::Process producer([&] { q.put(make_item(1, 10 << 20)); });
  producer.start();
  mpx::test::ChildGuard guard;
  guard.add(producer);
  ASSERT_TRUE(wait_for([&] { return bytes_published(q.ring()) > 256 << 10; }));
  producer.kill();
  producer.join();
  consumer.join();
  EXPECT_EQ(outcome.load(), 1);
  q.put(make_item(7, 100));
  EXPECT_EQ(check_item(q.get(5s)), 7u);
}

TEST(QueueFault, ProducersKilledAtRandomMomentsNeverTearItems) {
  // Small and large items, producers killed at random: every item the
  // consumer gets is whole, each producer's items come in order, and the
  // queue keeps working.
  mpx::Queue<std::string> q(0, {.ring_bytes = 16 << 10});
  std::mt19937 rng(12345);
  std::uint32_t next_base = 0;
  for (int round = 0; round < 8; ++round) {
    const std::uint32_t base = next_base;
    next_base += 1'000'000;
    mpx::Process producer([&q, base] {
      for (std::uint32_t i = 0;; ++i) q.put(make_item(base + i, i % 5 == 0 ? 40000 : 16 + i % 200));
    });
    producer.start();
    mpx::test::ChildGuard guard;
    guard.add(producer);
    // Take a random number of items, then kill the producer wherever it is.
    std::uint32_t want = std::uniform_int_distribution<std::uint32_t>(1, 300)(rng);
    std::uint32_t last = 0;
    for (std::uint32_t n = 0; n < want; ++n) {
      std::uint32_t seq = check_item(q.get(20s));
      ASSERT_GE(seq, base);
      if (n > 0) {
        ASSERT_EQ(seq, last + 1);
      }
      last = seq;
    }
    producer.kill();
    producer.join();
    // Drain what it finished; whatever it was writing is never delivered.
    while (auto item = q.try_get(100ms)) {
      std::uint32_t seq = check_item(*item);
      ASSERT_EQ(seq, last + 1);
      last = seq;
    }
  }
  q.put(make_item(42, 5000));
  EXPECT_EQ(check_item(q.get(5s)), 42u);
}

TEST(QueueFault, ConsumerKilledMidTenMiBGetLosesOnlyThatItem) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 64 << 10});
  mpx::Process consumer([&] {
    q.get();  // the 10 MiB item; killed half-way through it
    std::_Exit(3);
  });
  consumer.start();
  mpx::test::ChildGuard guard;
  guard.add(consumer);
  std::thread producer([&] {
    q.put(make_item(1, 10 << 20));
    q.put(make_item(2, 1000));
  });
  ASSERT_TRUE(wait_for([&] { return bytes_published(q.ring()) > 2 << 20; }));
  consumer.kill();
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), -SIGKILL);
  // The next consumer takes the lock over, skips the rest of the item the
  // dead one was taking (freeing the producer), and gets the next one whole.
  EXPECT_EQ(check_item(q.get(20s)), 2u);
  producer.join();
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueFault, ConsumersKilledAtRandomMomentsNeverWedgeTheQueue) {
  mpx::Queue<std::string> q(0, {.ring_bytes = 16 << 10});
  std::mt19937 rng(777);
  std::uint32_t seq = 0;
  std::vector<std::uint32_t> seen;
  for (int round = 0; round < 8; ++round) {
    mpx::Process consumer([&] {
      for (;;) q.get();
    });
    consumer.start();
    mpx::test::ChildGuard guard;
    guard.add(consumer);
    std::uint32_t n = std::uniform_int_distribution<std::uint32_t>(1, 400)(rng);
    for (std::uint32_t i = 0; i < n; ++i) q.put(make_item(seq++, i % 7 == 0 ? 20000 : 64));
    consumer.kill();
    consumer.join();
    // What the dead consumer had not taken is still there, whole, in order.
    std::uint32_t last = 0;
    bool any = false;
    while (auto item = q.try_get(50ms)) {
      std::uint32_t s = check_item(*item);
      if (any) {
        EXPECT_GT(s, last);
      }
      last = s;
      any = true;
    }
  }
  q.put(make_item(99, 64));
  EXPECT_EQ(check_item(q.get(5s)), 99u);
}

TEST(QueueFault, JoiningAProducerBlockedOnAFullQueueIsBoundedByItsTimeout) {
  // Not Python's pitfall, the honest limit: a producer whose put() waits
  // for room is still working; with a timeout it gives up with Full.
  mpx::Queue<std::string> q(1);
  q.put("a");
  mpx::Process producer([&] {
    try {
      q.put("b", 100ms);
    } catch (const mpx::queue::Full&) {
      std::_Exit(7);
    }
  });
  producer.start();
  ASSERT_TRUE(producer.join(20s));
  EXPECT_EQ(producer.exitcode(), 7);
}
