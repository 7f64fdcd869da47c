// threading_exit_helper SCENARIO — small programs that end by returning from
// main (or std::exit), for the tests of what mpx::threading does at process
// exit: CPython tests these with `python -c script`, here each script is a
// scenario of this one binary, run by tests/support/threading_helper.hpp.
// Output goes to stdout (checked by the tests); exit code 2 means a check
// inside the scenario failed, 3 an unknown scenario.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <latch>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "mpx/detail/futex.hpp"
#include "mpx/process.hpp"
#include "mpx/threading.hpp"

namespace th = mpx::threading;

namespace {

void say(const char* line) {
  std::printf("%s\n", line);
  std::fflush(stdout);
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::_Exit(2);
  }
}

// CPython's joiningfunc: waits for the main thread to end, then reports.
void joiningfunc(th::Thread main) {
  main.join();
  say("end of thread");
}

// Objects whose destructors run after threading's exit handler: made during
// static initialisation, before any Thread was started.
th::local<std::string> g_tls;
std::atomic<int> g_at_exit{0};  // which destructor check to run

struct AtExit {
  ~AtExit() {
    switch (g_at_exit.load()) {
      case 1:  // CPython: test_locals_at_exit
        std::printf("thread_dict.atexit = '%s'\n", g_tls->c_str());
        break;
      case 2: {  // CPython: test_main_thread_during_shutdown
        auto all = th::enumerate();
        std::printf("GC: %s %s %s\n", th::current_thread() == th::main_thread() ? "True" : "False",
                    th::main_thread().name() == "MainThread" ? "True" : "False",
                    all.size() == 1 && all[0] == th::main_thread() ? "True" : "False");
        break;
      }
      case 3:  // CPython: test_start_new_thread_at_finalization
        say("OK");
        try {
          th::Thread([] { say("shouldn't be printed"); }).start();
        } catch (const mpx::RuntimeError& e) {
          std::fprintf(stderr, "RuntimeError: %s\n", e.what());
        }
        break;
      default:
        break;
    }
    std::fflush(stdout);
  }
} g_at_exit_object;

