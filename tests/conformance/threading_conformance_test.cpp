// Ports of CPython's Lib/test/test_threading.py (ThreadTests,
// ThreadJoinOnShutdown, ThreadingExceptionTests, ExceptHookTests, TimerTests,
// MiscTestCase) and Lib/test/test_threading_local.py for mpx::threading's
// Thread, Timer, local and excepthook (python/cpython main, 2025). Each TEST
// names its source. The lock, condition, semaphore, event and barrier classes
// of those files (LockTests, RLockTests, ... test_BoundedSemaphore_limit) are
// ported with the synchronization primitives, not here.
//
// Python runs the exit-time cases as `python -c script`; here each script is
// a scenario of tests/support/threading_exit_helper, a program that ends by
// returning from main (or std::exit), run in a child process. Python
// synchronises some cases with time.sleep(); here threads wait on futex flags
// (support/threading_helper.hpp), and every wait is bounded.
//
// Not ported, and why:
//   test_lazy_import, test_args_argument (list vs tuple), test_lock_*,
//   test_old_threading_api, test_boolean_target, test__all__
//                                        Python-language points: imports, list/tuple args,
//                                        deprecated camelCase aliases, truthiness of a target.
//   test_various_ops_small_stack / _large_stack
//                                        threading.stack_size(): std::thread takes no stack size.
//   test_PyThreadState_SetAsyncExc, test_finalize_running_thread, test_frame_tstate_tracing,
//   test_gettrace*, test_getprofile*, test_recursion_limit, test_print_exception_gh_102056
//                                        CPython internals (ctypes, tracing, profiling, recursion).
//   test_finalize_with_trace, test_join_daemon_thread_in_finalization,
//   test_join_finished_daemon_thread_in_finalization, test_acquire_daemon_thread_lock_in_finalization,
//   test_finalize_daemon_thread_hang, test_stop_the_world_during_finalization,
//   test_dummy_thread_on_interpreter_shutdown
//                                        about Python freezing daemon threads during interpreter
//                                        finalization; C++ has no finalization: daemon threads keep
//                                        running while exit() runs (daemon_threads below covers exit).
//   test_start_new_thread_failed         RLIMIT_NPROC does not bind root; the same limbo cleanup is
//                                        ported with RLIMIT_AS (LimboCleanup).
//   test_leak_without_join               a reference-leak run of the interpreter; the C++ point (a
//                                        finished, unjoined thread is joined later, never destroyed
//                                        joinable) is threading_test's UnjoinedFinishedThreadIsReaped.
//   SubinterpThreadingTests, test_daemon_threads_fatal_error, test_threads_not_allowed
//                                        subinterpreters.
//   test_print_exception_stderr_is_none_*, test_bare_raise_in_brand_new_thread,
//   test_multithread_modify_file_noerror sys.stderr = None, a bare `raise` (C++: std::terminate),
//                                        traceback formatting.
//   test_keyboard_interrupt_during_threading_shutdown, InterruptMainTests
//                                        KeyboardInterrupt and _thread.interrupt_main.
//   AtexitTests                          threading._register_atexit is private.
//   test_excepthook (traceback lines)    C++ has no traceback: the report is the thread's name, the
//                                        exception's type and its message, which are checked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <semaphore>
#include <set>
#include <thread>
#include <vector>

#include "mpx/threading.hpp"
#include "support/child.hpp"
#include "support/threading_helper.hpp"

using namespace std::chrono_literals;
namespace th = mpx::threading;
using mpx::test::contains;
using mpx::test::Flag;
using mpx::test::require;

