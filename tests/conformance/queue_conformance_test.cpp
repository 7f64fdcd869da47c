// Port of CPython's Lib/test/test_queue.py (python/cpython main, the 3.13+
// version with the shutdown tests) to mpx::queue, part 1: BaseQueueTestMixin
// on Queue, LifoQueue and PriorityQueue. Part 2 (queue_simple_conformance_test.cpp)
// has FailingQueueTest and BaseSimpleQueueTest. Each TEST names its source.
//
// CPython runs every class twice, on the pure-Python module and on the C
// accelerator (PyQueueTest / CQueueTest ...); mpx has one implementation, so
// each test runs once, on Queue, LifoQueue and PriorityQueue where CPython
// uses BaseQueueTestMixin, and on SimpleQueue for BaseSimpleQueueTest.
// Python mixes ints, strings and tuples in one queue; here a test uses
// Q<int>, Q<std::string> or Q<std::pair<int, std::string>> as its values need.
//
// Python's _TriggerThread sleeps 0.1 s so that the blocking call has time to
// block; here the trigger thread waits until the blocked thread sleeps in the
// kernel (support/queue_threads.hpp). BaseSimpleQueueTest's feeders sleep a
// random 0-1 ms to vary the interleaving (pacing, not synchronization); here
// they yield at the same random points. No sleep synchronizes anything.
//
// Ported: BaseQueueTestMixin (basic_queue_test via test_basic,
//   test_queue_task_done, test_queue_join, test_negative_timeout_raises_exception,
//   test_nowait, test_shrinking_queue, test_shutdown_empty, _nonempty,
//   _immediate, _allowed_transitions, _all_methods_in_one_thread (both),
//   _all_methods_in_many_threads (both), _get (both), _put (both), _join
//   (both), _put_join (both), _get_task_done_join, _pending_get) for
//   QueueTest, LifoQueueTest, PriorityQueueTest; in part 2: FailingQueueTest
//   (test_failing_queue, with a Storage policy whose put/get raise on demand,
//   Python's _put/_get override); BaseSimpleQueueTest (test_basic,
//   test_negative_timeout_raises_exception, test_order, test_many_threads,
//   test_many_threads_nonblock, test_many_threads_timeout, test_references).
//
// Not ported, and why:
//   CSimpleQueueTest.test_is_default    checks that SimpleQueue is the C
//                                       accelerator's class; mpx has one.
//   CSimpleQueueTest.test_reentrancy    put() called from a __del__ that the
//                                       garbage collector runs at any moment,
//                                       even inside put(); C++ runs no code at
//                                       arbitrary points. The C++ case (an
//                                       item's destructor using its queue) is
//                                       queue_test's DrainedItemsMayUseTheQueue...
//   test_references's weakref/gc_collect  ported as a count of live items.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/queue.hpp"
#include "support/queue_threads.hpp"

using namespace std::chrono_literals;
using mpx::queue::Empty;
using mpx::queue::Full;
using mpx::queue::ShutDown;
using mpx::test::do_blocking_test;
using mpx::test::Event;
using mpx::test::List;
using mpx::test::qfull;
using mpx::test::Threads;

namespace {

constexpr int QUEUE_SIZE = 5;

// ---- BaseQueueTestMixin: QueueTest, LifoQueueTest, PriorityQueueTest ----------------

template <class T>
using PriorityQueue = mpx::queue::PriorityQueue<T>;

template <template <class> class Q, int Kind>
struct QueueKind {
  template <class T>
  using type = Q<T>;
  // basic_queue_test's target_order for 111, 333, 222.
  static std::vector<int> target_order() {
    if (Kind == 0) return {111, 333, 222};
    if (Kind == 1) return {222, 333, 111};
    return {111, 222, 333};
  }
};
using QueueTest = QueueKind<mpx::queue::Queue, 0>;
using LifoQueueTest = QueueKind<mpx::queue::LifoQueue, 1>;
using PriorityQueueTest = QueueKind<PriorityQueue, 2>;

struct KindNames {
  template <class K>
  static std::string GetName(int) {
    if (std::is_same_v<K, QueueTest>) return "Queue";
    if (std::is_same_v<K, LifoQueueTest>) return "LifoQueue";
    return "PriorityQueue";
  }
};

template <class K>
class BaseQueueTestMixin : public ::testing::Test {
 protected:
  template <class T>
  using Q = typename K::template type<T>;