std::map<std::string, std::function<int()>> scenarios() {
  return {
      // CPython: ThreadJoinOnShutdown.test_1_join_on_shutdown
      {"join_on_shutdown",
       [] {
         th::Thread t(joiningfunc, th::current_thread());
         t.start();
         say("end of main");
         return 0;
       }},
      // CPython: ThreadTests.test_join_nondaemon_on_shutdown (raise SystemExit in main)
      {"join_on_exit_call",
       []() -> int {
         th::Thread t(joiningfunc, th::current_thread());
         t.start();
         say("end of main");
         mpx::exit(0);
       }},
      // CPython: ThreadJoinOnShutdown.test_2_join_in_forked_process
      {"join_in_forked_process",
       [] {
         std::fflush(stdout);
         pid_t pid = ::fork();
         if (pid != 0) {
           int status = 0;
           ::waitpid(pid, &status, 0);
           return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
         }
         th::Thread t(joiningfunc, th::current_thread());
         t.start();
         say("end of main");
         return 0;
       }},
      // CPython: ThreadJoinOnShutdown.test_3_join_in_forked_from_thread
      {"join_in_forked_from_thread",
       [] {
         auto main_thread = th::current_thread();
         th::Thread w([main_thread] {
           std::fflush(stdout);
           pid_t pid = ::fork();
           if (pid != 0) {
             int status = 0;
             ::waitpid(pid, &status, 0);
             check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child exit status");
             mpx::exit(0);  // sys.exit(0) in a thread: ends the thread
           }
           // The child: main_thread is stopped here, so joining it does not block.
           th::Thread t(joiningfunc, main_thread);
           say("end of main");
           t.start();
           t.join();
         });
         w.start();
         return 0;
       }},
      // CPython: ThreadJoinOnShutdown.test_4_daemon_threads (and
      // test_stop_the_world_during_finalization): daemon threads busy with IO
      // while the process exits.
      {"daemon_threads",
       [] {
         std::latch ran(40);
         for (int i = 0; i < 40; ++i) {
           th::Thread t({.daemon = true}, [&ran] {
             bool counted = false;
             char buf[200];
             for (;;) {
               std::FILE* in = std::fopen("/proc/self/stat", "rb");
               std::size_t n = in ? std::fread(buf, 1, sizeof buf, in) : 0;
               if (in) std::fclose(in);
               if (std::FILE* out = std::fopen("/dev/null", "wb")) {
                 std::fwrite(buf, 1, n, out);
                 std::fclose(out);
               }
               if (!counted) ran.count_down();
               counted = true;
             }
           });
           t.start();
         }
         ran.wait();
         say("Exiting...");
         return 0;
       }},
      // A daemon thread blocked forever does not hold the process up.
      {"daemon_not_waited",
       [] {
         static std::atomic<std::uint32_t> never{0};
         th::Thread t({.daemon = true}, [] {
           mpx::detail::wait_until(
               never, [](std::uint32_t v) { return v != 0; }, mpx::detail::Deadline::never());
         });
         t.start();
         say("end of main");
         return 0;
       }},
      // CPython: ThreadJoinOnShutdown.test_thread_from_thread
      {"thread_from_thread",
       [] {
         th::Thread t1([] { th::Thread([] { say("OK"); }).start(); });
         t1.start();
         return 0;  // no join: exit waits for both
       }},
      // std::exit from a non-daemon thread: exit does not wait for that thread.
      {"exit_from_thread",
       [] {
         th::Thread t([] { std::exit(7); });
         t.start();
         t.join();  // never returns: the process exits from t
         return 1;
       }},
      // CPython: ThreadTests.test_finalization_shutdown — exit waits for a
      // thread's local<T> values to be destroyed too.
      {"local_destroyed_before_exit",
       [] {
         struct Sleeper {
           ~Sleeper() {
             for (int i = 0; i < 1000; ++i) std::this_thread::yield();
             say("x");
           }
         };
         static th::local<std::unique_ptr<Sleeper>> tls;
         th::Thread([] { *tls = std::make_unique<Sleeper>(); }).start();
         return 0;
       }},
      {"locals_at_exit",
       [] {
         *g_tls = "value";
         g_at_exit = 1;
         return 0;
       }},
      {"main_thread_during_shutdown",
       [] {
         g_at_exit = 2;
         th::Thread t([] {});
         t.start();
         t.join();
         return 0;
       }},
      {"start_at_finalization",
       [] {
         g_at_exit = 3;
         th::Thread t([] {});  // installs the exit handler
         t.start();
         t.join();
         return 0;
       }},
      // CPython: ThreadTests.test_limbo_cleanup — a failed start() leaves
      // nothing behind, and the thread can be started again. A fresh process:
      // glibc has no cached thread stack to reuse, so RLIMIT_AS bites.
      {"limbo_cleanup",
       [] {
         auto before = th::active_count();
         th::Thread t([] { say("ran"); });
         rlimit lim{};
         ::getrlimit(RLIMIT_AS, &lim);
         std::size_t pages = 0;
         if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
           check(std::fscanf(f, "%zu", &pages) == 1, "statm");
           std::fclose(f);
         }
         rlimit tight = lim;
         tight.rlim_cur = pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)) + (1 << 20);
         ::setrlimit(RLIMIT_AS, &tight);  // no room for a thread stack
         std::string error;
         try {
           t.start();
         } catch (const mpx::RuntimeError& e) {
           error = e.what();
         }
         ::setrlimit(RLIMIT_AS, &lim);
         check(error == "can't start new thread", "start() raised RuntimeError(\"can't start new thread\")");
         check(th::active_count() == before, "not left in enumerate()");
         check(!t.is_alive(), "not alive");
         t.start();
         t.join();
         return 0;
       }},
      // CPython: ThreadTests.test_import_from_another_thread — the first use
      // of threading comes from a thread threading did not start.
      {"first_use_from_foreign_thread",
       [] {
         auto main_ident = static_cast<std::uint64_t>(::pthread_self());
         std::thread([main_ident] {
           auto main = th::main_thread();
           check(main.name() == "MainThread", "main_thread() is MainThread");
           check(main.ident() == main_ident, "main ident");
           check(th::current_thread().name().rfind("Dummy-", 0) == 0, "a dummy thread");
         }).join();
         return 0;
       }},
  };
}

}  // namespace

// These scenarios end processes with threads still running, some of them in
// a fork child of a threaded parent: there LeakSanitizer cannot stop every
// thread and reports false leaks ("Running thread ... was not suspended",
// ../shared/PLATFORM.md §5). Leak checking stays on for every other binary.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 2) return 3;
  auto all = scenarios();
  auto it = all.find(argv[1]);
  if (it == all.end()) return 3;
  return it->second();
}
