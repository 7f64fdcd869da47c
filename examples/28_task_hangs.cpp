// 28_task_hangs: a task that hangs, with a per-task timeout: TimeoutError for it, its worker replaced, others go on.
//
// Seed lesson: 阻塞 (blocking) in 000_ec46196c2f03f318.txt, section 四 — a
// blocked call is suspended until its result comes (调用结果返回之前,当前线程会
// 被挂起) — and the note on pools in 003_9b13542cec5b1b94.txt (注意事项:
// 避免在進程池中執行阻塞操作,否則可能導致...: avoid blocking operations in a
// process pool). What happens when a pool task blocks for ever, in Python:
//
//   from multiprocessing import Pool
//   import multiprocessing, time
//
//   def work(n):
//       if n == 3:
//           time.sleep(10 ** 9)                 # hangs: a lost lock, a dead peer...
//       return n * n
//
//   if __name__ == '__main__':
//       p = Pool(2)
//       r = p.apply_async(work, (3,))
//       try:
//           r.get(timeout=0.2)                  # gives up waiting ...
//       except multiprocessing.TimeoutError:
//           print('TimeoutError; ready():', r.ready())   # ... but the task runs on
//       p.terminate()                           # the only way to stop it: the whole pool
//
// get(timeout) only stops the waiting: the worker stays stuck, one process
// fewer for everything else, until terminate() kills the whole pool. mpx
// adds a timeout per task (`.timeout` of apply_async, map and imap, or
// PoolOptions{.timeout} for every task): a task that overruns it has its
// worker killed and replaced, and fails with TimeoutError; the other tasks
// complete as usual.
//
// What to notice: part 1 is Python's behaviour (get(timeout) gives up, the
// task is still not ready, terminate() fails it); in part 2 the hung task
// alone raises TimeoutError, the worker that hung is no longer among the
// pool's workers (its pid was recorded by the task; pids are compared, not
// printed) and the pool is back to two; in part 3 an imap with a pool-wide
// timeout gives every result but the hung one, in order.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

using namespace std::chrono_literals;

namespace {

std::optional<mpx::RawValue<int>> g_hung_pid;  // the pid of the worker that hung
void init(mpx::RawValue<int> hung_pid) { g_hung_pid = hung_pid; }

int work(int n) {
  if (n == 3) {
    g_hung_pid->set_value(static_cast<int>(::getpid()));
    for (;;) ::pause();  // hangs for ever
  }
  return n * n;
}

const char* yes(bool b) { return b ? "yes" : "no"; }

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  mpx::RawValue<int> hung_pid(0);

  // 1. As in Python: get(timeout) gives up waiting, the task runs on.
  {
    mpx::Pool p({.processes = 2, .initializer = {init, hung_pid}});
    auto r = p.apply_async(work, 3);
    try {
      r.get(200ms);
    } catch (const mpx::TimeoutError&) {
      std::printf("1. r.get(timeout=0.2) raised TimeoutError; r.ready(): %s — the worker is still stuck\n",
                  yes(r.ready()));
    }
    std::printf("   the other worker still serves: p.apply(work, 5) = %d\n", p.apply(work, 5));
    p.terminate();
    try {
      r.get();
    } catch (const mpx::ProcessError& e) {
      std::printf("   after terminate(), r.get() raises ProcessError: %s\n\n", e.what());
    }
  }

  // 2. A per-task timeout: only the hung task fails; its worker is replaced.
  {
    mpx::Pool p({.processes = 2, .initializer = {init, hung_pid}});
    std::vector<mpx::AsyncResult<int>> results;
    for (int i = 0; i < 6; ++i) results.push_back(p.apply_async({.timeout = 300ms}, work, i));
    std::vector<int> got;
    for (int i = 0; i < 6; ++i) {
      try {
        got.push_back(results[static_cast<std::size_t>(i)].get());
      } catch (const mpx::TimeoutError& e) {
        std::printf("2. work(%d) with timeout 0.3 s raised TimeoutError: %s\n", i, e.what());
      }
    }
    std::string s;
    for (int v : got) s += " " + std::to_string(v);
    std::printf("   the other five returned:%s\n", s.c_str());
    auto workers = p.workers();
    bool gone = std::none_of(workers.begin(), workers.end(),
                             [&](const mpx::Process& w) { return w.pid() == hung_pid.value(); });
    std::printf("   the worker that hung is gone from p.workers(): %s; live workers: %zu of %d\n", yes(gone),
                workers.size(), p.processes());
    p.close();
    p.join();
    std::puts("   close() and join() returned\n");
  }

  // 3. A pool-wide timeout, with imap: every result but the hung one, in order.
  {
    mpx::Pool p({.processes = 2, .initializer = {init, hung_pid}, .timeout = 300ms});
    auto it = p.imap(work, std::vector<int>{0, 1, 2, 3, 4, 5});
    std::string s;
    for (int i = 0; i < 6; ++i) {
      try {
        s += " " + std::to_string(*it.next());
      } catch (const mpx::TimeoutError&) {
        s += " TimeoutError";
      }
    }
    std::printf("3. Pool(2, timeout=0.3).imap(work, range(6)):%s\n", s.c_str());
    std::printf("   then p.apply(work, 7) = %d\n", p.apply(work, 7));
  }
  return 0;
}
