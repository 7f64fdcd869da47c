// queue.* with mpx: mpx::Queue / JoinableQueue between processes started by
// mpx::Process (fork). Every party passes a Barrier, then waits for a go
// Event the parent sets once the clock has started;
// the clock stops at the last consumer's last item (each consumer stamps
// CLOCK_MONOTONIC into shared memory), so process exit is not timed.
//
//   queue.1to1.64B        a 64-byte struct, 1 producer -> 1 consumer, items/s
//   queue.1to1.4KiB       a 4 KiB struct, MB/s
//   queue.1to1.1MiB       a 1 MiB std::string (codec path, fragments through
//                         the default 1 MiB ring), MB/s
//   queue.2to2.64B        2 producers -> 2 consumers, items/s
//   queue.joinable.64B    JoinableQueue: the consumer calls task_done() per
//                         item, the producer ends with join(), items/s
#include <mpx/process.hpp>
#include <mpx/queues.hpp>
#include <mpx/sharedctypes.hpp>
#include <mpx/synchronize.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

template <std::size_t N>
struct Blob {
  char bytes[N];
};

template <class Item>
Item make_item(std::size_t size) {
  if constexpr (std::is_same_v<Item, std::string>) {
    return std::string(size, 'x');
  } else {
    Item item;
    std::fill(std::begin(item.bytes), std::end(item.bytes), 'x');
    return item;
  }
}

template <class Item>
std::size_t item_size(const Item& item) {
  if constexpr (std::is_same_v<Item, std::string>) {
    return item.size();
  } else {
    return sizeof item;
  }
}

// n items from `producers` processes to `consumers` processes; returns seconds.
template <class Item, class Q>
double run(Q& q, int producers, int consumers, long n, std::size_t size, bool joinable) {
  // Everyone is up (the barrier) before the clock starts; then go.
  mpx::Barrier start(static_cast<std::uint32_t>(producers + consumers + 1));
  mpx::Event go;
  mpx::RawArray<long long> finished(static_cast<std::size_t>(consumers));
  const Item payload = make_item<Item>(size);
  std::vector<mpx::Process> procs;
  for (int c = 0; c < consumers; ++c) {
    procs.emplace_back([&, c] {
      start.wait();
      go.wait();
      for (long i = 0; i < n / consumers; ++i) {
        Item item = q.get();
        if (item_size(item) != size) bench::fail("wrong item size");
        if constexpr (requires { q.task_done(); }) {
          if (joinable) q.task_done();
        }
      }
      finished[static_cast<std::size_t>(c)] = bench::now_ns();
    });
  }
  for (int p = 0; p < producers; ++p) {
    procs.emplace_back([&] {
      start.wait();
      go.wait();
      for (long i = 0; i < n / producers; ++i) q.put(payload);
      if constexpr (requires { q.task_done(); }) {
        if (joinable) q.join();
      }
    });
  }
  for (auto& p : procs) p.start();
  start.wait();
  long long t0 = bench::now_ns();
  go.set();
  for (auto& p : procs) {
    p.join();
    if (p.exitcode() != 0) bench::fail("a child exited with " + std::to_string(p.exitcode().value_or(-999)));
  }
  long long t1 = *std::max_element(finished.begin(), finished.end());
  return static_cast<double>(t1 - t0) / 1e9;
}

struct Figure {
  const char* name;
  const char* unit;
  std::size_t size;
  int producers, consumers;
  bool joinable;
  long default_n;
};

template <class Item>
double rate(const Figure& f, long n) {
  double s;
  if (f.joinable) {
    mpx::JoinableQueue<Item> q;
    s = run<Item>(q, f.producers, f.consumers, n, f.size, true);
  } else {
    mpx::Queue<Item> q;
    s = run<Item>(q, f.producers, f.consumers, n, f.size, false);
  }
  double items = static_cast<double>(n / (f.producers * f.consumers) * (f.producers * f.consumers));
  return std::string(f.unit) == "MB/s" ? items * static_cast<double>(f.size) / s / 1e6 : items / s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const Figure figures[] = {
      {"queue.1to1.64B", "items/s", 64, 1, 1, false, 2000000},
      {"queue.1to1.4KiB", "MB/s", 4096, 1, 1, false, 500000},
      {"queue.1to1.1MiB", "MB/s", 1 << 20, 1, 1, false, 2000},
      {"queue.2to2.64B", "items/s", 64, 2, 2, false, 2000000},
      {"queue.joinable.64B", "items/s", 64, 1, 1, true, 1000000},
  };
  for (const Figure& f : figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_n);
    auto once = [&](long count) {
      if (f.size == 64) return rate<Blob<64>>(f, count);
      if (f.size == 4096) return rate<Blob<4096>>(f, count);
      return rate<std::string>(f, count);
    };
    bench::emit(f.name, f.unit,
                bench::repeat(
                    args.reps(), [&] { return once(n / 10 + 4); }, [&] { return once(n); }));
  }
  return 0;
}
