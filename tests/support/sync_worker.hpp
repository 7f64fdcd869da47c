// tests/support/sync_worker.hpp — what _test_multiprocessing's `self.Process`
// and `self.Value` are, for the typed conformance tests of the sync primitives.
//
//   mpx::test::Shared<std::atomic<int>> woken;        // Python: self.Value('i', 0)
//   mpx::test::Worker w(Kind::Process, [&] {         // Python: self.Process(target=f)
//     mpx::test::require(lock.acquire(1s), "acquire"); //   a failed check: exit code 1
//     ++*woken;
//   });
//   EXPECT_EQ(w.join(), 0);
//
// _test_multiprocessing runs its classes with TYPE 'processes' (a forked
// child) and 'threads' (multiprocessing.dummy: the "process" is a thread);
// Worker is either. A worker reports failure as a process does, by its exit
// code (gtest's EXPECT in a fork child would only fail the child's copy of
// the test): 0 if the function returned, 1 if it threw.
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "mpx/detail/arena.hpp"
#include "mpx/process.hpp"
#include "support/bunch.hpp"
#include "support/child.hpp"

namespace mpx::test {

/// Python's `assert` in a child: throws, so the worker exits with code 1.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("check failed: ") + what);
}

/// A T in mpx's shared arena: one object for the parent and its fork children
/// (Python's self.Value, or the _DummyList counter of the barrier tests).
template <class T>
class Shared {
 public:
  template <class... Args>
  explicit Shared(Args&&... args) : off_(arena().allocate(sizeof(T))) {
    new (get()) T(std::forward<Args>(args)...);
  }
  ~Shared() {
    get()->~T();
    arena().deallocate(off_, sizeof(T));
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  T* get() const noexcept { return arena().at<T>(off_); }
  T& operator*() const noexcept { return *get(); }
  T* operator->() const noexcept { return get(); }

 private:
  static mpx::detail::Arena& arena() { return mpx::detail::Arena::shared(); }
  std::uint64_t off_;
};

enum class Kind { Process, Thread };

/// Runs `f` in a forked child (Kind::Process) or a thread (Kind::Thread),
/// started at once. Every wait is bounded by kShortTimeout; a child left
/// running is killed, a thread that never ends aborts the binary (it cannot
/// be killed, and the test may not hang).
class Worker {
 public:
  Worker(Kind kind, std::function<void()> f) : kind_(kind) {
    if (kind == Kind::Process) {
      process_.emplace(std::move(f));
      process_->start();
      tid_ = process_->pid();
      return;
    }
    thread_ = std::thread([this, f = std::move(f)] {
      {
        std::scoped_lock hold(mu_);
        tid_ = static_cast<int>(::syscall(SYS_gettid));
        cv_.notify_all();
      }
      int code = 0;
      try {
        f();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "Worker thread raised: %s\n", e.what());
        code = 1;
      } catch (...) {
        code = 1;
      }
      std::scoped_lock hold(mu_);
      exitcode_ = code;
      cv_.notify_all();
    });
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ~Worker() {
    if (kind_ == Kind::Process) {
      if (process_->is_alive()) {
        process_->kill();
        process_->join();
      }
    } else if (thread_.joinable()) {
      wait_thread();
      thread_.join();
    }
  }

  /// Waits for the end (at most kShortTimeout). Returns the exit code: 0 if
  /// the function returned, 1 if it threw; -1000 if it did not end in time
  /// (a child is then killed).
  int join() {
    if (kind_ == Kind::Process) {
      if (!process_->join(kShortTimeout)) {
        ADD_FAILURE() << "worker process " << tid_ << " did not finish; killing it";
        process_->kill();
        process_->join();
        return -1000;
      }
      return process_->exitcode().value_or(-1000);
    }
    if (thread_.joinable()) {
      wait_thread();
      thread_.join();
    }
    return *exitcode_;
  }

  /// The worker's kernel id: the child's pid, or the thread's tid.
  int tid() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return tid_ != 0; });
    return tid_;
  }

  /// Waits until the worker sleeps in the kernel (blocked in a wait), or ends.
  bool wait_sleeping() {
    int id = tid();
    return eventually([&] {
      char s = kind_ == Kind::Process ? proc_state(id) : thread_state(id);
      return s == 'S' || s == 'Z' || s == 0;
    });
  }

 private:
  void wait_thread() {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, kShortTimeout, [&] { return exitcode_.has_value(); })) {
      std::fprintf(stderr, "Worker: a thread did not finish within %lld s; aborting (it cannot be killed)\n",
                   static_cast<long long>(kShortTimeout.count()));
      std::abort();
    }
  }

  Kind kind_;
  std::optional<mpx::Process> process_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  int tid_ = 0;
  std::optional<int> exitcode_;
};

}  // namespace mpx::test