namespace {

// CPython's TestThread: no more than 3 of the tasks run at once.
// (threading.BoundedSemaphore and RLock are the primitives change's; the
// standard ones stand in here.)
struct TestThread : th::Thread {
  std::counting_semaphore<3>& sema;
  std::recursive_mutex& mutex;
  int& nrunning;
  TestThread(std::string name, std::counting_semaphore<3>& s, std::recursive_mutex& m, int& n)
      : th::Thread({.name = std::move(name)}), sema(s), mutex(m), nrunning(n) {}
  void run() override {
    sema.acquire();
    {
      std::scoped_lock lock(mutex);
      ++nrunning;
      EXPECT_LE(nrunning, 3);
    }
    std::this_thread::yield();
    {
      std::scoped_lock lock(mutex);
      --nrunning;
      EXPECT_GE(nrunning, 0);
    }
    sema.release();
  }
};

struct ThreadRunFail : th::Thread {
  using th::Thread::Thread;
  void run() override { throw mpx::ValueError("run failed"); }
};

std::string run_failing_thread() {
  return mpx::test::capture_stderr([] {
    ThreadRunFail t({.name = "excepthook thread"});
    t.start();
    t.join();
  });
}

}  // namespace

// CPython: ThreadTests.test_name
TEST(ThreadTests, Name) {
  EXPECT_EQ(th::Thread({.name = "myname1"}).name(), "myname1");
  EXPECT_EQ(th::Thread({.name = "myname2"}, [] {}).name(), "myname2");
  th::Thread a({.name = ""}), b, c([] {});
  int n = std::stoi(a.name().substr(7));
  EXPECT_EQ(a.name(), "Thread-" + std::to_string(n));
  EXPECT_EQ(b.name(), "Thread-" + std::to_string(n + 1));
  EXPECT_EQ(c.name(), "Thread-" + std::to_string(n + 2));  // Python adds " (func)": C++ has no function names
}

// CPython: ThreadTests.test_args_argument (the values; C++ has no list/tuple choice)
TEST(ThreadTests, ArgsArgument) {
  int got_int = 0;
  std::string got_str;
  std::vector<int> got_list;
  th::Thread t1([&](int v) { got_int = v; }, 1);
  th::Thread t2([&](const std::string& v) { got_str = v; }, std::string("str"));
  th::Thread t3([&](const std::vector<int>& v) { got_list = v; }, std::vector<int>{1});
  for (auto* t : {&t1, &t2, &t3}) t->start();
  for (auto* t : {&t1, &t2, &t3}) t->join();
  EXPECT_EQ(got_int, 1);
  EXPECT_EQ(got_str, "str");
  EXPECT_EQ(got_list, std::vector<int>{1});
}

// CPython: ThreadTests.test_various_ops
TEST(ThreadTests, VariousOps) {
  std::counting_semaphore<3> sema(3);
  std::recursive_mutex mutex;
  int nrunning = 0;
  std::vector<std::unique_ptr<TestThread>> threads;
  for (int i = 0; i < 10; ++i) {
    threads.push_back(std::make_unique<TestThread>("<thread " + std::to_string(i) + ">", sema, mutex, nrunning));
    auto& t = *threads.back();
    EXPECT_EQ(t.ident(), 0u);  // Python: None
    EXPECT_EQ(t.repr(), "<TestThread(<thread " + std::to_string(i) + ">, initial)>");
    t.start();
  }
  std::set<int> native_ids{th::get_native_id()};
  for (auto& t : threads) native_ids.insert(t->native_id());
  EXPECT_EQ(native_ids.count(0), 0u);
  EXPECT_EQ(native_ids.size(), 11u);
  for (auto& t : threads) {
    t->join();
    EXPECT_FALSE(t->is_alive());
    EXPECT_NE(t->ident(), 0u);
    EXPECT_EQ(t->repr().find("stopped "), t->repr().find(", ") + 2) << t->repr();
  }
  EXPECT_EQ(nrunning, 0);
}

// CPython: ThreadTests.test_ident_of_no_threading_threads
TEST(ThreadTests, IdentOfNoThreadingThreads) {
  EXPECT_NE(th::current_thread().ident(), 0u);
  std::uint64_t ident = 0, tid = 0;
  std::thread([&] {
    ident = th::current_thread().ident();
    tid = th::get_ident();
  }).join();
  EXPECT_NE(ident, 0u);
  EXPECT_EQ(ident, tid);
}

