// bench/pool/shm_pool.hpp — the limit for pool.* and futures.process.*: a
// minimal process pool over shared memory, without mpx (BASELINES.md B5,
// baseline/c/pool_bench.c, rewritten in C++ with a chunked mode added).
//
//   parent ─► task ring[w] (SPSC, 32-byte slots) ─► worker w (forked)
//   parent ◄─ result ring[w] (SPSC, 16-byte slots) ◄─┘   + a shared `done`
//             counter the parent sleeps on when it has nothing to do
//
// One message per task and one per result (map chunksize=1, submit): the
// task carries x, the worker answers x*x. Chunked (map's default chunking):
// the parent copies the items into a shared input array, a task names a
// chunk [first, first+count), the worker writes x*x into a shared output
// array and answers with one message per chunk; the parent copies the
// results out. Tasks go round robin, at most kCap in flight per worker.
//
// Waiting: Spin — a bounded spin (2000 pauses), then futex, the sleeper
// announcing itself so the fast path makes no syscall (the queue limit's
// ring); Block — futex at once (BASELINES' "shm pool round trip, futex
// (blocking)", 21.7 µs there).
//
// No mpx here.
#pragma once

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bench.hpp"

namespace shmpool {

inline void futex_wait(std::atomic<std::uint64_t>& word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
inline void futex_wake(std::atomic<std::uint64_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

enum class Mode { Spin, Block };

constexpr int kSpin = 2000;

/// Waits until `word` differs from `seen`; returns its new value.
inline std::uint64_t wait_change(Mode mode, std::atomic<std::uint64_t>& word, std::uint64_t seen,
                                 std::atomic<std::uint32_t>& sleepers) {
  if (mode == Mode::Spin) {
    for (int i = 0; i < kSpin; ++i) {
      std::uint64_t v = word.load(std::memory_order_acquire);
      if (v != seen) return v;
      __builtin_ia32_pause();
    }
  }
  for (;;) {
    sleepers.fetch_add(1);  // seq_cst: before the re-check
    std::uint64_t v = word.load();
    if (v == seen) futex_wait(word, static_cast<std::uint32_t>(seen));
    sleepers.fetch_sub(1);
    v = word.load();
    if (v != seen) return v;
  }
}

inline void publish(std::atomic<std::uint64_t>& word, std::uint64_t v, std::atomic<std::uint32_t>& sleepers) {
  word.store(v);  // seq_cst: before reading the sleepers
  if (sleepers.load()) futex_wake(word);
}

inline void* map_shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench::die("mmap");
  return p;
}

constexpr std::uint64_t kCap = 1024;  // slots per ring

struct Task {
  std::uint64_t kind;  // kItem, kChunk, kStop
  std::uint64_t id;
  std::uint64_t a;  // kItem: x; kChunk: first
  std::uint64_t b;  // kChunk: count
};
struct Result {
  std::uint64_t id;
  std::uint64_t value;  // kItem: x*x; kChunk: count
};
enum : std::uint64_t { kItem = 1, kChunk = 2, kStop = 3 };

template <class Slot>
struct Ring {
  alignas(64) std::atomic<std::uint64_t> head;  // slots published; low word: futex
  alignas(64) std::atomic<std::uint32_t> cons_sleepers;
  alignas(64) std::atomic<std::uint64_t> tail;  // slots consumed (the producer never waits on it: kCap credit)
  alignas(64) Slot slots[kCap];
};

struct Shared {
  alignas(64) std::atomic<std::uint64_t> done;  // results published by all workers; low word: futex
  alignas(64) std::atomic<std::uint32_t> parent_sleepers;
};

class Pool {
 public:
  static constexpr int kMaxWorkers = 8;

  /// Forks `workers` processes; `max_items` bounds the chunked mode's arrays.
  Pool(int workers, Mode mode, std::size_t max_items) : n_(workers), mode_(mode), max_items_(max_items) {
    sh_ = new (map_shared(sizeof(Shared))) Shared{};
    in_ = static_cast<std::uint64_t*>(map_shared(max_items_ * sizeof(std::uint64_t) + 64));
    out_ = static_cast<std::uint64_t*>(map_shared(max_items_ * sizeof(std::uint64_t) + 64));
    for (int w = 0; w < n_; ++w) {
      task_[w] = new (map_shared(sizeof(Ring<Task>))) Ring<Task>{};
      result_[w] = new (map_shared(sizeof(Ring<Result>))) Ring<Result>{};
    }
    for (int w = 0; w < n_; ++w) {
      pid_t pid = fork();
      if (pid < 0) bench::die("fork");
      if (pid == 0) worker_loop(w);
      pid_[w] = pid;
    }
  }

  ~Pool() {
    for (int w = 0; w < n_; ++w) send(w, Task{kStop, 0, 0, 0});
    for (int w = 0; w < n_; ++w) bench::wait_ok(pid_[w]);
    for (int w = 0; w < n_; ++w) {
      munmap(task_[w], sizeof(Ring<Task>));
      munmap(result_[w], sizeof(Ring<Result>));
    }
    munmap(in_, max_items_ * sizeof(std::uint64_t) + 64);
    munmap(out_, max_items_ * sizeof(std::uint64_t) + 64);
    munmap(sh_, sizeof(Shared));
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// x*x over 0..n-1, one message per task and per result; tasks/s.
  double map_one_by_one(std::uint64_t n) {
    std::uint64_t next = 0, received = 0, sum = 0;
    const long long t0 = bench::now_ns();
    while (received < n) {
      const std::uint64_t done_seen = sh_->done.load();
      bool progress = false;
      for (int w = 0; w < n_; ++w) {
        while (next < n && sent_[w] - got_[w] < kCap) {
          send(w, Task{kItem, next, next, 0});
          ++next;
          progress = true;
        }
      }
      const std::uint64_t c = collect(sum);
      received += c;
      if (!c && received < n && !progress) wait_change(mode_, sh_->done, done_seen, sh_->parent_sleepers);
    }
    const double s = bench::seconds_since(t0);
    check(n, sum);
    return static_cast<double>(n) / s;
  }

  /// x*x over the n items of `items` in chunks of `chunksize` (one message
  /// per chunk each way, items and results through shared arrays); tasks/s.
  double map_chunked(const std::vector<std::uint64_t>& items, std::uint64_t chunksize,
                     std::vector<std::uint64_t>& out) {
    const std::uint64_t n = items.size();
    if (n > max_items_) bench::fail("map_chunked: more items than the pool was made for");
    const std::uint64_t chunks = (n + chunksize - 1) / chunksize;
    std::uint64_t next = 0, received = 0, sum = 0;
    const long long t0 = bench::now_ns();
    std::memcpy(in_, items.data(), n * sizeof(std::uint64_t));
    while (received < chunks) {
      const std::uint64_t done_seen = sh_->done.load();
      bool progress = false;
      for (int w = 0; w < n_; ++w) {
        if (next < chunks && sent_[w] - got_[w] < kCap) {
          const std::uint64_t first = next * chunksize;
          send(w, Task{kChunk, next, first, std::min(chunksize, n - first)});
          ++next;
          progress = true;
        }
      }
      const std::uint64_t c = collect(sum);
      received += c;
      if (!c && received < chunks && !progress) wait_change(mode_, sh_->done, done_seen, sh_->parent_sleepers);
    }
    out.resize(n);
    std::memcpy(out.data(), out_, n * sizeof(std::uint64_t));
    const double s = bench::seconds_since(t0);
    if (sum != n) bench::fail("map_chunked: lost items");
    for (std::uint64_t i = 0; i < n; ++i) {
      if (out[i] != items[i] * items[i]) bench::fail("map_chunked: wrong result");
    }
    return static_cast<double>(n) / s;
  }

  /// One task at a time, round robin over the workers: send, wait for its
  /// result; µs per round trip.
  double round_trip_us(std::uint64_t n) {
    std::uint64_t sum = 0;
    const long long t0 = bench::now_ns();
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t done_seen = sh_->done.load();
      send(static_cast<int>(i % static_cast<std::uint64_t>(n_)), Task{kItem, i, i, 0});
      while (!collect(sum)) done_seen = wait_change(mode_, sh_->done, done_seen, sh_->parent_sleepers);
    }
    const double s = bench::seconds_since(t0);
    check(n, sum);
    return s / static_cast<double>(n) * 1e6;
  }

 private:
  static void check(std::uint64_t n, std::uint64_t sum) {
    std::uint64_t expect = 0;
    for (std::uint64_t i = 0; i < n; ++i) expect += i * i;
    if (sum != expect) bench::fail("shm pool: wrong results");
  }

  [[noreturn]] void worker_loop(int w) {
    Ring<Task>* in = task_[w];
    Ring<Result>* out = result_[w];
    std::uint64_t t = 0, head_seen = 0, rh = 0;
    for (;;) {
      if (t == head_seen) {
        head_seen = in->head.load(std::memory_order_acquire);
        if (t == head_seen) head_seen = wait_change(mode_, in->head, t, in->cons_sleepers);
      }
      const Task task = in->slots[t % kCap];
      ++t;
      in->tail.store(t, std::memory_order_release);
      if (task.kind == kStop) _exit(0);
      Result r{task.id, 0};
      if (task.kind == kItem) {
        r.value = task.a * task.a;
      } else {
        for (std::uint64_t i = task.a; i < task.a + task.b; ++i) out_[i] = in_[i] * in_[i];
        r.value = task.b;
      }
      out->slots[rh % kCap] = r;
      ++rh;
      out->head.store(rh, std::memory_order_release);
      sh_->done.fetch_add(1);  // seq_cst RMW, before the sleepers check
      if (sh_->parent_sleepers.load()) futex_wake(sh_->done);
    }
  }

  void send(int w, const Task& t) {
    Ring<Task>* r = task_[w];
    r->slots[task_head_[w] % kCap] = t;
    ++task_head_[w];
    ++sent_[w];
    publish(r->head, task_head_[w], r->cons_sleepers);
  }

  // Drains every available result; returns how many. kItem results add
  // x*x to `sum`, kChunk results their item count.
  std::uint64_t collect(std::uint64_t& sum) {
    std::uint64_t c = 0;
    for (int w = 0; w < n_; ++w) {
      const std::uint64_t head = result_[w]->head.load(std::memory_order_acquire);
      while (result_tail_[w] != head) {
        const Result r = result_[w]->slots[result_tail_[w] % kCap];
        sum += r.value;
        ++result_tail_[w];
        ++got_[w];
        ++c;
      }
    }
    return c;
  }

  int n_;
  Mode mode_;
  std::size_t max_items_;
  Shared* sh_ = nullptr;
  std::uint64_t* in_ = nullptr;
  std::uint64_t* out_ = nullptr;
  Ring<Task>* task_[kMaxWorkers] = {};
  Ring<Result>* result_[kMaxWorkers] = {};
  std::uint64_t task_head_[kMaxWorkers] = {}, result_tail_[kMaxWorkers] = {};
  std::uint64_t sent_[kMaxWorkers] = {}, got_[kMaxWorkers] = {};
  pid_t pid_[kMaxWorkers] = {};
};

}  // namespace shmpool