  void basic_queue_test(Q<int>& q) {
    ASSERT_EQ(q.qsize(), 0u) << "Call this function with an empty queue";
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());
    q.put(111);
    q.put(333);
    q.put(222);
    std::vector<int> actual_order{q.get(), q.get(), q.get()};
    // (a braced list is evaluated left to right: get() order is kept)
    EXPECT_EQ(actual_order, K::target_order()) << "Didn't seem to queue the correct data!";
    for (int i = 0; i < QUEUE_SIZE - 1; ++i) {
      q.put(i);
      EXPECT_TRUE(q.qsize()) << "Queue should not be empty";
    }
    EXPECT_TRUE(!qfull(q)) << "Queue should not be full";
    const int last = 2 * QUEUE_SIZE;
    const int full = 3 * 2 * QUEUE_SIZE;
    q.put(last);
    EXPECT_TRUE(qfull(q)) << "Queue should be full";
    EXPECT_FALSE(q.empty());
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put(full, false), Full) << "Didn't appear to block with a full queue";
    EXPECT_THROW(q.put(full, 10ms), Full) << "Didn't appear to time-out with a full queue";
    // Test a blocking put
    do_blocking_test([&] { q.put(full); }, [&] { q.get(); });
    do_blocking_test([&] { q.put(full, 10s); }, [&] { q.get(); });
    // Empty it
    for (int i = 0; i < QUEUE_SIZE; ++i) q.get();
    EXPECT_TRUE(!q.qsize()) << "Queue should be empty";
    EXPECT_THROW(q.get(false), Empty) << "Didn't appear to block with an empty queue";
    EXPECT_THROW(q.get(10ms), Empty) << "Didn't appear to time-out with an empty queue";
    // Test a blocking get
    EXPECT_EQ(do_blocking_test([&] { return q.get(); }, [&] { q.put(77); }), 77);
    EXPECT_EQ(do_blocking_test([&] { return q.get(10s); }, [&] { q.put(78); }), 78);
  }

  void worker(Q<int>& q) {
    for (;;) {
      int x = q.get();
      if (x < 0) {
        q.task_done();
        return;
      }
      {
        std::scoped_lock hold(cumlock_);
        cum_ += x;
      }
      q.task_done();
    }
  }

  void queue_join_test(Q<int>& q) {
    cum_ = 0;
    Threads threads;
    for (int i = 0; i < 2; ++i) threads.add([&] { worker(q); });
    for (int i = 0; i < 100; ++i) q.put(i);
    q.join();
    {
      std::scoped_lock hold(cumlock_);
      EXPECT_EQ(cum_, 4950) << "q.join() did not block until all tasks were done";
    }
    for (int i = 0; i < 2; ++i) q.put(-1);  // instruct the threads to close
    q.join();                               // verify that you can join twice
    threads.join();
  }

  // Python: _shutdown_all_methods_in_one_thread.
  void shutdown_all_methods_in_one_thread(bool immediate) {
    Q<std::string> q(2);
    q.put("L");
    q.put_nowait("O");
    q.shutdown(immediate);
    EXPECT_THROW(q.put("E"), ShutDown);
    EXPECT_THROW(q.put_nowait("W"), ShutDown);
    if (immediate) {
      EXPECT_THROW(q.get(), ShutDown);
      EXPECT_THROW(q.get_nowait(), ShutDown);
      EXPECT_THROW(q.task_done(), mpx::ValueError);
      q.join();
    } else {
      std::string a = q.get();
      EXPECT_TRUE(a == "L" || a == "O");
      q.task_done();
      std::string b = q.get();
      EXPECT_TRUE(b == "L" || b == "O");
      q.task_done();
      q.join();
      // on shutdown(immediate=False), when the queue is empty: ShutDown
      EXPECT_THROW(q.get(), ShutDown);
      EXPECT_THROW(q.get_nowait(), ShutDown);
      EXPECT_THROW(q.get(1s), ShutDown);
    }
  }

  // Python: _shutdown_all_methods_in_many_threads and its thread functions.
  void shutdown_all_methods_in_many_threads(bool immediate) {
    using Msg = std::pair<int, std::string>;
    Q<Msg> q;
    List<bool> res_puts, res_gets, res_shutdown;
    const int write_threads = 4, read_threads = 6, join_threads = 2;
    const int nb_msgs = 1024 * 64;
    const int nb_msgs_w = nb_msgs / write_threads;
    const int when_exec_shutdown = nb_msgs_w / 2;
    // The barrier makes sure that all write threads put their first items and
    // all read threads got at least one item before the race starts.
    const int nparties = write_threads + read_threads + (immediate ? join_threads : 0);
    std::barrier barrier_start(nparties);
    Event ev_exec_shutdown;
    Threads threads;
    for (int w = 0; w < write_threads; ++w) {
      threads.add([&] {  // _write_msg_thread
        for (int i = 0; i < when_exec_shutdown / 2; ++i) q.put(Msg{i, "LOYD"});
        barrier_start.arrive_and_wait();
        for (int i = when_exec_shutdown / 2; i < nb_msgs_w; ++i) {
          try {
            q.put(Msg{i, "YDLO"});
          } catch (const ShutDown&) {
            res_puts.append(false);
            break;
          }
          // Trigger queue shutdown; only one thread should call shutdown().
          if (i == when_exec_shutdown && !ev_exec_shutdown.is_set()) {
            ev_exec_shutdown.set();
            res_puts.append(true);
          }
        }
      });
    }
    for (int r = 0; r < read_threads; ++r) {
      threads.add([&] {  // _read_msg_thread
        q.get(true);
        q.task_done();
        barrier_start.arrive_and_wait();
        for (;;) {
          try {
            q.get(false);
            q.task_done();
          } catch (const ShutDown&) {
            res_gets.append(true);
            break;
          } catch (const Empty&) {
          }
        }
      });
    }
    threads.add([&] {  // _shutdown_thread
      ev_exec_shutdown.wait();
      q.shutdown(immediate);
      res_shutdown.append(q.qsize() == 0);
    });
    if (immediate) {
      for (int j = 0; j < join_threads; ++j) {
        threads.add([&] {  // _join_thread
          barrier_start.arrive_and_wait();
          q.join();
        });
      }
    }
    threads.join();
    EXPECT_GE(res_puts.count(true), 1u);
    EXPECT_EQ(res_gets.count(true), static_cast<std::size_t>(read_threads));
    if (immediate) {
      EXPECT_EQ(res_shutdown.get(), std::vector<bool>{true});
      EXPECT_TRUE(q.empty());
    }
  }

  // Python: _get, _get_shutdown, _get_task_done, _put, _put_shutdown, _join.
  static void get(Q<std::string>& q, Event& go, List<bool>& results, bool shutdown = false) {
    go.wait();
    try {
      q.get();
      results.append(!shutdown);
    } catch (const ShutDown&) {
      results.append(shutdown);
    }
  }
  static void get_task_done(Q<std::string>& q, Event& go, List<bool>& results) {
    go.wait();
    try {
      q.get();
      q.task_done();
      results.append(true);
    } catch (const ShutDown&) {
      results.append(false);
    }
  }
  static void put(Q<std::string>& q, const std::string& msg, Event& go, List<bool>& results, bool shutdown) {
    go.wait();
    try {
      q.put(msg);
      results.append(!shutdown);
    } catch (const ShutDown&) {
      results.append(shutdown);
    }
  }
  static void join(Q<std::string>& q, List<bool>& results) {
    q.join();  // Python also catches ShutDown here; join() never raises it
    results.append(true);
  }

  void shutdown_get(bool immediate) {
    Q<std::string> q(2);
    List<bool> results;
    Event go;
    q.put("Y");
    q.put("D");
    // queue full
    const int n = immediate ? 2 : 3;  // immediate: both raise; else one of three raises
    {
      Threads threads;
      for (int i = 0; i < n; ++i) threads.add([&] { get(q, go, results, immediate); });
      q.shutdown(immediate);
      go.set();
    }
    std::vector<bool> r = results.get();
    std::sort(r.begin(), r.end());
    if (immediate) {
      EXPECT_EQ(r, (std::vector<bool>{true, true}));
    } else {
      EXPECT_EQ(r, (std::vector<bool>{false, true, true}));
    }
  }

  void shutdown_put(bool /*immediate: unused, as in Python*/) {
    Q<std::string> q(2);
    List<bool> results;
    Event go;
    q.put("Y");
    q.put("D");
    // queue full
    {
      Threads threads;
      threads.add([&] { put(q, "E", go, results, true); });
      threads.add([&] { put(q, "W", go, results, true); });
      q.shutdown();  // Python calls q.shutdown() in both variants
      go.set();
    }
    EXPECT_EQ(results.get(), (std::vector<bool>{true, true}));
  }

  void shutdown_join(bool immediate) {
    Q<std::string> q;
    List<bool> results;
    q.put("Y");
    Event go;
    const std::size_t nb = q.qsize();
    List<bool> res;
    {
      Threads threads;
      threads.add([&] { join(q, results); });
      threads.add([&] { join(q, results); });
      if (!immediate) {
        for (std::size_t i = 0; i < nb; ++i) threads.add([&] { get_task_done(q, go, res); });
      }
      q.shutdown(immediate);
      go.set();
    }
    EXPECT_EQ(results.get(), (std::vector<bool>{true, true}));
  }

  void shutdown_put_join(bool immediate) {
    Q<std::string> q(2);
    List<bool> results;
    Event go;
    q.put("Y");
    // queue not full
    {
      Threads threads;
      threads.add([&] { put(q, "E", go, results, true); });
      threads.add([&] { join(q, results); });
      EXPECT_EQ(q.unfinished_tasks(), 1u);
      q.shutdown(immediate);
      go.set();
      if (immediate) {
        EXPECT_THROW(q.get_nowait(), ShutDown);
      } else {
        EXPECT_EQ(q.get(), "Y");
        q.task_done();
      }
    }
    EXPECT_EQ(results.get(), (std::vector<bool>{true, true}));
  }

  std::mutex cumlock_;
  int cum_ = 0;
};

