// 14_cpu_bound_threads_vs_processes: CPU-bound work split over threads and over processes; C++ has no GIL.
//
// Seed lesson: GIL vs 互斥锁 (the GIL and the mutex). In CPython one lock,
// the GIL, lets only one thread run Python code at a time, so CPU-bound work
// gains nothing from threads: use processes (计算密集型用多进程, IO密集型用多线程).
// The Python original:
//
//   from multiprocessing import Process
//   from threading import Thread
//   import os, time
//
//   def work():
//       res = 0
//       for i in range(100000000):
//           res *= i
//
//   if __name__ == '__main__':
//       l = []
//       print(os.cpu_count())        # 4 cores
//       start = time.time()
//       for i in range(4):
//           p = Process(target=work)  # about 5 s
//           p = Thread(target=work)   # about 18 s
//           l.append(p)
//           p.start()
//       for p in l:
//           p.join()
//       print('run time is %s' % (time.time() - start))
//
// C++ has no GIL: both kinds run in parallel on every core, and threads even
// start faster. The work here is counting primes by trial division, once in
// one thread, then split into 4 parts over 4 threads, then over 4 processes
// (each child puts its count into a shared Array). The counts are the same
// every run (stdout); the times are not (stderr): on 2 idle cores, expect the
// threads and the processes each to take about half the single-thread time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <mpx/mpx.hpp>

namespace th = mpx::threading;

namespace {

constexpr unsigned kLimit = 2000000;  // count the primes below this
constexpr int kWorkers = 4;

// The primes in [lo, hi), by trial division: deliberately plain CPU work.
int count_primes(unsigned lo, unsigned hi) {
  int n = 0;
  for (unsigned x = lo; x < hi; ++x) {
    if (x < 2 || (x % 2 == 0 && x != 2)) continue;
    bool prime = true;
    for (unsigned d = 3; d * d <= x; d += 2) {
      if (x % d == 0) {
        prime = false;
        break;
      }
    }
    n += prime;
  }
  return n;
}

// Part `i` of kWorkers: every kWorkers-th block of 1000 numbers, so each part
// gets small and large numbers alike and the parts take about as long.
int count_part(int i) {
  constexpr unsigned kBlock = 1000;
  int n = 0;
  for (unsigned lo = i * kBlock; lo < kLimit; lo += kWorkers * kBlock)
    n += count_primes(lo, std::min(lo + kBlock, kLimit));
  return n;
}

// Runs `body`, returns its result, and reports the wall time on stderr.
template <class F>
int timed(const char* what, double& ms, F body) {
  auto t0 = std::chrono::steady_clock::now();
  int result = body();
  ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "%-12s %7.1f ms\n", what, ms);
  return result;
}

}  // namespace

int main() {
  std::fprintf(stderr, "cpu_count() = %d\n", mpx::cpu_count());
  double one_ms = 0, threads_ms = 0, procs_ms = 0;

  int one = timed("1 thread", one_ms, [] { return count_primes(0, kLimit); });

  int in_threads = timed("4 threads", threads_ms, [] {
    std::vector<int> counts(kWorkers);
    std::vector<th::Thread> threads;
    for (int i = 0; i < kWorkers; ++i) {
      threads.emplace_back([&counts, i] { counts[i] = count_part(i); });
    }
    for (auto& t : threads) t.start();
    for (auto& t : threads) t.join();
    int total = 0;
    for (int c : counts) total += c;
    return total;
  });

  int in_processes = timed("4 processes", procs_ms, [] {
    mpx::Array<int> counts(kWorkers);  // a plain vector would stay in each child's own memory
    std::vector<mpx::Process> procs;
    for (int i = 0; i < kWorkers; ++i) {
      procs.emplace_back([&counts, i] { counts.set(i, count_part(i)); });
    }
    for (auto& p : procs) p.start();
    for (auto& p : procs) p.join();
    int total = 0;
    for (int c : counts.to_vector()) total += c;
    return total;
  });

  std::fprintf(stderr, "speed-up over 1 thread: threads %.1fx, processes %.1fx\n", one_ms / threads_ms,
               one_ms / procs_ms);
  std::printf("primes below %u: %d in 1 thread, %d in %d threads, %d in %d processes\n", kLimit, one, in_threads,
              kWorkers, in_processes, kWorkers);
  std::printf("the three counts agree: %s\n", one == in_threads && one == in_processes ? "yes" : "no");
  return one == in_threads && one == in_processes ? 0 : 1;
}
