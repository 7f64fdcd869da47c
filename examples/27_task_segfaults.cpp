// 27_task_segfaults: a task that segfaults fails alone with WorkerLost (SIGSEGV); the rest completes, the pool goes on.
//
// Seed lesson: 进程的终止 (how a process ends) in 000_ec46196c2f03f318.txt,
// section 六 — 严重错误(非自愿,执行非法指令,如引用不存在的内存...): a fatal error,
// involuntary, such as touching memory that does not exist — met in a
// process pool (池, 002_eb024505f4b76b08.txt). In Python the same crash is
// a C extension dereferencing a bad pointer, or os.kill(os.getpid(), SIGSEGV):
//
//   from multiprocessing import Pool
//   import os, signal
//
//   def work(n):
//       if n == 3:
//           os.kill(os.getpid(), signal.SIGSEGV)   # the worker dies
//       return n * n
//
//   if __name__ == '__main__':
//       with Pool(2) as p:
//           results = [p.apply_async(work, (i,)) for i in range(6)]
//           print([r.get() for r in results])     # hangs for ever on results[3]
//
// Python's Pool replaces the dead worker but never learns which task it
// was running: results[3].get() waits for ever (and so would p.map(work,
// range(6)) and p.join()). Python's ProcessPoolExecutor notices the death
// but then fails every pending future and refuses new ones
// (BrokenProcessPool).
//
// mpx::Pool fails only the task whose worker died, with WorkerLost naming
// the signal (its exitcode() is -SIGSEGV), starts a new worker and goes on.
// ProcessPoolExecutor behaves as Python's (BrokenProcessPool) unless asked
// for .replace_dead_workers, which makes it behave as mpx::Pool.
//
// What to notice: results[3] raises WorkerLost "... killed by SIGSEGV ...",
// the five others return; a map afterwards works with two workers again;
// with map, the chunk holding the bad item fails the whole map. The crashing
// task first sets its core-file size limit to 0, so no core file is left.
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <mpx/futures.hpp>
#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

namespace fut = mpx::futures;

namespace {

// A pointer the compiler cannot see is null: writing through it really segfaults.
volatile int* volatile g_nowhere = nullptr;

void segfault() {
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  *g_nowhere = 42;  // SIGSEGV
}

int work(int n) {
  if (n == 3) segfault();
  return n * n;
}

std::string list(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  {
    mpx::Pool p(2);
    std::vector<mpx::AsyncResult<int>> results;
    for (int i = 0; i < 6; ++i) results.push_back(p.apply_async(work, i));
    for (int i = 0; i < 6; ++i) {
      try {
        std::printf("results[%d].get() = %d\n", i, results[static_cast<std::size_t>(i)].get());
      } catch (const mpx::WorkerLost& e) {
        std::printf("results[%d].get() raised WorkerLost: %s; exitcode() == -SIGSEGV: %s\n", i, e.what(),
                    e.exitcode() == -SIGSEGV ? "yes" : "no");
      }
    }
    // The pool goes on, with a new worker in place of the dead one.
    std::vector<int> items{0, 1, 2, 4, 5, 6};
    std::printf("then p.map(work, [0, 1, 2, 4, 5, 6]) = %s\n", list(p.map(work, items)).c_str());
    std::printf("live workers: %zu of p.processes() = %d\n", p.workers().size(), p.processes());
    // map: the item that crashes fails its chunk, and with it the map.
    try {
      p.map({.chunksize = 2}, work, std::vector<int>{0, 1, 2, 3, 4, 5});
    } catch (const mpx::WorkerLost& e) {
      std::printf("p.map(work, range(6), chunksize=2) raised WorkerLost: %s\n", e.what());
    }
    p.close();
    p.join();
    std::puts("close() and join() returned: the pool did not hang\n");
  }

  // ProcessPoolExecutor, as Python: one dead worker breaks the pool.
  {
    fut::ProcessPoolExecutor ex(2);
    auto f = ex.submit(work, 3);
    try {
      f.result();
    } catch (const mpx::BrokenProcessPool& e) {
      std::printf("ProcessPoolExecutor: the crashed call raised BrokenProcessPool: %s\n", e.what());
    }
    try {
      ex.submit(work, 4);
    } catch (const mpx::BrokenProcessPool&) {
      std::puts("ProcessPoolExecutor: a later submit raised BrokenProcessPool too");
    }
  }
  // ... unless .replace_dead_workers: then only that call fails.
  {
    fut::ProcessPoolExecutor ex({.max_workers = 2, .replace_dead_workers = true});
    std::vector<fut::Future<int>> fs;
    for (int i = 0; i < 6; ++i) fs.push_back(ex.submit(work, i));
    std::vector<int> got;
    std::string lost;
    for (auto& f : fs) {
      try {
        got.push_back(f.result());
      } catch (const mpx::WorkerLost& e) {
        lost = e.what();
      }
    }
    std::printf("ProcessPoolExecutor(replace_dead_workers): results %s; the call of work(3): WorkerLost: %s\n",
                list(got).c_str(), lost.c_str());
    std::printf("ProcessPoolExecutor(replace_dead_workers): broken() = \"%s\"\n", ex.broken().c_str());
  }
  return 0;
}
