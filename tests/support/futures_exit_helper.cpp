// futures_exit_helper SCENARIO — small programs that end with a
// ThreadPoolExecutor or a ProcessPoolExecutor still alive (CPython's
// test_shutdown runs them with `python -c script`). Output on stdout is
// checked by conformance/futures_wait_conformance_test.cpp (thread pools) and
// conformance/futures_process_shutdown_conformance_test.cpp (process pools);
// exit code 3: unknown scenario.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mpx/context.hpp"
#include "mpx/futures.hpp"
#include "mpx/process.hpp"
#include "mpx/threading.hpp"

namespace fut = mpx::futures;

namespace {

// CPython's sleep_and_print(t, msg), without the sleep: the executor must
// run the queued task before the process may end, however long it takes.
void print(const char* msg) {
  std::printf("%s\n", msg);
  std::fflush(stdout);
}

fut::ThreadPoolExecutor* g_pool = nullptr;

// test_submit_after_interpreter_shutdown's atexit.register(run_last):
// registered after the pool is made and before it starts a thread, so it
// runs after the pools' exit hook and before the pool's destructor
// (std::atexit and static destructors run in reverse order).
void run_last() {
  try {
    g_pool->submit([] { return 0; });
  } catch (const mpx::RuntimeError& e) {
    print("runtime-error");
    std::fprintf(stderr, "RuntimeError: %s\n", e.what());
  }
}

// A process pool's call: prints from the worker, which shares stdout.
void print_task(int i) {
  std::printf("task %d\n", i);
  std::fflush(stdout);
}
int twice(int x) { return 2 * x; }
void exit_from_child() { std::exit(0); }

// Registered before the leaked process pool is made, so it runs after the
// exit hook (std::atexit runs in reverse order): Python's submit after
// _python_exit.
fut::ProcessPoolExecutor* g_process_pool = nullptr;
void submit_after_hook() {
  try {
    g_process_pool->submit(twice, 1);
    print("accepted");
  } catch (const mpx::RuntimeError& e) {
    print("runtime-error");
    std::fprintf(stderr, "RuntimeError: %s\n", e.what());
  }
}

fut::ProcessPoolOptions fork_pool(int n) { return {.max_workers = n, .mp_context = mpx::get_context("fork")}; }

// Registered after the leaked process pool is made, so it runs before the
// exit hook: its submit is accepted, and the hook then runs the call.
void submit_before_hook() {
  g_process_pool->submit(print_task, 7);
  print("accepted");
}

// An mpx child's target that leaves a process pool behind (leaked, with
// calls queued): the end of the child's run drains it, as at the parent's exit.
void child_leaves_a_pool() {
  auto* pool = new fut::ProcessPoolExecutor(fork_pool(2));
  for (int i = 0; i < 4; ++i) pool->submit(print_task, i);
}

}  // namespace

// process_fork_child_exit ends a fork child of a threaded parent with
// std::exit: there LeakSanitizer cannot stop every thread and reports false
// leaks ("Running thread ... was not suspended", ../shared/PLATFORM.md §5),
// as in threading_exit_helper.cpp. Leak checking stays on for the test binaries.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 2) return 3;
  const std::string s = argv[1];
  if (s == "interpreter_shutdown") {
    // test_interpreter_shutdown: a pool still alive when main returns. A
    // static one: its destructor comes after threading's exit handler,
    // which would wait for its workers forever without the pools' exit hook.
    static fut::ThreadPoolExecutor t(5);
    t.submit(print, "apple");
    return 0;
  }
  if (s == "exit_from_main") {
    // std::exit skips the stack executor's destructor: the exit hook drains it.
    fut::ThreadPoolExecutor t(5);
    t.submit(print, "apple");
    std::exit(0);
  }
  if (s == "submit_after_interpreter_shutdown") {
    static fut::ThreadPoolExecutor t(5);
    g_pool = &t;
    std::atexit(run_last);
    t.submit([] { return 42; }).result();
    return 0;
  }
  if (s == "shutdown_no_wait") {
    // test_hang_gh83386: shutdown(wait=False) then exit.
    static fut::ThreadPoolExecutor t(3);
    t.submit(print, "apple");
    t.shutdown(false);
    return 0;
  }
  if (s == "cancel_futures_wait_false") {
    // test_cancel_futures_wait_false: the task ran, or was cancelled before it started.
    static fut::ThreadPoolExecutor t;
    t.submit(print, "apple");
    t.shutdown({.wait = false, .cancel_futures = true});
    return 0;
  }
  if (s == "process_exit_from_main") {
    // std::exit skips the stack executor's destructor: the exit hook drains
    // it before the daemonic workers are terminated.
    fut::ProcessPoolExecutor t(fork_pool(2));
    for (int i = 0; i < 4; ++i) t.submit(print_task, i);
    std::exit(0);
  }
  if (s == "process_return_from_main") {
    static fut::ProcessPoolExecutor t(fork_pool(2));
    for (int i = 0; i < 4; ++i) t.submit(print_task, i);
    return 0;
  }
  if (s == "process_and_thread_exit") {
    // Both kinds alive at std::exit; the thread pool made second, so
    // threading's exit handler (which also ends the daemonic children) is
    // registered after the process pool was made.
    fut::ProcessPoolExecutor p(fork_pool(2));
    fut::ThreadPoolExecutor t(2);
    for (int i = 0; i < 4; ++i) p.submit(print_task, i);
    t.submit(print, "thread");
    std::exit(0);
  }
  if (s == "process_submit_after_exit_hook") {
    std::atexit(submit_after_hook);
    g_process_pool = new fut::ProcessPoolExecutor(fork_pool(1));  // leaked: alive at exit
    if (g_process_pool->submit(twice, 1).result() != 2) return 4;
    return 0;
  }
  if (s == "process_submit_before_exit_hook") {
    g_process_pool = new fut::ProcessPoolExecutor(fork_pool(1));  // leaked: alive at exit
    std::atexit(submit_before_hook);
    if (g_process_pool->submit(twice, 1).result() != 2) return 4;
    return 0;
  }
  if (s == "process_child_leaves_a_pool") {
    auto child = mpx::get_context("fork").Process(child_leaves_a_pool);
    child.start();
    child.join();
    if (child.exitcode() != 0) return 5;
    print("child-joined");
    return 0;
  }
  if (s == "process_raw_fork_child_exit") {
    // The same with a plain fork(): the child inherits mpx's list of the
    // parent's children, the executor's workers among them.
    fut::ProcessPoolExecutor t(fork_pool(1));
    if (t.submit(twice, 1).result() != 2) return 4;
    const pid_t pid = ::fork();
    if (pid < 0) return 7;
    if (pid == 0) std::exit(0);
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 5;
    if (t.submit(twice, 21).result() != 42) return 6;
    print("parent-ok");
    return 0;
  }
  if (s == "process_fork_child_exit") {
    // A fork child that exits through std::exit must not shut down or join
    // the parent's executor (their rings are shared, their threads are not
    // the child's): the parent's executor works on afterwards.
    fut::ProcessPoolExecutor t(fork_pool(1));
    if (t.submit(twice, 1).result() != 2) return 4;
    auto child = mpx::get_context("fork").Process(exit_from_child);
    child.start();
    child.join();
    if (child.exitcode() != 0) return 5;
    if (t.submit(twice, 21).result() != 42) return 6;
    print("parent-ok");
    return 0;
  }
  return 3;
}
