// Ports of CPython's Lib/test/_test_multiprocessing.py for mpx's
// synchronization primitives, part 2: _TestBarrier (python/cpython at commit
// 00811485ee5f), itself adapted from lock_tests.BarrierTests. Part 1
// (synchronize_conformance_test.cpp) says how the TYPEs 'processes' and
// 'threads' are run; the Barrier is one mpx::Barrier in both. Each TEST names
// its source.
//
// Python's Bunch here starts N-1 self.Process workers and the test runs the
// function too; the workers' counters (_DummyList) are atomics in mpx's
// shared arena. A worker's failed check is its exit code, which Python's
// Bunch does not look at and this one does.
//
// Python's "one party is late" sleeps 1 s so that the others' timeouts break
// the barrier first; here the late party waits until the others have given up.
// A Barrier Python makes without a timeout gets kShortTimeout, so that a
// failure fails instead of hanging.
//
// Nothing of _TestBarrier is left out (it has no repr test).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "mpx/connection.hpp"
#include "mpx/synchronize.hpp"
#include "support/bunch.hpp"
#include "support/sync_worker.hpp"

using namespace std::chrono_literals;
using mpx::test::eventually;
using mpx::test::Kind;
using mpx::test::kShortTimeout;
using mpx::test::require;
using mpx::test::Shared;
using mpx::test::Worker;
using Counter = Shared<std::atomic<int>>;  // Python: self.DummyList(), used as a counter

namespace {

constexpr int N = 5;  // _TestBarrier.N: the parties

/// TYPE 'processes'': self.Process forks. TYPE 'threads': it is a thread.
struct Processes {
  static constexpr Kind kProcess = Kind::Process;
};
struct Threads {
  static constexpr Kind kProcess = Kind::Thread;
};

struct TypeNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, Processes> ? "Processes" : "Threads";
  }
};

}  // namespace

template <class T>
class TestBarrier : public ::testing::Test {
 protected:
  static constexpr auto kDefaultTimeout = 30s;  // "Slow Windows buildbots need generous timeout"

  void TearDown() override { barrier.abort(); }

  /// CPython: _TestBarrier.run_threads — N-1 workers and this thread run f.
  void run_threads(const std::function<void()>& f) {
    std::vector<std::unique_ptr<Worker>> bunch;
    for (int i = 0; i < N - 1; ++i) bunch.push_back(std::make_unique<Worker>(T::kProcess, f));
    f();
    for (auto& w : bunch) EXPECT_EQ(w->join(), 0);
  }

  /// CPython: _TestBarrier.multipass
  static void multipass(mpx::Barrier& b, Counter (&results)[2], int n) {
    int m = static_cast<int>(b.parties());
    require(m == N, "parties == N");
    for (int i = 0; i < n; ++i) {
      ++*results[0];
      require(results[1]->load() == i * m, "len(results[1]) == i * m");
      b.wait();
      ++*results[1];
      require(results[0]->load() == (i + 1) * m, "len(results[0]) == (i + 1) * m");
      b.wait();
    }
    require(b.n_waiting() == 0, "n_waiting == 0");
    require(!b.broken(), "not broken");
  }

  void check_barrier(int passes) {
    Counter results[2];
    run_threads([&] { multipass(barrier, results, passes); });
  }

  mpx::Barrier barrier{N, {}, kDefaultTimeout};
};

using Types = ::testing::Types<Processes, Threads>;
TYPED_TEST_SUITE(TestBarrier, Types, TypeNames);

// CPython: _test_multiprocessing._TestBarrier.test_barrier
TYPED_TEST(TestBarrier, Barrier) {
  // Test that a barrier is passed in lockstep
  this->check_barrier(1);
}

// CPython: _test_multiprocessing._TestBarrier.test_barrier_10
TYPED_TEST(TestBarrier, Barrier10) {
  // Test that a barrier works for 10 consecutive runs
  this->check_barrier(10);
}

// CPython: _test_multiprocessing._TestBarrier.test_wait_return
TYPED_TEST(TestBarrier, WaitReturn) {
  // test the return value from barrier.wait: Python puts them on a Queue and
  // counts the zeros; here each index is counted.
  Shared<std::array<std::atomic<int>, N>> seen;
  this->run_threads([&] {
    auto res = this->barrier.wait();
    require(res < N, "index < parties");
    ++(*seen)[res];
  });
  EXPECT_EQ((*seen)[0].load(), 1);
  int total = 0;
  for (auto& s : *seen) total += s.load();
  EXPECT_EQ(total, N);
}

// CPython: _test_multiprocessing._TestBarrier.test_action
TYPED_TEST(TestBarrier, Action) {
  // Test the 'action' callback
  Counter results;
  auto append_true = [&] { ++*results; };  // AppendTrue(results)
  mpx::Barrier b(N, append_true, kShortTimeout);
  // _test_action_f
  this->run_threads([&] {
    b.wait();
    require(results->load() == 1, "len(results) == 1");
  });
  EXPECT_EQ(results->load(), 1);
}

