// bench/tqueue/item.hpp — what every C++ contender of queue.threads.64B
// sends, and the one-producer-one-consumer run they share, so the programs
// differ only in the queue. No mpx here: the limit and the peers include it.
//
//   queue.threads.64B   one producer thread puts N items of 64 bytes (a
//                       trivially copyable struct) into an unbounded queue,
//                       the main thread gets them; items/s from the go signal
//                       to the last item gotten. The consumer checks the order.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "bench.hpp"

namespace tqueue {

struct Item {
  std::uint64_t seq;
  std::uint64_t payload[7];
};
static_assert(sizeof(Item) == 64);

/// Runs `produce(n)` in a new thread and `consume(n)` in this one, both
/// released by one flag; returns items per second. `consume` returns the
/// number of items that came out of order (must be 0).
template <class Produce, class Consume>
double one_to_one(long n, Produce produce, Consume consume) {
  std::atomic<bool> go{false};
  std::thread producer([&] {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    produce(n);
  });
  long long t0 = bench::now_ns();
  go.store(true, std::memory_order_release);
  long bad = consume(n);
  double s = bench::seconds_since(t0);
  producer.join();
  if (bad != 0) bench::fail("items came out of order");
  return static_cast<double>(n) / s;
}

inline Item make_item(long i) {
  Item it{};
  it.seq = static_cast<std::uint64_t>(i);
  return it;
}

inline int run(int argc, char** argv, double (*rate)(long)) {
  bench::Args args(argc, argv);
  if (const char* name = "queue.threads.64B"; args.wants(name)) {
    long n = args.count(name, 5000000);
    bench::emit(name, "items/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 1); }, [&] { return rate(n); }));
  }
  return 0;
}

}  // namespace tqueue