// CPython: ThreadTests.test_foreign_thread
TEST(ThreadTests, ForeignThread) {
  std::optional<th::Thread> dummy;
  bool listed = false, alive = false;
  std::thread([&] {
    dummy = th::current_thread();
    listed = contains(th::enumerate(), *dummy);
    alive = dummy->is_alive();
  }).join();
  EXPECT_TRUE(listed);
  EXPECT_TRUE(alive);
  EXPECT_EQ(dummy->repr().rfind("<Thread(Dummy-", 0), 0u) << dummy->repr();
  EXPECT_THROW(dummy->join(), mpx::RuntimeError);
  EXPECT_THROW((void)dummy->is_alive(), mpx::RuntimeError);
  EXPECT_FALSE(contains(th::enumerate(), *dummy));  // removed once its thread died (no busy wait needed)
}

// CPython: ThreadTests.test_limbo_cleanup — a failed start() leaves nothing
// behind (RLIMIT_AS makes the OS refuse the thread's stack).
TEST(ThreadTests, LimboCleanup) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "RLIMIT_AS and sanitizer shadow memory do not mix";
#endif
  auto r = mpx::test::run_exit_helper("limbo_cleanup");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
}

// CPython: ThreadTests.test_join_nondaemon_on_shutdown (SystemExit in main = mpx::exit/std::exit)
TEST(ThreadTests, JoinNondaemonOnShutdown) {
  auto r = mpx::test::run_exit_helper("join_on_exit_call");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "end of main\nend of thread\n");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadTests.test_enumerate_after_join
TEST(ThreadTests, EnumerateAfterJoin) {
  for (int i = 1; i < 100; ++i) {
    th::Thread t([] {});
    t.start();
    t.join();
    ASSERT_FALSE(contains(th::enumerate(), t)) << "triggered after " << i << " trials";
  }
}

// CPython: ThreadTests.test_join_from_multiple_threads
TEST(ThreadTests, JoinFromMultipleThreads) {
  std::atomic<int> errors{0};
  for (int n = 2; n < 20; ++n) {
    Flag go;
    std::vector<th::Thread> threads{th::Thread([&] { go.wait(); })};
    for (int i = 0; i < n; ++i) {
      threads.emplace_back(
          [&errors](th::Thread worker) {
            try {
              worker.join();
            } catch (const std::exception&) {
              ++errors;
            }
          },
          threads[0]);
    }
    for (auto& t : threads) t.start();
    go.set();
    for (auto& t : threads) t.join();
    ASSERT_EQ(errors.load(), 0);
  }
}

