// sync.lock.*, the peer Boost.Interprocess: interprocess_mutex in a
// MAP_SHARED page (what a C++ user picks from Debian instead of mpx). In
// Boost 1.74 it is a PTHREAD_PROCESS_SHARED mutex without PTHREAD_MUTEX_ROBUST:
// a holder killed with SIGKILL leaves it locked for ever (PEERS.md).
//
//   sync.lock.uncontended       lock()+unlock(), one process, ns
//   sync.lock.contended.2proc   two processes lock()+unlock() one mutex, ops/s
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <new>

#include "bench.hpp"

namespace {

using boost::interprocess::interprocess_mutex;

interprocess_mutex* map_mutex() {
  void* p = mmap(nullptr, sizeof(interprocess_mutex), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) bench::die("mmap");
  return new (p) interprocess_mutex;
}

double ns_uncontended(interprocess_mutex& m, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    m.lock();
    m.unlock();
  }
  return static_cast<double>(bench::now_ns() - t0) / static_cast<double>(n);
}

double contended_rate(interprocess_mutex& m, long n) {
  long per = n / 2;
  int go[2], done[2];
  if (pipe(go) != 0 || pipe(done) != 0) bench::die("pipe");
  auto body = [&] {
    for (long i = 0; i < per; ++i) {
      m.lock();
      m.unlock();
    }
  };
  pid_t pid = fork();
  if (pid < 0) bench::die("fork");
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(3);
    body();
    if (write(done[1], "d", 1) != 1) _exit(4);
    _exit(0);
  }
  long long t0 = bench::now_ns();
  if (write(go[1], "g", 1) != 1) bench::die("write");
  body();
  char c;
  if (read(done[0], &c, 1) != 1) bench::die("read");
  double s = bench::seconds_since(t0);
  bench::wait_ok(pid);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
  return static_cast<double>(2 * per) / s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  interprocess_mutex& m = *map_mutex();
  if (const char* name = "sync.lock.uncontended"; args.wants(name)) {
    long n = args.count(name, 20000000);
    bench::emit(name, "ns",
                bench::repeat(
                    args.reps(), [&] { return ns_uncontended(m, n / 10 + 1); }, [&] { return ns_uncontended(m, n); }));
  }
  if (const char* name = "sync.lock.contended.2proc"; args.wants(name)) {
    long n = args.count(name, 40000000);
    bench::emit(name, "ops/s",
                bench::repeat(
                    args.reps(), [&] { return contended_rate(m, n / 10 + 2); }, [&] { return contended_rate(m, n); }));
  }
  return 0;
}