using AllKinds = ::testing::Types<QueueTest, LifoQueueTest, PriorityQueueTest>;
TYPED_TEST_SUITE(BaseQueueTestMixin, AllKinds, KindNames);

// CPython: test_queue.BaseQueueTestMixin.test_queue_task_done
TYPED_TEST(BaseQueueTestMixin, QueueTaskDone) {
  typename TestFixture::template Q<int> q;
  EXPECT_THROW(q.task_done(), mpx::ValueError) << "Did not detect task count going negative";
}

// CPython: test_queue.BaseQueueTestMixin.test_queue_join
TYPED_TEST(BaseQueueTestMixin, QueueJoin) {
  typename TestFixture::template Q<int> q;
  this->queue_join_test(q);
  this->queue_join_test(q);
  EXPECT_THROW(q.task_done(), mpx::ValueError) << "Did not detect task count going negative";
}

// CPython: test_queue.BaseQueueTestMixin.test_basic (and basic_queue_test)
TYPED_TEST(BaseQueueTestMixin, Basic) {
  // Done twice to make sure it works with the same instance reused.
  typename TestFixture::template Q<int> q(QUEUE_SIZE);
  this->basic_queue_test(q);
  this->basic_queue_test(q);
}

// CPython: test_queue.BaseQueueTestMixin.test_negative_timeout_raises_exception
TYPED_TEST(BaseQueueTestMixin, NegativeTimeoutRaisesException) {
  typename TestFixture::template Q<int> q(QUEUE_SIZE);
  EXPECT_THROW(q.put(1, -1s), mpx::ValueError);
  EXPECT_THROW(q.get(-1s), mpx::ValueError);  // Python: q.get(1, timeout=-1), block=1
}

