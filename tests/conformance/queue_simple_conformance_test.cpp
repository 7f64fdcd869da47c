// Port of CPython's Lib/test/test_queue.py, part 2: FailingQueueTest and
// BaseSimpleQueueTest (python/cpython main, the 3.13+ version). Part 1,
// queue_conformance_test.cpp, has BaseQueueTestMixin and says how the port
// works (no sleeps as synchronization: support/queue_threads.hpp) and what is
// not ported. Each TEST names its source.
//
// FailingQueueTest: Python's FailingQueue overrides _put and _get to raise on
// demand; here that is a Storage policy over Fifo (mpx::queue's _put/_get).
// BaseSimpleQueueTest runs on SimpleQueue<int> with -1 for Python's None
// sentinel; its feeders yield where Python sleeps a random 0-1 ms (pacing,
// not synchronization).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpx/queue.hpp"
#include "support/queue_threads.hpp"

using namespace std::chrono_literals;
using mpx::queue::Empty;
using mpx::test::do_blocking_test;
using mpx::test::do_exceptional_blocking_test;
using mpx::test::List;
using mpx::test::qfull;
using mpx::test::Threads;

namespace {

constexpr int QUEUE_SIZE = 5;

// ---- FailingQueueTest --------------------------------------------------------------

struct FailingQueueException : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Python's FailingQueue overrides _put and _get; here the same is a Storage
/// policy over Fifo, with the flags outside (the test flips them).
struct FailFlags {
  std::atomic<bool> fail_next_put{false};
  std::atomic<bool> fail_next_get{false};
};

class FailingStorage {
 public:
  static constexpr bool concurrent_put_get = true;
  explicit FailingStorage(FailFlags* flags) : flags_(flags) {}
  void put(std::string&& item) {
    if (flags_->fail_next_put.exchange(false)) throw FailingQueueException("You Lose");
    items_.put(std::move(item));
  }
  std::string get() {
    if (flags_->fail_next_get.exchange(false)) throw FailingQueueException("You Lose");
    return items_.get();
  }

 private:
  FailFlags* flags_;
  mpx::queue::Fifo<std::string> items_;
};
using FailingQueue = mpx::queue::BasicQueue<std::string, FailingStorage>;

void failing_queue_test(FailingQueue& q, FailFlags& f) {
  ASSERT_EQ(q.qsize(), 0u) << "Call this function with an empty queue";
  for (int i = 0; i < QUEUE_SIZE - 1; ++i) q.put(std::to_string(i));
  // Test a failing non-blocking put.
  f.fail_next_put = true;
  EXPECT_THROW(q.put("oops", false), FailingQueueException) << "The queue didn't fail when it should have";
  f.fail_next_put = true;
  EXPECT_THROW(q.put("oops", 100ms), FailingQueueException) << "The queue didn't fail when it should have";
  q.put("last");
  EXPECT_TRUE(qfull(q)) << "Queue should be full";
  // Test a failing blocking put
  f.fail_next_put = true;
  EXPECT_THROW(do_blocking_test([&] { q.put("full"); }, [&] { q.get(); }), FailingQueueException);
  // Check the Queue isn't damaged. put failed, but get succeeded - re-add
  q.put("last");
  // Test a failing timeout put
  f.fail_next_put = true;
  do_exceptional_blocking_test<FailingQueueException>([&] { q.put("full", 10s); }, [&] { q.get(); });
  // Check the Queue isn't damaged. put failed, but get succeeded - re-add
  q.put("last");
  EXPECT_TRUE(qfull(q)) << "Queue should be full";
  q.get();
  EXPECT_TRUE(!qfull(q)) << "Queue should not be full";
  q.put("last");
  EXPECT_TRUE(qfull(q)) << "Queue should be full";
  // Test a blocking put
  do_blocking_test([&] { q.put("full"); }, [&] { q.get(); });
  // Empty it
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get();
  EXPECT_TRUE(!q.qsize()) << "Queue should be empty";
  q.put("first");
  f.fail_next_get = true;
  EXPECT_THROW(q.get(), FailingQueueException) << "The queue didn't fail when it should have";
  EXPECT_TRUE(q.qsize()) << "Queue should not be empty";
  f.fail_next_get = true;
  EXPECT_THROW(q.get(100ms), FailingQueueException) << "The queue didn't fail when it should have";
  EXPECT_TRUE(q.qsize()) << "Queue should not be empty";
  q.get();
  EXPECT_TRUE(!q.qsize()) << "Queue should be empty";
  f.fail_next_get = true;
  do_exceptional_blocking_test<FailingQueueException>([&] { q.get(); }, [&] { q.put("empty"); });
  // put succeeded, but get failed.
  EXPECT_TRUE(q.qsize()) << "Queue should not be empty";
  q.get();
  EXPECT_TRUE(!q.qsize()) << "Queue should be empty";
}

// CPython: test_queue.FailingQueueTest.test_failing_queue
TEST(FailingQueueTest, FailingQueue) {
  // Test to make sure a queue is functioning correctly. Done twice to the same instance.
  FailFlags flags;
  FailingQueue q(QUEUE_SIZE, FailingStorage(&flags));
  failing_queue_test(q, flags);
  failing_queue_test(q, flags);
}

// ---- BaseSimpleQueueTest -------------------------------------------------------------

using SimpleQueue = mpx::queue::SimpleQueue<int>;
constexpr int kSentinel = -1;  // Python's None

// Python: BaseSimpleQueueTest.feed — pops from a shared sequence; yields at
// random points where Python sleeps 0-1 ms.
void feed(SimpleQueue& q, std::vector<int>& seq, std::mutex& seq_mu, std::mt19937& rnd, std::mutex& rnd_mu) {
  for (;;) {
    int val;
    {
      std::scoped_lock hold(seq_mu);
      if (seq.empty()) {
        q.put(kSentinel);
        return;
      }
      val = seq.back();
      seq.pop_back();
    }
    q.put(val);
    bool pause;
    {
      std::scoped_lock hold(rnd_mu);
      pause = rnd() % 2 == 0;
    }
    if (pause) std::this_thread::yield();
  }
}

void consume(SimpleQueue& q, List<int>& results) {
  for (;;) {
    int val = q.get();
    if (val == kSentinel) return;
    results.append(val);
  }
}

void consume_nonblock(SimpleQueue& q, List<int>& results) {
  for (;;) {
    int val;
    for (;;) {
      try {
        val = q.get(false);
        break;
      } catch (const Empty&) {
        std::this_thread::yield();  // Python: time.sleep(1e-5)
      }
    }
    if (val == kSentinel) return;
    results.append(val);
  }
}

void consume_timeout(SimpleQueue& q, List<int>& results) {
  for (;;) {
    int val;
    for (;;) {
      try {
        val = q.get(std::chrono::microseconds(10));
        break;
      } catch (const Empty&) {
      }
    }
    if (val == kSentinel) return;
    results.append(val);
  }
}

template <class Consume>
std::vector<int> run_threads(int n_threads, SimpleQueue& q, const std::vector<int>& inputs, Consume consume_func) {
  List<int> results;
  std::vector<int> seq(inputs.rbegin(), inputs.rend());
  std::mutex seq_mu, rnd_mu;
  std::mt19937 rnd(42);
  {
    Threads threads;  // Python: threading_helper.start_threads(feeders + consumers)
    for (int i = 0; i < n_threads; ++i) threads.add([&] { feed(q, seq, seq_mu, rnd, rnd_mu); });
    for (int i = 0; i < n_threads; ++i) threads.add([&] { consume_func(q, results); });
  }
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  return results.get();
}

std::vector<int> range(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// CPython: test_queue.BaseSimpleQueueTest.test_basic
TEST(BaseSimpleQueueTest, Basic) {
  SimpleQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 1u);
  q.put(2);
  q.put_nowait(3);
  q.put(4);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 4u);

  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get(false), 3);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get(100ms), 4);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);

  EXPECT_THROW(q.get(false), Empty);
  EXPECT_THROW(q.get(1ms), Empty);
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
}

