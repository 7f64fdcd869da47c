// tests/conformance/futures_process_conformance.hpp — what the ports of
// CPython's Lib/test/test_concurrent_futures/ for futures::ProcessPoolExecutor
// share (util.py's ExecutorMixin with ProcessPool{Fork,Spawn}Mixin): the calls
// that travel to the workers, the events the workers are given, and the
// fixture. One test file per CPython module includes it:
//   futures_process_executor_conformance_test.cpp   executor.py (ExecutorTest)
//   futures_process_pool_conformance_test.cpp       test_process_pool.py
//   futures_process_shutdown_conformance_test.cpp   test_shutdown.py (and
//                                                   test_thread_pool.py's case that needs process pools)
//   futures_process_wait_conformance_test.cpp       test_wait.py
//   futures_process_as_completed_conformance_test.cpp   test_as_completed.py
//   futures_process_init_conformance_test.cpp       test_init.py
//   futures_process_deadlock_conformance_test.cpp   test_deadlock.py
// The thread executor's ports are futures_conformance_test.cpp and
// futures_wait_conformance_test.cpp; the part of util.py the two executors
// share is support/futures_cpython.hpp.
//
// create_executor_tests() makes ProcessPool{Fork,Forkserver,Spawn}<Mixin>Test;
// here each case is a value-parameterized test over the start method:
// ProcessPool/<Mixin>.<method>/fork and .../spawn. ExecutorMixin's executor
// (worker_count = 5, the context's start method) is the fixture's.
//
// The calls must travel (functions with Encodable arguments), so CPython's
// `event = self.create_event()` (a manager Event) is an mpx::Event given to
// every worker as the initializer's argument (Python's initargs); a task names
// it by index. A task blocked on such an event is CPython's "still running"
// call; TearDown sets every event. Sleeps left are a task's work (time.sleep
// as the function under test) and the timeouts under test.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "mpx/context.hpp"
#include "mpx/futures.hpp"
#include "mpx/process.hpp"
#include "mpx/synchronize.hpp"
#include "support/futures_cpython.hpp"
#include "support/futures_helper.hpp"

using namespace std::chrono_literals;
namespace fut = mpx::futures;
using fut::Future;
using fut::State;
using mpx::test::eventually;
using mpx::test::kShortTimeout;
using namespace mpx::test::cpython;

namespace mpx::test::fpc {

// ---- the calls (they travel: plain functions) -------------------------------------

inline long pow_(long b, long e) {  // Python's pow on ints, modulo 2^64 (signed overflow is UB in C++)
  std::uint64_t r = 1;
  for (long i = 0; i < e; ++i) r *= static_cast<std::uint64_t>(b);
  return static_cast<long>(r);
}
inline int add(int a, int b) { return a + b; }
inline int abs_(int x) { return std::abs(x); }
inline std::string str(long x) { return std::to_string(x); }
inline int int_() { return 0; }  // Python's int()
inline int id_(int x) { return x; }
inline int my_pid() { return static_cast<int>(::getpid()); }
// time.sleep as the call (the task's work).
inline void sleep_(double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); }
inline int divmod_first(int a, int b) { return divmod(a, b).first; }
inline int timeout_on_one(int x) {
  if (x == 1) throw fut::TimeoutError("");
  return x;
}
inline void raise_runtime_123() { throw mpx::RuntimeError("123"); }  // _test_traceback: RuntimeError(123)
inline void exit_now(int code) { ::_exit(code); }                    // os._exit
// test_deadlock's _crash: a segfault (no core file: faulthandler.disable()'s part).
inline void crash() {
  ::prctl(PR_SET_DUMPABLE, 0);
  ::signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would make the death an exit(1)
  ::raise(SIGSEGV);
}
inline void crash_after(double delay) {
  sleep_(delay);
  crash();
}
inline void crash_with_data(std::string) { crash(); }
inline void sys_exit() { mpx::exit(1); }  // sys.exit(1)
inline void raise_error() { throw mpx::RuntimeError("RuntimeError"); }
inline void sleep_and_print(double t, std::string msg) {
  sleep_(t);
  std::printf("%s\n", msg.c_str());
  std::fflush(stdout);
}

