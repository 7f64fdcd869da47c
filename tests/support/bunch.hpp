// tests/support/bunch.hpp — CPython's lock_tests.Bunch: N threads running one
// function, for the thread-side conformance tests of the sync primitives.
//
//   {
//     mpx::test::Bunch bunch(f, 5);   // returns once all 5 have started
//     bunch.wait_blocked();           // all 5 sleep in the kernel (in f's acquire)
//     lock.release();
//   }                                 // returns once all 5 have finished
//
// Python sleeps (wait_threads_blocked) and hopes the threads got as far as
// the blocking call. Here wait_blocked() looks at each thread's state in
// /proc until it sleeps in the kernel: the kernel gives no event for "has
// gone to sleep", so this polls, bounded like every other wait here.
//
// Python's Bunch waits SHORT_TIMEOUT for its threads. A std::thread cannot be
// killed, and a test may not hang: a thread that has not finished within
// kShortTimeout makes the binary print why and abort.
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

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
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define MPX_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPX_TEST_TSAN 1
#endif
#endif
#ifndef MPX_TEST_TSAN
#define MPX_TEST_TSAN 0
#endif

namespace mpx::test {

/// Built with -fsanitize=thread: tests that run into a known data race of
/// mpx's skip themselves (naming the bug) so that the rest stays TSan-clean.
inline constexpr bool kUnderTsan = MPX_TEST_TSAN != 0;

/// Python's support.SHORT_TIMEOUT: the bound on every "wait until it happens".
inline constexpr std::chrono::seconds kShortTimeout{20};

/// The state letter of thread `tid` of this process ('R', 'S' ...), or 0 if gone.
inline char thread_state(int tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return 0;
  return line[close + 2];
}

/// Polls `done` (every millisecond) until it is true, for at most kShortTimeout.
template <class Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + kShortTimeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// Python: BaseTestCase.assertTimeout. Python allows 0.6 x the timeout for
/// imprecise clocks; mpx waits on an absolute CLOCK_MONOTONIC deadline, so the
/// whole timeout must have passed. The upper bound is Python's "nothing insane".
inline void expect_timeout(std::chrono::duration<double> actual, std::chrono::duration<double> expected) {
  EXPECT_GE(actual.count(), expected.count());
  EXPECT_LT(actual.count(), expected.count() * 10.0);
}

/// A list several threads append to (Python's list.append is atomic).
template <class T>
class SharedList {
 public:
  void append(T v) {
    std::scoped_lock hold(mu_);
    items_.push_back(std::move(v));
  }
  std::size_t size() {
    std::scoped_lock hold(mu_);
    return items_.size();
  }
  std::vector<T> get() {
    std::scoped_lock hold(mu_);
    return items_;
  }
  void clear() {
    std::scoped_lock hold(mu_);
    items_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;
};

/// Python: lock_tests.Bunch (see the top of this file).
class Bunch {
 public:
  /// Starts `n` threads running `f`; returns once all have started. With
  /// `wait_before_exit`, a thread that has run `f` stays until do_finish().
  Bunch(std::function<void()> f, int n, bool wait_before_exit = false)
      : f_(std::move(f)), n_(n), can_exit_(!wait_before_exit) {
    threads_.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { task(); });
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, kShortTimeout, [&] { return started_ == n_; })) die("did not all start");
  }
  Bunch(const Bunch&) = delete;
  Bunch& operator=(const Bunch&) = delete;

  /// Python's __exit__: waits for every thread to finish and joins them.
  ~Bunch() {
    do_finish();
    wait_for_finished();
    for (auto& t : threads_) t.join();
    for (const auto& e : errors_) ADD_FAILURE() << "a Bunch thread raised: " << e;
  }

  void wait_for_finished() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, kShortTimeout, [&] { return finished_ == n_; })) die("did not all finish");
  }

  void do_finish() {
    std::scoped_lock lk(mu_);
    can_exit_ = true;
    cv_.notify_all();
  }

  int finished() {
    std::scoped_lock lk(mu_);
    return finished_;
  }

  /// Waits until every thread still inside `f` sleeps in the kernel.
  void wait_blocked() {
    std::vector<int> tids;
    {
      std::scoped_lock lk(mu_);
      tids = tids_;
    }
    for (int tid : tids) {
      if (!eventually([&] { return is_done(tid) || thread_state(tid) == 'S'; })) die("a thread never blocked");
    }
  }

 private:
  void task() {
    int tid = static_cast<int>(::syscall(SYS_gettid));
    {
      std::scoped_lock lk(mu_);
      tids_.push_back(tid);
      ++started_;
      cv_.notify_all();
    }
    try {
      f_();
    } catch (const std::exception& e) {
      record_error(e.what());
    } catch (...) {
      record_error("a non-std exception");
    }
    std::unique_lock lk(mu_);
    done_tids_.push_back(tid);
    ++finished_;
    cv_.notify_all();
    if (!cv_.wait_for(lk, kShortTimeout, [&] { return can_exit_; })) die("was never allowed to exit");
  }

  bool is_done(int tid) {
    std::scoped_lock lk(mu_);
    for (int t : done_tids_) {
      if (t == tid) return true;
    }
    return false;
  }

  void record_error(const char* what) {
    std::scoped_lock lk(mu_);
    errors_.emplace_back(what);
  }

  [[noreturn]] static void die(const char* what) {
    std::fprintf(stderr, "Bunch: threads %s within %lld s; aborting (a thread cannot be killed)\n", what,
                 static_cast<long long>(kShortTimeout.count()));
    std::abort();
  }

  std::function<void()> f_;
  int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int finished_ = 0;
  bool can_exit_;
  std::vector<int> tids_;
  std::vector<int> done_tids_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

}  // namespace mpx::test
