// queue.*, the limit: what the raw OS offers without mpx (BASELINES.md B3).
//
//   queue.1to1.*        a single-producer single-consumer ring of fixed slots
//                       in a MAP_SHARED mapping, spin (bounded) then futex, the
//                       sleeper announcing itself so the fast path makes no
//                       syscall (baseline/c/spsc_ring.h, mode futex_spin).
//                       4096 slots of 64 B, 256 of 4 KiB, 4 of 1 MiB.
//   queue.2to2.64B      one pipe shared by all four processes: 64-byte writes
//                       and reads are atomic (PIPE_BUF), the kernel is the lock.
//   queue.joinable.64B  the 64 B ring plus one shared unfinished-task counter:
//                       the producer adds one per item, the consumer takes one
//                       per item, the producer waits for zero on its futex.
// Every child waits for a go byte; the clock stops at the last consumer's
// stamp, as in the mpx and Python programs.
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench.hpp"

namespace {

void futex_wait(std::atomic<std::uint64_t>& word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint64_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

struct Ring {
  alignas(64) std::atomic<std::uint64_t> head;  // low word: futex
  alignas(64) std::atomic<std::uint32_t> cons_sleepers;
  alignas(64) std::atomic<std::uint64_t> tail;
  alignas(64) std::atomic<std::uint32_t> prod_sleepers;
  alignas(64) std::atomic<std::uint64_t> unfinished;
  alignas(64) std::atomic<std::uint32_t> join_sleepers;
  alignas(64) long long finished[2];
  unsigned char* slots() { return reinterpret_cast<unsigned char*>(this + 1); }  // the slots follow
};

constexpr int kSpin = 2000;

std::uint64_t wait_change(std::atomic<std::uint64_t>& word, std::uint64_t seen, std::atomic<std::uint32_t>& sleepers) {
  for (int i = 0; i < kSpin; ++i) {
    std::uint64_t v = word.load(std::memory_order_acquire);
    if (v != seen) return v;
    __builtin_ia32_pause();
  }
  for (;;) {
    sleepers.fetch_add(1);
    std::uint64_t v = word.load();
    if (v == seen) futex_wait(word, static_cast<std::uint32_t>(seen));
    sleepers.fetch_sub(1);
    v = word.load();
    if (v != seen) return v;
  }
}

void publish(std::atomic<std::uint64_t>& word, std::uint64_t v, std::atomic<std::uint32_t>& sleepers) {
  word.store(v);
  if (sleepers.load()) futex_wake(word);
}

void* map_shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench::die("mmap");
  return p;
}

int go_pipe[2];
void wait_go() {
  char c;
  if (read(go_pipe[0], &c, 1) != 1) _exit(3);
}

double ring_seconds(std::size_t msg, std::uint64_t cap, std::uint64_t n, bool joinable) {
  std::size_t bytes = sizeof(Ring) + cap * msg;
  auto* r = new (map_shared(bytes)) Ring{};
  if (pipe(go_pipe) != 0) bench::die("pipe");
  pid_t pid = fork();
  if (pid < 0) bench::die("fork");
  if (pid == 0) {  // consumer
    wait_go();
    std::vector<unsigned char> local(msg);
    std::uint64_t t = 0, head_seen = 0;
    while (t < n) {
      if (t == head_seen) {
        head_seen = r->head.load(std::memory_order_acquire);
        if (t == head_seen) head_seen = wait_change(r->head, t, r->cons_sleepers);
      }
      std::memcpy(local.data(), r->slots() + (t % cap) * msg, msg);
      bench::clobber(local.data());
      ++t;
      publish(r->tail, t, r->prod_sleepers);
      if (joinable && r->unfinished.fetch_sub(1) == 1 && r->join_sleepers.load()) futex_wake(r->unfinished);
    }
    r->finished[0] = bench::now_ns();
    _exit(0);
  }
  std::vector<unsigned char> local(msg, 7);
  std::uint64_t tail_seen = 0;
  long long t0 = bench::now_ns();
  if (write(go_pipe[1], "g", 1) != 1) bench::die("write");
  for (std::uint64_t h = 0; h < n; ++h) {
    if (h - tail_seen == cap) {
      tail_seen = r->tail.load(std::memory_order_acquire);
      if (h - tail_seen == cap) tail_seen = wait_change(r->tail, tail_seen, r->prod_sleepers);
    }
    std::memcpy(r->slots() + (h % cap) * msg, local.data(), msg);
    if (joinable) r->unfinished.fetch_add(1);
    publish(r->head, h + 1, r->cons_sleepers);
  }
  if (joinable) {
    for (;;) {
      r->join_sleepers.fetch_add(1);
      std::uint64_t v = r->unfinished.load();
      if (v != 0) futex_wait(r->unfinished, static_cast<std::uint32_t>(v));
      r->join_sleepers.fetch_sub(1);
      if (r->unfinished.load() == 0) break;
    }
  }
  bench::wait_ok(pid);
  double s = static_cast<double>(r->finished[0] - t0) / 1e9;
  close(go_pipe[0]);
  close(go_pipe[1]);
  munmap(r, bytes);
  return s;
}

double pipe_2to2_seconds(long n) {
  auto* r = new (map_shared(sizeof(Ring))) Ring{};
  int q[2];
  if (pipe(q) != 0 || pipe(go_pipe) != 0) bench::die("pipe");
  std::vector<pid_t> pids;
  for (int c = 0; c < 2; ++c) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) {
      wait_go();
      char buf[64];
      for (long i = 0; i < n / 2; ++i) {
        if (read(q[0], buf, 64) != 64) _exit(4);
      }
      r->finished[c] = bench::now_ns();
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (int p = 0; p < 2; ++p) {
    pid_t pid = fork();
    if (pid < 0) bench::die("fork");
    if (pid == 0) {
      wait_go();
      char buf[64];
      std::memset(buf, 'x', sizeof buf);
      for (long i = 0; i < n / 2; ++i) {
        if (write(q[1], buf, 64) != 64) _exit(5);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  long long t0 = bench::now_ns();
  if (write(go_pipe[1], "gggg", 4) != 4) bench::die("write");
  for (pid_t pid : pids) bench::wait_ok(pid);
  double s = static_cast<double>(std::max(r->finished[0], r->finished[1]) - t0) / 1e9;
  for (int fd : {q[0], q[1], go_pipe[0], go_pipe[1]}) close(fd);
  munmap(r, sizeof(Ring));
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  struct Figure {
    const char* name;
    const char* unit;
    std::size_t size;
    std::uint64_t slots;
    long default_n;
  };
  const Figure ring_figures[] = {
      {"queue.1to1.64B", "items/s", 64, 4096, 2000000},
      {"queue.1to1.4KiB", "MB/s", 4096, 256, 500000},
      {"queue.1to1.1MiB", "MB/s", 1 << 20, 4, 2000},
  };
  for (const Figure& f : ring_figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_n);
    auto rate = [&](long count) {
      double s = ring_seconds(f.size, f.slots, static_cast<std::uint64_t>(count), false);
      double items = static_cast<double>(count);
      return std::string(f.unit) == "MB/s" ? items * static_cast<double>(f.size) / s / 1e6 : items / s;
    };
    bench::emit(f.name, f.unit,
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 4); }, [&] { return rate(n); }));
  }
  if (const char* name = "queue.2to2.64B"; args.wants(name)) {
    long n = args.count(name, 2000000) / 2 * 2;
    auto rate = [&](long count) { return static_cast<double>(count) / pipe_2to2_seconds(count); };
    bench::emit(name, "items/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 4); }, [&] { return rate(n); }));
  }
  if (const char* name = "queue.joinable.64B"; args.wants(name)) {
    long n = args.count(name, 1000000);
    auto rate = [&](long count) {
      return static_cast<double>(count) / ring_seconds(64, 4096, static_cast<std::uint64_t>(count), true);
    };
    bench::emit(name, "items/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 4); }, [&] { return rate(n); }));
  }
  return 0;
}
