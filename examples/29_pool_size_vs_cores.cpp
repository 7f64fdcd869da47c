// 29_pool_size_vs_cores: CPU-bound work on Pool(1), Pool(cpu_count()), Pool(2 * cpu_count()); timings, no golden.
//
// Seed lessons: os.cpu_count() in 000_ec46196c2f03f318.txt (multiprocessing
// 模块介绍: Python 中的多线程无法利用多核优势,如果想要充分地使用多核CPU的资源
// (os.cpu_count()查看)... 需要使用多进程 — to use every core, use processes,
// and os.cpu_count() tells how many there are), with 为何要用池 / 什么时候用池
// (why and when to use a pool) in 002_eb024505f4b76b08.txt: a pool caps the
// number of processes, and for computation the right cap is the number of
// cores. The Python original:
//
//   from multiprocessing import Pool
//   import os, time
//
//   def work(n):
//       return sum(i * i for i in range(n))
//
//   if __name__ == '__main__':
//       for size in (1, os.cpu_count(), 2 * os.cpu_count()):
//           start = time.time()
//           with Pool(size) as p:                # Pool() alone means Pool(os.cpu_count())
//               p.map(work, [3_000_000] * 24)
//           print(size, time.time() - start)
//
// What to notice: Pool(cpu_count()) is about cpu_count() times faster than
// Pool(1) on an otherwise idle machine; doubling the pool beyond the cores
// gains nothing (the cores are busy already) and only adds processes — for
// work that waits on IO instead of computing, a larger pool (or threads)
// does help. The times depend on the machine and its load, so this example
// has no golden output (it prints the load average, since other programs
// busy on the cores shrink the gain); it checks only that every pool size
// gives the same answer.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

namespace {

// The primes in [lo, lo + 25000), by trial division: deliberately plain CPU work.
int count_primes(unsigned lo) {
  int n = 0;
  for (unsigned x = lo; x < lo + 25000; ++x) {
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

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const int cores = mpx::cpu_count();
  double load[1] = {0};
  ::getloadavg(load, 1);  // Python: os.getloadavg()[0]
  std::printf("cpu_count() = %d, load average (1 min) = %.2f%s\n", cores, load[0],
              load[0] > 0.5 ? ": other work competes for the cores, expect less gain" : "");
  std::vector<unsigned> blocks;
  for (unsigned i = 0; i < 24; ++i) blocks.push_back(50000000 + i * 25000);

  double base_ms = 0;
  long first_total = -1;
  bool same = true;
  for (int size : {1, cores, 2 * cores}) {
    auto t0 = std::chrono::steady_clock::now();
    long total = 0;
    {
      mpx::Pool p(size);
      for (int n : p.map(count_primes, blocks)) total += n;
    }  // ~Pool: the workers are stopped (included in the time, as Python's with-block)
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (size == 1) base_ms = ms;
    if (first_total < 0) first_total = total;
    same = same && total == first_total;
    std::printf("Pool(%2d): %ld primes in [50000000, 50600000), %7.1f ms, %.1fx Pool(1)'s speed\n", size, total, ms,
                base_ms / ms);
  }
  std::printf("every pool size gave the same answer: %s\n", same ? "yes" : "no");
  return same ? 0 : 1;
}
