// futures_exit_helper SCENARIO — small programs that end with a
// ThreadPoolExecutor still alive (CPython's test_shutdown runs them with
// `python -c script`). Output on stdout is checked by
// conformance/futures_conformance_test.cpp; exit code 3: unknown scenario.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mpx/futures.hpp"
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

}  // namespace

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
  return 3;
}
