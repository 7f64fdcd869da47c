// tests/support/futures_cpython.hpp — what the ports of CPython's
// test_concurrent_futures share (util.py's part for the thread pool):
// create_future(), the module-level futures, the executor fixture, and the
// exception types the tests raise.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <stdexcept>
#include <unordered_set>
#include <utility>
#include <vector>

#include "mpx/futures.hpp"
#include "support/futures_helper.hpp"

namespace mpx::test::cpython {

using futures::Future;
using futures::State;
using FutureSet = std::unordered_set<Future<int>>;

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
// GCC 12's ASan allocator takes no lock around fork(): a child forked while
// another thread of the parent is inside malloc waits for ever on that lock
// (__sanitizer::SizeClassAllocator64's region mutex, seen with gdb in
// ThreadPoolExecutorTest.test_hang_global_shutdown_lock's hung child).
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAsan = true;
#else
inline constexpr bool kUnderAsan = false;
#endif

struct ZeroDivisionError : std::runtime_error {
  ZeroDivisionError() : std::runtime_error("integer division or modulo by zero") {}
};
struct OSError : std::runtime_error {
  OSError() : std::runtime_error("") {}
};

inline int mul(int x, int y) { return x * y; }
inline std::pair<int, int> divmod(int a, int b) {
  if (b == 0) throw ZeroDivisionError();
  return {a / b, a % b};
}

// util.create_future(state, exception, result), through the public API.
inline Future<int> create_future(State state, std::exception_ptr exception = nullptr, int result = 0) {
  Future<int> f;
  switch (state) {
    case State::PENDING:
      break;
    case State::RUNNING:
      f.set_running_or_notify_cancel();
      break;
    case State::CANCELLED:
      f.cancel();
      break;
    case State::CANCELLED_AND_NOTIFIED:
      f.cancel();
      f.set_running_or_notify_cancel();
      break;
    case State::FINISHED:
      if (exception) {
        f.set_exception(exception);
      } else {
        f.set_result(result);
      }
      break;
  }
  return f;
}

// util.py's module-level futures (fresh ones per test here).
struct Canned {
  Future<int> PENDING_FUTURE = create_future(State::PENDING);
  Future<int> RUNNING_FUTURE = create_future(State::RUNNING);
  Future<int> CANCELLED_FUTURE = create_future(State::CANCELLED);
  Future<int> CANCELLED_AND_NOTIFIED_FUTURE = create_future(State::CANCELLED_AND_NOTIFIED);
  Future<int> EXCEPTION_FUTURE = create_future(State::FINISHED, std::make_exception_ptr(OSError()));
  Future<int> SUCCESSFUL_FUTURE = create_future(State::FINISHED, nullptr, 42);
};

template <class T>
bool has_sleeper(const Future<T>& f) {
  return (f.core()->word() & mpx::detail::FutureCore::kSleepers) != 0;
}
template <class T>
bool has_waiter(const Future<T>& f) {
  return (f.core()->word() & mpx::detail::FutureCore::kLists) != 0;
}

/// util.ExecutorMixin with ThreadPoolMixin: a ThreadPoolExecutor of
/// worker_count workers, shut down (wait=True) after the test.
class ThreadPoolExecutorTest : public ::testing::Test {
 protected:
  static constexpr int worker_count = 5;
  void TearDown() override {
    release_all();
    if (executor) executor->shutdown(true);
    executor.reset();
  }
  /// Lets every Gate made by gate() go.
  void release_all() {
    for (auto& g : gates_) g->release.set();
  }
  Gate& gate() { return *gates_.emplace_back(std::make_unique<Gate>()); }
  /// A call that runs until the test releases it (CPython: time.sleep(1.5)).
  Future<int> still_running() {
    Gate& g = gate();
    return executor->submit([&g] {
      g();
      return 0;
    });
  }

  std::unique_ptr<futures::ThreadPoolExecutor> executor = std::make_unique<futures::ThreadPoolExecutor>(worker_count);

 private:
  std::vector<std::unique_ptr<Gate>> gates_;
};

}  // namespace mpx::test::cpython
