// Port of CPython's Lib/test/test_concurrent_futures/test_deadlock.py
// (ExecutorDeadlockTest) for the process executor
// (futures::ProcessPoolExecutor) — python/cpython main, 3.14/3.15 era. The
// fixture, the calls that travel and the start-method parameterization are
// conformance/futures_process_conformance.hpp's.
//
// Ported (CPython name → TEST name; every one for fork and spawn unless said):
//   test_deadlock.py ExecutorDeadlockTest (pickling = mpx's encoding: a type whose save() or
//     load() throws, calls _exit/mpx::exit or segfaults):
//     test_error_at_task_pickle, test_exit_at_task_unpickle, test_error_at_task_unpickle,
//     test_crash_at_task_unpickle, test_crash_during_func_exec_on_worker,
//     test_exit_during_func_exec_on_worker, test_error_during_func_exec_on_worker,
//     test_crash_during_result_pickle_on_worker, test_exit_during_result_pickle_on_worker,
//     test_error_during_result_pickle_on_worker, test_error_during_result_unpickle_in_result_
//     handler, test_exit_during_result_unpickle_in_result_handler, test_shutdown_deadlock,
//     test_shutdown_deadlock_pickle, test_crash_big_data,
//     test_gh105829_should_not_deadlock_if_wakeup_pipe_full (adapted: 100 map calls on 2
//     workers; no wakeup pipe to fill)  → ExecutorDeadlockTest.<same>
#include <stdexcept>
#include <string>

#include "conformance/futures_process_conformance.hpp"

class ExecutorDeadlockTest : public ProcessPoolFixture {
  // CPython's cases begin with self.executor.shutdown(wait=True) and make their own.
  bool make_executor() const override { return false; }
};
INSTANTIATE_TEST_SUITE_P(ProcessPool, ExecutorDeadlockTest, testing::ValuesIn(kMethods), method_name);

// ==== test_deadlock.py: ExecutorDeadlockTest ============================================

namespace {

// CPython's bad objects: __reduce__ (pickling) is save(), unpickling is load().
struct ErrorAtPickle {  // save() raises (PicklingError)
  template <class A>
  void save(A&) const {
    throw std::logic_error("Error in pickle");
  }
  template <class A>
  void load(A&) {}
};
struct ErrorAtUnpickle {  // load() raises (UnpicklingError)
  template <class A>
  void save(A&) const {}
  template <class A>
  void load(A&) {
    throw std::logic_error("Error in unpickle");
  }
};
struct ExitAtUnpickle {  // load() exits the process (sys.exit(1) at unpickling: the worker's _exit)
  template <class A>
  void save(A&) const {}
  template <class A>
  void load(A&) {
    ::_exit(1);
  }
};
struct SysExitAtUnpickle {  // load() raises SystemExit (sys.exit(1)) — in the parent
  template <class A>
  void save(A&) const {}
  template <class A>
  void load(A&) {
    throw mpx::SystemExit{1};
  }
};
struct CrashAtUnpickle {
  template <class A>
  void save(A&) const {}
  template <class A>
  void load(A&) {
    crash();
  }
};
struct CrashAtPickle {
  template <class A>
  void save(A&) const {
    crash();
  }
  template <class A>
  void load(A&) {}
};
struct ExitAtPickle {  // sys.exit(1) while the worker encodes the result
  template <class A>
  void save(A&) const {
    mpx::exit(1);
  }
  template <class A>
  void load(A&) {}
};

template <class T>
int id_of(T) {  // Python's id(obj)
  return 0;
}
template <class T>
T return_instance() {  // _return_instance(cls)
  return T{};
}

}  // namespace

TEST_P(ExecutorDeadlockTest, test_error_at_task_pickle) {
  // Python: the error reaches the future; mpx encodes at submit(), which raises it.
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(id_of<ErrorAtPickle>, ErrorAtPickle{}), std::logic_error);
  EXPECT_EQ(ex->submit(mul, 6, 7).result(kShortTimeout), 42);  // still usable
}

TEST_P(ExecutorDeadlockTest, test_exit_at_task_unpickle) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(id_of<ExitAtUnpickle>, ExitAtUnpickle{}).result(kShortTimeout), mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_error_at_task_unpickle) {
  // Python: BrokenProcessPool (an unpickling error kills Python's worker). mpx
  // decodes the arguments inside the call: the future fails with the error and
  // the pool stays usable.
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(id_of<ErrorAtUnpickle>, ErrorAtUnpickle{}).result(kShortTimeout), std::logic_error);
  EXPECT_EQ(ex->submit(mul, 6, 7).result(kShortTimeout), 42);
}

