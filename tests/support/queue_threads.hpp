// tests/support/queue_threads.hpp — helpers for the mpx::queue tests: a
// group of threads joined within a bound, an Event, "wait until that thread
// sleeps in the kernel" (how a test knows a get() or put() really blocks,
// where Python's tests sleep 0.1 s and hope), and test_queue.py's
// BlockingTestMixin built on it.
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace mpx::test {

/// The bound on every "wait until it happens" (Python's support.SHORT_TIMEOUT).
inline constexpr std::chrono::seconds kQueueTestTimeout{20};

inline int current_tid() { return static_cast<int>(::syscall(SYS_gettid)); }

/// The state letter of thread `tid` of this process ('R', 'S' ...), or 0 if gone.
inline char task_state(int tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return 0;
  return line[close + 2];
}

/// Waits (polling every 100 µs, at most kQueueTestTimeout) until thread `tid`
/// sleeps in the kernel: a queue call spins a few µs, then sleeps on a futex.
/// Returns false on timeout.
inline bool wait_sleeping(int tid) {
  auto deadline = std::chrono::steady_clock::now() + kQueueTestTimeout;
  while (task_state(tid) != 'S') {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

/// Python's threading.Event for the tests: set(), is_set(), wait() (which
/// aborts the binary after kQueueTestTimeout instead of hanging).
class Event {
 public:
  void set() {
    std::scoped_lock hold(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool is_set() {
    std::scoped_lock hold(mu_);
    return set_;
  }
  void wait() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, kQueueTestTimeout, [&] { return set_; })) {
      std::fprintf(stderr, "Event: never set within %lld s; aborting\n",
                   static_cast<long long>(kQueueTestTimeout.count()));
      std::abort();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

/// Threads started with add(), joined by join() (or the destructor) within
/// kQueueTestTimeout; a thread still running then makes the binary print
/// why and abort (a std::thread cannot be killed, and a test may not hang).
/// An exception escaping a thread fails the test.
class Threads {
 public:
  Threads() = default;
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;
  ~Threads() { join(); }

  /// Starts `f` in a new thread; returns its kernel thread id once it runs.
  int add(std::function<void()> f) {
    std::atomic<int> tid{0};
    {
      std::scoped_lock hold(mu_);
      ++running_;
    }
    threads_.emplace_back([this, f = std::move(f), &tid] {
      tid.store(current_tid());
      try {
        f();
      } catch (const std::exception& e) {
        record(std::string("a thread raised: ") + e.what());
      } catch (...) {
        record("a thread raised a non-std exception");
      }
      std::scoped_lock hold(mu_);
      --running_;
      cv_.notify_all();
    });
    while (tid.load() == 0) std::this_thread::yield();
    return tid.load();
  }

  void join() {
    {
      std::unique_lock lk(mu_);
      if (!cv_.wait_for(lk, kQueueTestTimeout, [&] { return running_ == 0; })) {
        std::fprintf(stderr, "Threads: %d thread(s) still running after %lld s; aborting\n", running_,
                     static_cast<long long>(kQueueTestTimeout.count()));
        std::abort();
      }
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
    std::scoped_lock hold(mu_);
    for (const auto& e : errors_) ADD_FAILURE() << e;
    errors_.clear();
  }

 private:
  void record(std::string what) {
    std::scoped_lock hold(mu_);
    errors_.push_back(std::move(what));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

// ---- CPython test_queue.py helpers -------------------------------------------------

/// Python: test_queue.qfull.
template <class Q>
bool qfull(const Q& q) {
  return q.maxsize() > 0 && q.qsize() == static_cast<std::size_t>(q.maxsize());
}

/// A list several threads append to (Python's list.append is atomic).
template <class T>
class List {
 public:
  void append(T v) {
    std::scoped_lock hold(mu_);
    items_.push_back(std::move(v));
  }
  std::vector<T> get() {
    std::scoped_lock hold(mu_);
    return items_;
  }
  std::size_t count(const T& v) {
    std::scoped_lock hold(mu_);
    return static_cast<std::size_t>(std::count(items_.begin(), items_.end(), v));
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;
};

// Python: test_queue.BlockingTestMixin.do_blocking_test. `trigger` runs in another
// thread once this thread sleeps inside `block`; `block` must not return
// before that.
template <class Block, class Trigger>
auto do_blocking_test(Block block, Trigger trigger) {
  std::atomic<bool> started{false};
  const int me = current_tid();
  Threads thread;
  thread.add([&] {
    if (!wait_sleeping(me)) ADD_FAILURE() << "the blocking function never slept";
    started = true;
    trigger();
  });
  if constexpr (std::is_void_v<decltype(block())>) {
    block();
    EXPECT_TRUE(started.load()) << "blocking function appeared not to block";
  } else {
    auto result = block();
    EXPECT_TRUE(started.load()) << "blocking function appeared not to block";
    return result;
  }
}

// Python: test_queue.BlockingTestMixin.do_exceptional_blocking_test.
template <class Exception, class Block, class Trigger>
void do_exceptional_blocking_test(Block block, Trigger trigger) {
  std::atomic<bool> started{false};
  const int me = current_tid();
  Threads thread;
  thread.add([&] {
    if (!wait_sleeping(me)) ADD_FAILURE() << "the blocking function never slept";
    started = true;
    trigger();
  });
  EXPECT_THROW(block(), Exception);
  thread.join();
  EXPECT_TRUE(started.load()) << "trigger thread ended but event never set";
}

}  // namespace mpx::test
