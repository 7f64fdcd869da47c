// queue.*, the peer Boost.Interprocess: message_queue (a named shared-memory
// queue of fixed-size messages, a mutex and two condition variables in
// /dev/shm), 256 messages deep as in PEERS.md. What a C++ user picks from
// Debian instead of mpx::Queue — and it can hang for ever when a peer is
// killed mid-operation (PEERS.md), which the mpx fault tests show mpx does not.
//
//   queue.1to1.64B    64-byte messages, 1 producer -> 1 consumer, items/s
//   queue.1to1.4KiB   4 KiB messages, MB/s
//   queue.2to2.64B    2 producers -> 2 consumers, items/s
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

namespace bip = boost::interprocess;

double seconds(std::size_t size, int producers, int consumers, long n) {
  const std::string name = "mpx-bench-peer-" + std::to_string(getpid());
  bip::message_queue::remove(name.c_str());
  bip::message_queue q(bip::create_only, name.c_str(), 256, size);
  auto* finished =
      static_cast<long long*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (finished == MAP_FAILED) bench::die("mmap");
  int go[2];
  if (pipe(go) != 0) bench::die("pipe");
  std::vector<pid_t> pids;
  auto spawn = [&](auto body) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) {
      char c;
      if (read(go[0], &c, 1) != 1) _exit(3);
      body();
      _exit(0);
    }
    pids.push_back(pid);
  };
  for (int c = 0; c < consumers; ++c) {
    spawn([&, c] {
      bip::message_queue mq(bip::open_only, name.c_str());
      std::vector<char> buf(size);
      for (long i = 0; i < n / consumers; ++i) {
        std::size_t got = 0;
        unsigned prio = 0;
        mq.receive(buf.data(), size, got, prio);
        if (got != size) _exit(4);
      }
      finished[c] = bench::now_ns();
    });
  }
  for (int p = 0; p < producers; ++p) {
    spawn([&] {
      bip::message_queue mq(bip::open_only, name.c_str());
      std::vector<char> buf(size, 'x');
      for (long i = 0; i < n / producers; ++i) mq.send(buf.data(), size, 0);
    });
  }
  long long t0 = bench::now_ns();
  std::string gos(pids.size(), 'g');
  if (write(go[1], gos.data(), gos.size()) != static_cast<ssize_t>(gos.size())) bench::die("write");
  for (pid_t pid : pids) bench::wait_ok(pid);
  long long t1 = *std::max_element(finished, finished + consumers);
  close(go[0]);
  close(go[1]);
  munmap(finished, 4096);
  bip::message_queue::remove(name.c_str());
  return static_cast<double>(t1 - t0) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  struct Figure {
    const char* name;
    const char* unit;
    std::size_t size;
    int producers, consumers;
    long default_n;
  };
  const Figure figures[] = {
      {"queue.1to1.64B", "items/s", 64, 1, 1, 2000000},
      {"queue.1to1.4KiB", "MB/s", 4096, 1, 1, 500000},
      {"queue.2to2.64B", "items/s", 64, 2, 2, 2000000},
  };
  for (const Figure& f : figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_n);
    auto rate = [&](long count) {
      count = count / (f.producers * f.consumers) * (f.producers * f.consumers);
      double s = seconds(f.size, f.producers, f.consumers, count);
      double items = static_cast<double>(count);
      return std::string(f.unit) == "MB/s" ? items * static_cast<double>(f.size) / s / 1e6 : items / s;
    };
    bench::emit(f.name, f.unit,
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 4); }, [&] { return rate(n); }));
  }
  return 0;
}