// CPython: ThreadTests.test_join_with_timeout
TEST(ThreadTests, JoinWithTimeout) {
  Flag lock;
  th::Thread t([&] { lock.wait(); });
  t.start();
  t.join(10ms);
  EXPECT_TRUE(t.is_alive());
  lock.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

// CPython: ThreadTests.test_no_refcycle_through_target (raising and not raising)
TEST(ThreadTests, NoRefcycleThroughTarget) {
  for (bool should_raise : {false, true}) {
    auto obj = std::make_shared<int>(0);
    std::weak_ptr<int> weak = obj;
    th::Thread t(
        [should_raise](std::shared_ptr<int> other) {
          (void)other;
          if (should_raise) mpx::exit(0);  // Python raises SystemExit
        },
        obj);
    obj.reset();
    t.start();
    t.join();
    EXPECT_TRUE(weak.expired()) << "should_raise " << should_raise;
  }
}

// CPython: ThreadTests.test_repr_daemon and test_daemon_param
TEST(ThreadTests, ReprDaemonAndDaemonParam) {
  th::Thread t;
  EXPECT_EQ(t.repr().find("daemon"), std::string::npos);
  t.set_daemon(true);
  EXPECT_NE(t.repr().find("daemon"), std::string::npos);
  EXPECT_FALSE(th::Thread().daemon());
  EXPECT_FALSE(th::Thread({.daemon = false}).daemon());
  EXPECT_TRUE(th::Thread({.daemon = true}).daemon());
}

// CPython: ThreadTests.test_dummy_thread_after_fork
TEST(ThreadTests, DummyThreadAfterFork) {
  Flag registered, done;
  std::thread background([&] {
    (void)th::current_thread();
    registered.set();
    done.wait();
  });
  ASSERT_TRUE(registered.wait());
  EXPECT_EQ(th::active_count(), 2u);
  EXPECT_EQ(mpx::test::run_in_child([] { require(th::active_count() == 1, "active_count() == 1"); }), 0);
  done.set();
  background.join();
}

// CPython: ThreadTests.test_is_alive_after_fork
TEST(ThreadTests, IsAliveAfterFork) {
  for (int i = 0; i < 20; ++i) {
    th::Thread t([] {});
    t.start();
    int code = mpx::test::run_in_child([&] { mpx::exit(t.is_alive() ? 11 : 10); });
    t.join();
    ASSERT_EQ(code, 10);
  }
}

// CPython: ThreadTests.test_main_thread
TEST(ThreadTests, MainThread) {
  auto main = th::main_thread();
  EXPECT_EQ(main.name(), "MainThread");
  EXPECT_EQ(main.ident(), th::current_thread().ident());
  EXPECT_EQ(main.ident(), th::get_ident());
  th::Thread t([] { EXPECT_NE(th::main_thread().ident(), th::current_thread().ident()); });
  t.start();
  t.join();
}

// CPython: ThreadTests.test_main_thread_after_fork
TEST(ThreadTests, MainThreadAfterFork) {
  auto ident = th::get_ident();
  EXPECT_EQ(mpx::test::run_in_child([ident] {
              require(th::get_ident() == ident, "current ident");
              auto main = th::main_thread();
              require(main.name() == "MainThread", "main MainThread");
              require(main.ident() == ident, "main ident");
              require(th::current_thread() == main, "current is main");
            }),
            0);
}

// CPython: ThreadTests.test_main_thread_after_fork_from_nonmain_thread
TEST(ThreadTests, MainThreadAfterForkFromNonmainThread) {
  int code = -1;
  th::Thread t([&] {
    auto ident = th::get_ident();
    auto name = th::current_thread().name();
    code = mpx::test::run_in_child([&] {
      require(th::get_ident() == ident, "current ident");
      auto main = th::main_thread();
      require(main.name() == name, "main is the Thread-N that forked");
      require(main.ident() == ident, "main ident");
      require(th::current_thread() == main, "current is main");
    });
  });
  t.start();
  t.join();
  EXPECT_EQ(code, 0);
}

// CPython: ThreadTests.test_main_thread_after_fork_from_foreign_thread and
// test_main_thread_after_fork_from_dummy_thread
TEST(ThreadTests, MainThreadAfterForkFromForeignThread) {
  for (bool create_dummy : {false, true}) {
    int code = -1;
    std::thread([&] {
      auto ident = th::get_ident();
      if (create_dummy) {
        auto current = th::current_thread();
        EXPECT_EQ(current.name().rfind("Dummy-", 0), 0u);
      }
      code = mpx::test::run_in_child([ident] {
        require(th::get_ident() == ident, "current ident");
        auto main = th::main_thread();
        require(main.name() == "MainThread", "main MainThread");
        require(main.ident() == ident, "main ident");
        require(th::current_thread() == main, "current is main");
      });
    }).join();
    EXPECT_EQ(code, 0) << "create_dummy " << create_dummy;
  }
}

// CPython: ThreadTests.test_main_thread_during_shutdown
TEST(ThreadTests, MainThreadDuringShutdown) {
  auto r = mpx::test::run_exit_helper("main_thread_during_shutdown");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "GC: True True True\n");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadTests.test_finalization_shutdown — exit waits for a
// thread's locals to be destroyed too.
TEST(ThreadTests, FinalizationShutdown) {
  auto r = mpx::test::run_exit_helper("local_destroyed_before_exit");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "x\n");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadTests.test_repr_stopped ("stopped" shows up all on its own)
TEST(ThreadTests, ReprStopped) {
  Flag started, finish;
  th::Thread t([&] {
    started.set();
    finish.wait();
  });
  t.start();
  ASSERT_TRUE(started.wait());
  EXPECT_NE(t.repr().find("started"), std::string::npos);
  finish.set();
  t.join(20s);
  EXPECT_NE(t.repr().find("stopped"), std::string::npos);
}

// CPython: ThreadTests.test_locals_at_exit
TEST(ThreadTests, LocalsAtExit) {
  auto r = mpx::test::run_exit_helper("locals_at_exit");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "thread_dict.atexit = 'value'\n");
}