// CPython: test_queue.BaseQueueTestMixin.test_nowait
TYPED_TEST(BaseQueueTestMixin, Nowait) {
  typename TestFixture::template Q<int> q(QUEUE_SIZE);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(1), Full);
  for (int i = 0; i < QUEUE_SIZE; ++i) q.get_nowait();
  EXPECT_THROW(q.get_nowait(), Empty);
}

// CPython: test_queue.BaseQueueTestMixin.test_shrinking_queue (issue 10110)
TYPED_TEST(BaseQueueTestMixin, ShrinkingQueue) {
  typename TestFixture::template Q<int> q(3);
  q.put(1);
  q.put(2);
  q.put(3);
  EXPECT_THROW(q.put_nowait(4), Full);
  EXPECT_EQ(q.qsize(), 3u);
  q.set_maxsize(2);  // shrink the queue (Python: q.maxsize = 2)
  EXPECT_THROW(q.put_nowait(4), Full);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_empty
TYPED_TEST(BaseQueueTestMixin, ShutdownEmpty) {
  typename TestFixture::template Q<std::string> q;
  q.shutdown();
  EXPECT_THROW(q.put("data"), ShutDown);
  EXPECT_THROW(q.get(), ShutDown);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_nonempty
TYPED_TEST(BaseQueueTestMixin, ShutdownNonempty) {
  typename TestFixture::template Q<std::string> q;
  q.put("data");
  q.shutdown();
  q.get();
  EXPECT_THROW(q.get(), ShutDown);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediate) {
  typename TestFixture::template Q<std::string> q;
  q.put("data");
  q.shutdown(true);
  EXPECT_THROW(q.get(), ShutDown);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_allowed_transitions
TYPED_TEST(BaseQueueTestMixin, ShutdownAllowedTransitions) {
  // allowed transitions would be from alive via shutdown to immediate
  typename TestFixture::template Q<std::string> q;
  EXPECT_FALSE(q.is_shutdown());
  q.shutdown();
  EXPECT_TRUE(q.is_shutdown());
  q.shutdown(true);
  EXPECT_TRUE(q.is_shutdown());
  q.shutdown(false);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_all_methods_in_one_thread
TYPED_TEST(BaseQueueTestMixin, ShutdownAllMethodsInOneThread) { this->shutdown_all_methods_in_one_thread(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_all_methods_in_one_thread
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediateAllMethodsInOneThread) {
  this->shutdown_all_methods_in_one_thread(true);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_all_methods_in_many_threads
TYPED_TEST(BaseQueueTestMixin, ShutdownAllMethodsInManyThreads) { this->shutdown_all_methods_in_many_threads(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_all_methods_in_many_threads
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediateAllMethodsInManyThreads) {
  this->shutdown_all_methods_in_many_threads(true);
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_get
TYPED_TEST(BaseQueueTestMixin, ShutdownGet) { this->shutdown_get(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_get
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediateGet) { this->shutdown_get(true); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_put
TYPED_TEST(BaseQueueTestMixin, ShutdownPut) { this->shutdown_put(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_put
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediatePut) { this->shutdown_put(true); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_join
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediateJoin) { this->shutdown_join(true); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_join
TYPED_TEST(BaseQueueTestMixin, ShutdownJoin) { this->shutdown_join(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_immediate_put_join
TYPED_TEST(BaseQueueTestMixin, ShutdownImmediatePutJoin) { this->shutdown_put_join(true); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_put_join
TYPED_TEST(BaseQueueTestMixin, ShutdownPutJoin) { this->shutdown_put_join(false); }

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_get_task_done_join
TYPED_TEST(BaseQueueTestMixin, ShutdownGetTaskDoneJoin) {
  typename TestFixture::template Q<std::string> q(2);
  List<bool> results;
  Event go;
  q.put("Y");
  q.put("D");
  EXPECT_EQ(q.unfinished_tasks(), q.qsize());
  {
    Threads threads;
    threads.add([&] { TestFixture::get_task_done(q, go, results); });
    threads.add([&] { TestFixture::get_task_done(q, go, results); });
    threads.add([&] { TestFixture::join(q, results); });
    threads.add([&] { TestFixture::join(q, results); });
    go.set();
    q.shutdown(false);
  }
  EXPECT_EQ(results.get(), (std::vector<bool>(4, true)));
}

// CPython: test_queue.BaseQueueTestMixin.test_shutdown_pending_get
TYPED_TEST(BaseQueueTestMixin, ShutdownPendingGet) {
  typename TestFixture::template Q<std::string> q;
  List<std::string> results;
  Threads get_thread;
  get_thread.add([&] {
    try {
      results.append(q.get());
    } catch (const ShutDown&) {
      results.append("ShutDown");
    }
  });
  q.shutdown(false);
  get_thread.join();  // Python: join(timeout=10.0); Threads aborts after 20 s
  EXPECT_EQ(results.get(), std::vector<std::string>{"ShutDown"});
}

}  // namespace
