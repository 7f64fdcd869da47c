// threading.*, the limit: the C++ standard library (BASELINES.md B6).
//
//   threading.lock.uncontended     std::mutex lock()+unlock(), ns
//   threading.condition.pingpong   two threads pass a turn with one std::mutex
//                                  and one std::condition_variable, µs per round trip
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bench.hpp"

namespace {

double ns_uncontended(std::mutex& m, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    m.lock();
    m.unlock();
  }
  return static_cast<double>(bench::now_ns() - t0) / static_cast<double>(n);
}

double us_pingpong(long n) {
  std::mutex m;
  std::condition_variable cv;
  long turn = 0;
  auto play = [&](long parity) {
    for (long i = 0; i < n; ++i) {
      std::unique_lock hold(m);
      cv.wait(hold, [&] { return turn % 2 == parity; });
      ++turn;
      cv.notify_one();
    }
  };
  std::thread other(play, 1L);
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
    std::mutex m;
    bench::emit(name, "ns",
                bench::repeat(
                    args.reps(), [&] { return ns_uncontended(m, n / 10 + 1); }, [&] { return ns_uncontended(m, n); }));
  }
  if (const char* name = "threading.condition.pingpong"; args.wants(name)) {
    long n = args.count(name, 50000);
    bench::emit(name, "us",
                bench::repeat(
                    args.reps(), [&] { return us_pingpong(n / 10 + 1); }, [&] { return us_pingpong(n); }));
  }
  return 0;
}