// CPython: ThreadTests.test_import_from_another_thread
TEST(ThreadTests, FirstUseFromAnotherThread) {
  auto r = mpx::test::run_exit_helper("first_use_from_foreign_thread");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadTests.test_start_new_thread_at_finalization
TEST(ThreadTests, StartNewThreadAtFinalization) {
  auto r = mpx::test::run_exit_helper("start_at_finalization");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_NE(r.err.find("can't create new thread at interpreter shutdown"), std::string::npos) << r.err;
}

// CPython: ThreadTests.test_native_id_after_fork
TEST(ThreadTests, NativeIdAfterFork) {
  int parent = th::current_thread().native_id();
  EXPECT_EQ(parent, th::get_native_id());
  EXPECT_EQ(mpx::test::run_in_child([parent] {
              require(th::current_thread().native_id() == th::get_native_id(), "child native_id");
              require(th::get_native_id() != parent, "a new id");
            }),
            0);
  EXPECT_EQ(th::current_thread().native_id(), parent);
}

// CPython: ThreadJoinOnShutdown.test_1_join_on_shutdown
TEST(ThreadJoinOnShutdown, JoinOnShutdown) {
  auto r = mpx::test::run_exit_helper("join_on_shutdown");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "end of main\nend of thread\n");
}

// CPython: ThreadJoinOnShutdown.test_2_join_in_forked_process
TEST(ThreadJoinOnShutdown, JoinInForkedProcess) {
  auto r = mpx::test::run_exit_helper("join_in_forked_process");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "end of main\nend of thread\n");
}

// CPython: ThreadJoinOnShutdown.test_3_join_in_forked_from_thread
TEST(ThreadJoinOnShutdown, JoinInForkedFromThread) {
  if (mpx::test::kUnderTsan)
    GTEST_SKIP() << "starts a thread in a fork child of a threaded process (CPython skips it too)";
  auto r = mpx::test::run_exit_helper("join_in_forked_from_thread");
  EXPECT_EQ(r.exitcode, 0) << r.err;
  EXPECT_EQ(r.out, "end of main\nend of thread\n");
}

// CPython: ThreadJoinOnShutdown.test_4_daemon_threads
TEST(ThreadJoinOnShutdown, DaemonThreads) {
  auto r = mpx::test::run_exit_helper("daemon_threads");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "Exiting...\n");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadJoinOnShutdown.test_thread_from_thread
TEST(ThreadJoinOnShutdown, ThreadFromThread) {
  auto r = mpx::test::run_exit_helper("thread_from_thread");
  EXPECT_EQ(r.exitcode, 0);
  EXPECT_EQ(r.out, "OK\n");
  EXPECT_EQ(r.err, "");
}

