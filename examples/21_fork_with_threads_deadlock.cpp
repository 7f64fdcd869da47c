// 21_fork_with_threads_deadlock: a thread holds a mutex when the program forks: the fork child would wait for ever, a
// spawn or forkserver child runs.
//
// Python 3.12 warns "This process is multi-threaded, use of fork() may lead
// to deadlocks in the child", and 3.14 stopped forking by default on POSIX.
// The reason, in a few lines:
//
//   lock = threading.Lock()                 # a logger's, malloc's, any lock
//   def holder():
//       with lock:
//           held.set(); release.wait()
//   def child():
//       with lock:                          # fork: waits for ever
//           print('child logged')
//
//   if __name__ == '__main__':
//       threading.Thread(target=holder).start(); held.wait()
//       for method in ('fork', 'spawn', 'forkserver'):
//           p = mp.get_context(method).Process(target=child); p.start(); p.join()
//
// fork copies memory, not threads: the child gets the mutex in its locked
// state, and the thread that would unlock it does not exist in the child, so
// nothing there can ever unlock it. Here the child tries the mutex with a
// timeout (std::timed_mutex::try_lock_for), and says "would deadlock"
// instead of hanging. A spawn child is a fresh run of the program: its mutex
// was never locked, whatever the parent's threads hold. A forkserver child
// is a fork of a server process that is itself a fresh, single-threaded run
// of the program: a fork's cost, nothing of the parent's threads. Here the
// server is started before the thread (Python's
// multiprocessing.forkserver.ensure_running()); started later, at the first
// forkserver start(), it would be just as fresh — it only moves the cost of
// starting it out of that start().
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include <mpx/mpx.hpp>

namespace th = mpx::threading;
using namespace std::chrono_literals;

namespace {

std::timed_mutex g_log_mutex;  // process-local, as a logger's or malloc's own lock

// The child needs the mutex (to log, say).
void child_logs() {
  const std::string me = mpx::current_process().name();
  if (g_log_mutex.try_lock_for(300ms)) {  // Python's `with lock:` would wait for ever
    std::printf("  %s: took the mutex, logged, released it\n", me.c_str());
    g_log_mutex.unlock();
  } else {
    std::printf("  %s: the mutex is locked and the thread holding it does not exist here: would deadlock\n",
                me.c_str());
    mpx::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  mpx::init(argc, argv);  // first: in a spawned child, this runs child_logs() and exits
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  mpx::forkserver::ensure_running();  // the server: forks the forkserver children below

  th::Event held, release;
  th::Thread holder(th::ThreadOptions{.name = "holder"}, [&] {
    std::lock_guard lock(g_log_mutex);
    held.set();
    release.wait();
  });
  holder.start();
  held.wait();
  std::printf("main: thread \"holder\" holds the mutex\n");

  for (const char* method : {"fork", "spawn", "forkserver"}) {
    std::printf("== %s ==\n", method);
    auto p = mpx::get_context(method).Process(child_logs);
    p.start();
    if (!p.join(10s)) {  // cannot happen with try_lock_for; a plain lock() would end here
      p.kill();
      p.join();
    }
    std::printf("main: the %s child exited with %d\n", method, p.exitcode().value_or(-1));
  }

  release.set();
  holder.join();
  std::printf("main: \"holder\" released the mutex and ended\n");
  return 0;
}