TEST_P(ExecutorDeadlockTest, test_crash_at_task_unpickle) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(id_of<CrashAtUnpickle>, CrashAtUnpickle{}).result(kShortTimeout), mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_crash_during_func_exec_on_worker) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(crash).result(kShortTimeout), mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_exit_during_func_exec_on_worker) {
  // Python: sys.exit(1) in the call raises SystemExit into the future; the
  // worker lives. mpx: RemoteError("SystemExit", "mpx::exit(1)") — a
  // mpx::SystemExit escaping main() would abort, where Python's exits.
  auto ex = make({.max_workers = 2});
  auto f = ex->submit(sys_exit);
  try {
    f.result(kShortTimeout);
    ADD_FAILURE() << "no error";
  } catch (const mpx::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "SystemExit");
    EXPECT_EQ(e.message(), "mpx::exit(1)");
  }
  EXPECT_EQ(ex->broken(), "");
}

TEST_P(ExecutorDeadlockTest, test_error_during_func_exec_on_worker) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(raise_error).result(kShortTimeout), mpx::RuntimeError);
}

TEST_P(ExecutorDeadlockTest, test_crash_during_result_pickle_on_worker) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(return_instance<CrashAtPickle>).result(kShortTimeout), mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_exit_during_result_pickle_on_worker) {
  // Python: SystemExit from pickling the result reaches the future (mpx:
  // as RemoteError, see test_exit_during_func_exec_on_worker).
  auto ex = make({.max_workers = 2});
  auto f = ex->submit(return_instance<ExitAtPickle>);
  try {
    f.result(kShortTimeout);
    ADD_FAILURE() << "no error";
  } catch (const mpx::RemoteError& e) {
    EXPECT_EQ(e.type_name(), "SystemExit");
  }
  EXPECT_EQ(ex->broken(), "");
}

TEST_P(ExecutorDeadlockTest, test_error_during_result_pickle_on_worker) {
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(return_instance<ErrorAtPickle>).result(kShortTimeout), std::logic_error);
}

TEST_P(ExecutorDeadlockTest, test_error_during_result_unpickle_in_result_handler) {
  // Python: BrokenProcessPool (the result handler thread fails). mpx: the
  // error decoding the result fails that future only; the pool stays usable.
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(return_instance<ErrorAtUnpickle>).result(kShortTimeout), std::logic_error);
  EXPECT_EQ(ex->submit(mul, 6, 7).result(kShortTimeout), 42);
}

TEST_P(ExecutorDeadlockTest, test_exit_during_result_unpickle_in_result_handler) {
  // Python: BrokenProcessPool. mpx: SystemExit (what sys.exit raises) on the parent's
  // result thread is caught as that future's error; no deadlock either way.
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(ex->submit(return_instance<SysExitAtUnpickle>).result(kShortTimeout), mpx::SystemExit);
  ex->shutdown(true);
}

TEST_P(ExecutorDeadlockTest, test_shutdown_deadlock) {
  // Test that the pool calling shutdown do not cause deadlock if a worker fails after the shutdown call.
  auto ex = make({.max_workers = 2});
  auto f = ex->submit(crash_after, 0.1);
  ex->shutdown(true);
  EXPECT_THROW(f.result(), mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_shutdown_deadlock_pickle) {
  // bpo-39104: shutdown(wait=False) after a task failed at pickle. In mpx the
  // encoding error is submit()'s own.
  auto ex = make({.max_workers = 2});
  EXPECT_EQ(ex->submit(id_, 42).result(kShortTimeout), 42);
  EXPECT_THROW(ex->submit(id_of<ErrorAtPickle>, ErrorAtPickle{}), std::logic_error);
  ex->shutdown(false);
  ex.reset();  // the executor is eventually shut down, nothing dangling
}

TEST_P(ExecutorDeadlockTest, test_crash_big_data) {
  // gh-94777: a child crashing while data is written into the queue gives a
  // clean exception instead of a deadlock. Calls this large travel beside
  // the task ring (in the arena), never in fragments.
  constexpr std::size_t PIPE_MAX_SIZE = 4 * 1024 * 1024 + 1;  // test.support.PIPE_MAX_SIZE
  auto ex = make({.max_workers = 2});
  EXPECT_THROW(to_vector(ex->map(crash_with_data, std::vector<std::string>(10, std::string(PIPE_MAX_SIZE, 'a')))),
               mpx::BrokenProcessPool);
}

TEST_P(ExecutorDeadlockTest, test_gh105829_should_not_deadlock_if_wakeup_pipe_full) {
  // Issue #105829: the manager thread's wakeup pipe could fill up and block
  // submit(). No such pipe here (submit never blocks): 100 calls, 2 workers.
  auto ex = make({.max_workers = 2});
  constexpr int job_num = 100;
  EXPECT_EQ(static_cast<int>(to_vector(ex->map(id_, std::views::iota(0, job_num))).size()), job_num);
}