// CPython: ThreadJoinOnShutdown.test_reinit_tls_after_fork
TEST(ThreadJoinOnShutdown, ReinitTlsAfterFork) {
  std::vector<th::Thread> threads;
  std::atomic<int> bad{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&bad] {
      if (mpx::test::run_in_child([] { mpx::exit(50); }) != 50) ++bad;
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// CPython: ThreadJoinOnShutdown.test_clear_threads_states_after_fork
TEST(ThreadJoinOnShutdown, ClearThreadsStatesAfterFork) {
  Flag go;
  std::vector<th::Thread> threads;
  for (int i = 0; i < 16; ++i) threads.emplace_back([&go] { go.wait(); });
  for (auto& t : threads) t.start();
  int code = mpx::test::run_in_child([] { mpx::exit(th::enumerate().size() == 1 ? 51 : 52); });
  go.set();
  for (auto& t : threads) t.join();
  EXPECT_EQ(code, 51);
}

// CPython: ThreadingExceptionTests.test_start_thread_again, test_joining_current_thread,
// test_joining_inactive_thread, test_daemonize_active_thread
TEST(ThreadingExceptionTests, Misuse) {
  th::Thread thread;
  EXPECT_THROW(thread.join(), mpx::RuntimeError);
  thread.start();
  EXPECT_THROW(thread.start(), mpx::RuntimeError);
  EXPECT_THROW(thread.set_daemon(true), mpx::RuntimeError);
  thread.join();
  EXPECT_THROW(th::current_thread().join(), mpx::RuntimeError);
}

// CPython: ThreadingExceptionTests.test_print_exception
TEST(ThreadingExceptionTests, PrintException) {
  std::string err = mpx::test::capture_stderr([] {
    th::Thread t([] { throw std::domain_error("division by zero"); });
    t.start();
    t.join();
  });
  EXPECT_NE(err.find("Exception in thread"), std::string::npos);
  EXPECT_NE(err.find("std::domain_error: division by zero"), std::string::npos);
}

// CPython: ExceptHookTests.test_excepthook
TEST(ExceptHookTests, Excepthook) {
  std::string err = run_failing_thread();
  EXPECT_NE(err.find("Exception in thread excepthook thread:\n"), std::string::npos) << err;
  EXPECT_NE(err.find("mpx::ValueError: run failed"), std::string::npos) << err;
}

// CPython: ExceptHookTests.test_excepthook_thread_None
TEST(ExceptHookTests, ExcepthookThreadNone) {
  std::string err = mpx::test::capture_stderr([] {
    try {
      throw mpx::ValueError("bug");
    } catch (const std::exception& e) {
      th::excepthook({.exc_type = "mpx::ValueError", .exc_value = e.what(), .exception = std::current_exception()});
    }
  });
  EXPECT_NE(err.find("Exception in thread " + std::to_string(th::get_ident()) + ":\n"), std::string::npos);
  EXPECT_NE(err.find("mpx::ValueError: bug"), std::string::npos);
}

// CPython: ExceptHookTests.test_system_exit
TEST(ExceptHookTests, SystemExit) {
  std::string err = mpx::test::capture_stderr([] {
    th::Thread t([] { mpx::exit(1); });
    t.start();
    t.join();
  });
  EXPECT_EQ(err, "");
}

// CPython: ExceptHookTests.test_custom_excepthook
TEST(ExceptHookTests, CustomExcepthook) {
  std::optional<th::ExceptHookArgs> args;
  th::set_excepthook([&](const th::ExceptHookArgs& a) { args = a; });
  ThreadRunFail thread;
  thread.start();
  thread.join();
  th::set_excepthook(nullptr);
  ASSERT_TRUE(args);
  EXPECT_EQ(args->exc_type, "mpx::ValueError");
  EXPECT_EQ(args->exc_value, "run failed");
  EXPECT_THROW(std::rethrow_exception(args->exception), mpx::ValueError);
  ASSERT_TRUE(args->thread);
  EXPECT_TRUE(*args->thread == thread);
}

// CPython: ExceptHookTests.test_custom_excepthook_fail
TEST(ExceptHookTests, CustomExcepthookFail) {
  th::set_excepthook([](const th::ExceptHookArgs&) { throw mpx::ValueError("threading_hook failed"); });
  std::string err = mpx::test::capture_stderr([] {
    ThreadRunFail thread;
    thread.start();
    thread.join();
  });
  th::set_excepthook(nullptr);
  // Python then calls sys.excepthook, which the test replaces; mpx prints the hook's exception.
  EXPECT_EQ(err.rfind("Exception in threading.excepthook:\n", 0), 0u) << err;
  EXPECT_NE(err.find("threading_hook failed"), std::string::npos) << err;
}

// CPython: ExceptHookTests.test_original_excepthook
TEST(ExceptHookTests, OriginalExcepthook) {
  std::string default_output = run_failing_thread();
  th::set_excepthook([](const th::ExceptHookArgs&) { std::fprintf(stderr, "Running a thread failed\n"); });
  std::string custom_hook_output = run_failing_thread();
  th::set_excepthook(th::default_excepthook);  // threading.excepthook = threading.__excepthook__
  std::string recovered_output = run_failing_thread();
  th::set_excepthook(nullptr);
  EXPECT_EQ(default_output, recovered_output);
  EXPECT_NE(default_output, custom_hook_output);
  EXPECT_EQ(custom_hook_output, "Running a thread failed\n");
}

// CPython: TimerTests.test_init_immutable_default_args (each timer has its own arguments)
TEST(TimerTests, InitImmutableDefaultArgs) {
  std::mutex mu;
  std::vector<std::vector<std::string>> callback_args;
  Flag first, second;
  auto spy = [&](std::vector<std::string> args, Flag* done) {
    {
      std::scoped_lock lock(mu);
      callback_args.push_back(args);
    }
    done->set();
  };
  std::vector<std::string> args;
  th::Timer timer1(10ms, spy, args, &first);
  timer1.start();
  ASSERT_TRUE(first.wait());
  args.push_back("blah");  // does not reach a timer made before
  th::Timer timer2(10ms, spy, std::vector<std::string>{}, &second);
  timer2.start();
  ASSERT_TRUE(second.wait());
  EXPECT_EQ(callback_args, (std::vector<std::vector<std::string>>{{}, {}}));
  timer1.join();
  timer2.join();
}

// CPython: MiscTestCase.test_set_name and test_change_name (Linux keeps 15 bytes)
TEST(ThreadingMiscTestCase, SetNameAndChangeName) {
  auto os_name = [] {
    std::ifstream in("/proc/self/task/" + std::to_string(th::get_native_id()) + "/comm");
    std::string s;
    std::getline(in, s);
    return s;
  };
  for (std::string name : {std::string("CustomName"), std::string(100, 'x')}) {
    std::string work_name;
    th::Thread t({.name = name}, [&] { work_name = os_name(); });
    t.start();
    t.join();
    EXPECT_EQ(work_name, name.substr(0, 15));
  }
  std::string name1, name2;
  th::Thread t({.name = "name"}, [&] {
    name1 = os_name();
    th::current_thread().set_name("new name");
    name2 = os_name();
  });
  t.start();
  t.join();
  EXPECT_EQ(name1, "name");
  EXPECT_EQ(name2, "new name");
}

// CPython: test_threading_local.BaseLocalTest.test_local_refs — mpx does
// better than "n-1 or n": every thread's value is gone once it is joined.
TEST(ThreadingLocalTest, LocalRefs) {
  for (int n : {20, 50, 100}) {
    th::local<std::shared_ptr<int>> local;
    std::vector<std::weak_ptr<int>> weaklist;
    for (int i = 0; i < n; ++i) {
      th::Thread t([&] {
        *local = std::make_shared<int>(i);
        weaklist.push_back(*local);
      });
      t.start();
      t.join();
    }
    ASSERT_EQ(weaklist.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(std::count_if(weaklist.begin(), weaklist.end(), [](auto& w) { return w.expired(); }), n);
  }
}

// CPython: test_threading_local.BaseLocalTest.test_derived — a local with an
// initialiser (Python: a local subclass's __init__) runs it once per thread.
TEST(ThreadingLocalTest, Derived) {
  th::local<int> local([] {
    std::this_thread::yield();
    return -1;
  });
  std::vector<th::Thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back(
        [&local](int v) {
          EXPECT_EQ(*local, -1);
          *local = v;
          EXPECT_EQ(*local, v);
        },
        i);
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
}