// CPython: test_queue.BaseSimpleQueueTest.test_negative_timeout_raises_exception
TEST(BaseSimpleQueueTest, NegativeTimeoutRaisesException) {
  SimpleQueue q;
  q.put(1);
  EXPECT_THROW(q.get(-1s), mpx::ValueError);
}

// CPython: test_queue.BaseSimpleQueueTest.test_order
TEST(BaseSimpleQueueTest, Order) {
  // One producer, one consumer => results appended in well-defined order
  SimpleQueue q;
  auto inputs = range(100);
  EXPECT_EQ(run_threads(1, q, inputs, consume), inputs);
}

// CPython: test_queue.BaseSimpleQueueTest.test_many_threads
TEST(BaseSimpleQueueTest, ManyThreads) {
  // Multiple consumers without synchronization append the results in random order
  SimpleQueue q;
  auto inputs = range(10000);
  auto results = run_threads(50, q, inputs, consume);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// CPython: test_queue.BaseSimpleQueueTest.test_many_threads_nonblock
TEST(BaseSimpleQueueTest, ManyThreadsNonblock) {
  SimpleQueue q;
  auto inputs = range(10000);
  auto results = run_threads(50, q, inputs, consume_nonblock);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// CPython: test_queue.BaseSimpleQueueTest.test_many_threads_timeout
TEST(BaseSimpleQueueTest, ManyThreadsTimeout) {
  SimpleQueue q;
  auto inputs = range(1000);
  auto results = run_threads(50, q, inputs, consume_timeout);
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, inputs);
}

// CPython: test_queue.BaseSimpleQueueTest.test_references — the queue lets go
// of each item as it leaves (Python: a weakref dies; here a live count drops).
TEST(BaseSimpleQueueTest, References) {
  struct C {
    std::atomic<int>* live;
    explicit C(std::atomic<int>* l) : live(l) { ++*live; }
    C(C&& o) noexcept : live(o.live) { ++*live; }
    ~C() { --*live; }
  };
  std::atomic<int> live{0};
  mpx::queue::SimpleQueue<C> q;
  const int N = 20;
  for (int i = 0; i < N; ++i) q.put(C(&live));
  for (int i = 0; i < N; ++i) {
    { C c = q.get(); }
    EXPECT_EQ(live.load(), N - i - 1);
  }
}

}  // namespace