// CPython: _test_multiprocessing._TestBarrier.test_abort
TYPED_TEST(TestBarrier, Abort) {
  // Test that an abort will put the barrier in a broken state
  Counter results1, results2;
  auto& b = this->barrier;
  this->run_threads([&] {  // _test_abort_f
    try {
      auto i = b.wait();
      if (i == N / 2) throw mpx::RuntimeError("");
      b.wait();
      ++*results1;
    } catch (const mpx::BrokenBarrierError&) {
      ++*results2;
    } catch (const mpx::RuntimeError&) {
      b.abort();
    }
  });
  EXPECT_EQ(results1->load(), 0);
  EXPECT_EQ(results2->load(), N - 1);
  EXPECT_TRUE(b.broken());
}

// CPython: _test_multiprocessing._TestBarrier.test_reset
TYPED_TEST(TestBarrier, Reset) {
  // Test that a 'reset' on a barrier frees the waiting threads
  Counter results1, results2, results3;
  auto& b = this->barrier;
  this->run_threads([&] {  // _test_reset_f
    auto i = b.wait();
    if (i == N / 2) {
      // Wait until the other threads are all in the b.
      require(eventually([&] { return b.n_waiting() >= N - 1; }), "n_waiting reaches N-1");
      b.reset();
    } else {
      try {
        b.wait();
        ++*results1;
      } catch (const mpx::BrokenBarrierError&) {
        ++*results2;
      }
    }
    // Now, pass the barrier again
    b.wait();
    ++*results3;
  });
  EXPECT_EQ(results1->load(), 0);
  EXPECT_EQ(results2->load(), N - 1);
  EXPECT_EQ(results3->load(), N);
}

// CPython: _test_multiprocessing._TestBarrier.test_abort_and_reset
TYPED_TEST(TestBarrier, AbortAndReset) {
  // Test that a barrier can be reset after being broken.
  Counter results1, results2, results3;
  auto& b = this->barrier;
  mpx::Barrier barrier2(N, {}, kShortTimeout);
  this->run_threads([&] {  // _test_abort_and_reset_f
    try {
      auto i = b.wait();
      if (i == N / 2) throw mpx::RuntimeError("");
      b.wait();
      ++*results1;
    } catch (const mpx::BrokenBarrierError&) {
      ++*results2;
    } catch (const mpx::RuntimeError&) {
      b.abort();
    }
    // Synchronize and reset the b.  Must synchronize first so that
    // everyone has left it when we reset, and after so that no one enters it
    // before the reset.
    if (barrier2.wait() == N / 2) b.reset();
    barrier2.wait();
    b.wait();
    ++*results3;
  });
  EXPECT_EQ(results1->load(), 0);
  EXPECT_EQ(results2->load(), N - 1);
  EXPECT_EQ(results3->load(), N);
}

// CPython: _test_multiprocessing._TestBarrier.test_timeout
TYPED_TEST(TestBarrier, Timeout) {
  // Test wait(timeout)
  Counter results, gave_up;
  auto& b = this->barrier;
  this->run_threads([&] {  // _test_timeout_f
    auto i = b.wait();
    bool late = i == N / 2;
    // One thread is late! (Python: sleep(1.0)) It comes once the others' timeouts broke the barrier.
    if (late) require(eventually([&] { return gave_up->load() == N - 1; }), "the others gave up");
    try {
      b.wait(500ms);
    } catch (const mpx::BrokenBarrierError&) {
      ++*results;
    }
    if (!late) ++*gave_up;
  });
  EXPECT_EQ(results->load(), static_cast<int>(b.parties()));
}

// CPython: _test_multiprocessing._TestBarrier.test_default_timeout
TYPED_TEST(TestBarrier, DefaultTimeout) {
  // Test the barrier's default timeout
  mpx::Barrier b(N, {}, 500ms);
  Counter results, gave_up;
  this->run_threads([&] {  // _test_default_timeout_f
    auto i = b.wait(TestFixture::kDefaultTimeout);
    bool late = i == N / 2;
    // One thread is later than the default timeout (Python: sleep(1.0)).
    if (late) require(eventually([&] { return gave_up->load() == N - 1; }), "the others gave up");
    try {
      b.wait();
    } catch (const mpx::BrokenBarrierError&) {
      ++*results;
    }
    if (!late) ++*gave_up;
  });
  EXPECT_EQ(results->load(), static_cast<int>(b.parties()));
}

// CPython: _test_multiprocessing._TestBarrier.test_single_thread
TYPED_TEST(TestBarrier, SingleThread) {
  mpx::Barrier b(1);
  b.wait();
  b.wait();
}

// CPython: _test_multiprocessing._TestBarrier.test_thousand
TYPED_TEST(TestBarrier, Thousand) {
  constexpr int passes = 1000;
  mpx::Lock lock;  // Python: self.Lock() — the TYPE's; the lock only orders the sends
  auto [conn, child_conn] = mpx::Pipe(false);
  std::vector<std::unique_ptr<Worker>> procs;
  for (int j = 0; j < N; ++j) {
    procs.push_back(std::make_unique<Worker>(TypeParam::kProcess, [&] {  // _test_thousand_f
      for (int i = 0; i < passes; ++i) {
        this->barrier.wait();
        std::scoped_lock hold(lock);
        child_conn.send(i);
      }
    }));
  }
  for (int i = 0; i < passes; ++i) {
    for (int j = 0; j < N; ++j) {
      ASSERT_TRUE(conn.poll(kShortTimeout));
      ASSERT_EQ(conn.recv<int>(), i);
    }
  }
  for (auto& p : procs) EXPECT_EQ(p->join(), 0);
}
