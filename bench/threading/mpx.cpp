// threading.* with mpx: mpx::threading's primitives between threads.
//
//   threading.lock.uncontended     threading::Lock acquire()+release(), ns
//   threading.condition.pingpong   two threads pass a turn with one
//                                  threading::Condition (wait_for a predicate,
//                                  then notify), µs per round trip
#include <mpx/threading.hpp>

#include <mutex>

#include "bench.hpp"

namespace {

namespace threading = mpx::threading;

double ns_uncontended(threading::Lock& lock, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    lock.acquire();
    lock.release();
  }
  return static_cast<double>(bench::now_ns() - t0) / static_cast<double>(n);
}

double us_pingpong(long n) {
  threading::Condition cond;
  long turn = 0;  // even: the main thread's move; odd: the other thread's
  auto play = [&](long parity) {
    for (long i = 0; i < n; ++i) {
      std::scoped_lock hold(cond);
      cond.wait_for([&] { return turn % 2 == parity; });
      ++turn;
      cond.notify();
    }
  };
  threading::Thread other(play, 1L);
  other.start();
  long long t0 = bench::now_ns();
  play(0);
  double us = bench::seconds_since(t0) * 1e6 / static_cast<double>(n);
  other.join();
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  if (const char* name = "threading.lock.uncontended"; args.wants(name)) {
    long n = args.count(name, 20000000);
    threading::Lock lock;
    bench::emit(
        name, "ns",
        bench::repeat(
            args.reps(), [&] { return ns_uncontended(lock, n / 10 + 1); }, [&] { return ns_uncontended(lock, n); }));
  }
  if (const char* name = "threading.condition.pingpong"; args.wants(name)) {
    long n = args.count(name, 50000);
    bench::emit(name, "us",
                bench::repeat(
                    args.reps(), [&] { return us_pingpong(n / 10 + 1); }, [&] { return us_pingpong(n); }));
  }
  return 0;
}
