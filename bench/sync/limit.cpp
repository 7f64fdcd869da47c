// sync.*, the limit: the raw mechanisms without mpx (BASELINES.md B4 and A3).
//
//   sync.lock.uncontended       a PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST
//                               mutex in a MAP_SHARED page, lock+unlock, ns
//   sync.lock.contended.2proc   two processes lock+unlock that mutex, ops/s
//   sync.value.increment.2proc  two processes increment one shared long
//                               under it, ops/s
//   sync.event.pingpong.2proc   two processes hand a turn back and forth on
//                               two futex words (wait + wake each way), µs
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "bench.hpp"

namespace {

struct Shared {
  pthread_mutex_t mutex;
  alignas(64) long value;
  alignas(64) std::atomic<std::uint32_t> ping;
  alignas(64) std::atomic<std::uint32_t> pong;
};

Shared* map_shared() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench::die("mmap");
  auto* sh = new (p) Shared{};
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (int rc = pthread_mutex_init(&sh->mutex, &a); rc != 0) {
    errno = rc;
    bench::die("pthread_mutex_init");
  }
  pthread_mutexattr_destroy(&a);
  return sh;
}

inline void lock(pthread_mutex_t* m) {
  int rc = pthread_mutex_lock(m);
  if (rc == EOWNERDEAD) {
    pthread_mutex_consistent(m);
  } else if (rc != 0) {
    errno = rc;
    bench::die("pthread_mutex_lock");
  }
}

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

double ns_uncontended(Shared* sh, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    lock(&sh->mutex);
    pthread_mutex_unlock(&sh->mutex);
  }
  return static_cast<double>(bench::now_ns() - t0) / static_cast<double>(n);
}

// Both processes run `body` n/2 times, from a go byte to the last one done.
template <class Body>
double two_process_rate(long n, Body body) {
  long per = n / 2;
  int go[2], done[2];
  if (pipe(go) != 0 || pipe(done) != 0) bench::die("pipe");
  pid_t pid = fork();
  if (pid < 0) bench::die("fork");
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(3);
    for (long i = 0; i < per; ++i) body();
    if (write(done[1], "d", 1) != 1) _exit(4);
    _exit(0);
  }
  long long t0 = bench::now_ns();
  if (write(go[1], "g", 1) != 1) bench::die("write");
  for (long i = 0; i < per; ++i) body();
  char c;
  if (read(done[0], &c, 1) != 1) bench::die("read");
  double s = bench::seconds_since(t0);
  bench::wait_ok(pid);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
  return static_cast<double>(2 * per) / s;
}

double us_pingpong(Shared* sh, long n) {
  sh->ping.store(0);
  sh->pong.store(0);
  int go[2];
  if (pipe(go) != 0) bench::die("pipe");
  pid_t pid = fork();
  if (pid < 0) bench::die("fork");
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(3);
    for (std::uint32_t i = 1; i <= static_cast<std::uint32_t>(n); ++i) {
      std::uint32_t cur;
      while ((cur = sh->ping.load()) != i) futex_wait(sh->ping, cur);
      sh->pong.store(i);
      futex_wake(sh->pong);
    }
    _exit(0);
  }
  long long t0 = bench::now_ns();
  if (write(go[1], "g", 1) != 1) bench::die("write");
  for (std::uint32_t i = 1; i <= static_cast<std::uint32_t>(n); ++i) {
    sh->ping.store(i);
    futex_wake(sh->ping);
    std::uint32_t cur;
    while ((cur = sh->pong.load()) != i) futex_wait(sh->pong, cur);
  }
  double us = bench::seconds_since(t0) * 1e6 / static_cast<double>(n);
  bench::wait_ok(pid);
  close(go[0]);
  close(go[1]);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  Shared* sh = map_shared();

  if (const char* name = "sync.lock.uncontended"; args.wants(name)) {
    long n = args.count(name, 20000000);
    bench::emit(
        name, "ns",
        bench::repeat(
            args.reps(), [&] { return ns_uncontended(sh, n / 10 + 1); }, [&] { return ns_uncontended(sh, n); }));
  }
  if (const char* name = "sync.lock.contended.2proc"; args.wants(name)) {
    long n = args.count(name, 40000000);
    auto rate = [&](long count) {
      return two_process_rate(count, [&] {
        lock(&sh->mutex);
        pthread_mutex_unlock(&sh->mutex);
      });
    };
    bench::emit(name, "ops/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 2); }, [&] { return rate(n); }));
  }
  if (const char* name = "sync.value.increment.2proc"; args.wants(name)) {
    long n = args.count(name, 20000000);
    auto rate = [&](long count) {
      sh->value = 0;
      double r = two_process_rate(count, [&] {
        lock(&sh->mutex);
        ++sh->value;
        pthread_mutex_unlock(&sh->mutex);
      });
      if (sh->value != count / 2 * 2) bench::fail("lost increments: " + std::to_string(sh->value));
      return r;
    };
    bench::emit(name, "ops/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 2); }, [&] { return rate(n); }));
  }
  if (const char* name = "sync.event.pingpong.2proc"; args.wants(name)) {
    long n = args.count(name, 50000);
    bench::emit(name, "us",
                bench::repeat(
                    args.reps(), [&] { return us_pingpong(sh, n / 10 + 1); }, [&] { return us_pingpong(sh, n); }));
  }
  return 0;
}