// The events of CPython's create_event() and the semaphores of test_saturation /
// test_processes_terminate: made in the parent, given to each worker by the
// initializer (initargs), found by the tasks here.
inline std::array<std::optional<mpx::Event>, 3> g_events;
inline std::optional<mpx::Semaphore> g_sem;
inline void install(mpx::Event e0, mpx::Event e1, mpx::Event e2, mpx::Semaphore sem) {
  g_events[0] = e0;
  g_events[1] = e1;
  g_events[2] = e2;
  g_sem = sem;
}
inline int event_wait(int i) { return g_events[static_cast<std::size_t>(i)]->wait() ? 1 : 0; }  // event.wait
inline int wait_and_raise(int i) {
  g_events[static_cast<std::size_t>(i)]->wait();
  throw std::runtime_error("this is an exception");
}
inline void sem_acquire() { g_sem->acquire(); }
// map(time.sleep, [0, 0, 6]): the last call blocks on event 0 instead.
inline void sleep_or_block(int x) {
  if (x) g_events[0]->wait();
}
// _report_wait_return(queue, event, value): says it started (event 1), waits for event 2.
inline int report_wait_return(int value) {
  g_events[1]->set();
  g_events[2]->wait();
  return value;
}

inline const char* const kMethods[] = {"fork", "spawn"};
inline std::string method_name(const testing::TestParamInfo<const char*>& info) { return info.param; }

/// util.ExecutorMixin with ProcessPool{Fork,Spawn}Mixin: a ProcessPoolExecutor of
/// worker_count workers in the parameter's context, shut down after the test.
class ProcessPoolFixture : public testing::TestWithParam<const char*> {
 protected:
  static constexpr int worker_count = 5;

  void SetUp() override {
    if (make_executor()) executor = make({.max_workers = worker_count});
  }
  void TearDown() override {
    release_all();
    if (executor) executor->shutdown(true);
    executor.reset();
  }
  /// Whether SetUp makes `executor` (ExecutorDeadlockTest shuts it down first).
  virtual bool make_executor() const { return true; }

  mpx::Context ctx() const { return mpx::get_context(GetParam()); }
  bool is_fork() const { return std::string(GetParam()) == "fork"; }
  /// A ProcessPoolExecutor in this context whose workers know the events.
  std::unique_ptr<fut::ProcessPoolExecutor> make(fut::ProcessPoolOptions o) {
    o.mp_context = ctx();
    if (!o.initializer) o.initializer = mpx::Initializer(install, events[0], events[1], events[2], sem);
    return std::make_unique<fut::ProcessPoolExecutor>(std::move(o));
  }
  void release_all() {
    for (auto& e : events) e.set();
  }
  /// A call that runs until the test (or TearDown) sets event `i`.
  Future<int> still_running(int i = 0) { return executor->submit(event_wait, i); }

  std::array<mpx::Event, 3> events{};
  mpx::Semaphore sem{0};
  std::unique_ptr<fut::ProcessPoolExecutor> executor;
};

template <class T>
auto to_vector(fut::MapResult<T>&& r) {
  std::vector<typename fut::MapResult<T>::value_type> out;
  for (auto&& v : r) out.push_back(std::move(v));
  return out;
}

inline std::vector<long> pow_ref(int n) {
  std::vector<long> out;
  for (int i = 0; i < n; ++i) out.push_back(pow_(i, i));
  return out;
}

}  // namespace mpx::test::fpc

using namespace mpx::test::fpc;

#define MPX_PROCESS_POOL_SUITE(Name)         \
  class Name : public ProcessPoolFixture {}; \
  INSTANTIATE_TEST_SUITE_P(ProcessPool, Name, testing::ValuesIn(kMethods), method_name)
