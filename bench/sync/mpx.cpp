// sync.* with mpx: the cross-process primitives of mpx/synchronize.hpp and
// mpx/sharedctypes.hpp, used as a Python user would use multiprocessing's.
//
//   sync.lock.uncontended       mpx::Lock acquire()+release(), one process, ns
//   sync.lock.contended.2proc   two processes acquire()+release() one Lock, ops/s
//   sync.value.increment.2proc  two processes run
//                                 { std::scoped_lock hold(v.get_lock()); v = v.value() + 1; }
//                               on one mpx::Value<long> (Python:
//                                 with v.get_lock(): v.value += 1), ops/s
//   sync.event.pingpong.2proc   two mpx::Events, one per direction: set, the
//                               other side waits and clears, µs per round trip
#include <mpx/connection.hpp>
#include <mpx/process.hpp>
#include <mpx/sharedctypes.hpp>
#include <mpx/synchronize.hpp>

#include <mutex>
#include <string>

#include "bench.hpp"

namespace {

double ns_uncontended(mpx::Lock& lock, long n) {
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    lock.acquire();
    lock.release();
  }
  return static_cast<double>(bench::now_ns() - t0) / static_cast<double>(n);
}

void check_exit(mpx::Process& child) {
  child.join();
  if (child.exitcode() != 0) bench::fail("child exited with " + std::to_string(child.exitcode().value_or(-999)));
}

// Both processes run `body` n/2 times, from a go message to the child's done.
template <class Body>
double two_process_rate(long n, Body body) {
  long per = n / 2;
  auto [go_rx, go_tx] = mpx::Pipe(false);
  auto [done_rx, done_tx] = mpx::Pipe(false);
  mpx::Process child([&] {
    go_rx.recv_bytes();
    for (long i = 0; i < per; ++i) body();
    done_tx.send_bytes("d");
  });
  child.start();
  long long t0 = bench::now_ns();
  go_tx.send_bytes("g");
  for (long i = 0; i < per; ++i) body();
  done_rx.recv_bytes();
  double s = bench::seconds_since(t0);
  check_exit(child);
  return static_cast<double>(2 * per) / s;
}

double us_pingpong(long n) {
  mpx::Event ping, pong;
  auto [go_rx, go_tx] = mpx::Pipe(false);
  mpx::Process child([&] {
    go_rx.recv_bytes();
    for (long i = 0; i < n; ++i) {
      ping.wait();
      ping.clear();
      pong.set();
    }
  });
  child.start();
  long long t0 = bench::now_ns();
  go_tx.send_bytes("g");
  for (long i = 0; i < n; ++i) {
    ping.set();
    pong.wait();
    pong.clear();
  }
  double us = bench::seconds_since(t0) * 1e6 / static_cast<double>(n);
  check_exit(child);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);

  if (const char* name = "sync.lock.uncontended"; args.wants(name)) {
    long n = args.count(name, 20000000);
    mpx::Lock lock;
    bench::emit(
        name, "ns",
        bench::repeat(
            args.reps(), [&] { return ns_uncontended(lock, n / 10 + 1); }, [&] { return ns_uncontended(lock, n); }));
  }
  if (const char* name = "sync.lock.contended.2proc"; args.wants(name)) {
    long n = args.count(name, 40000000);
    mpx::Lock lock;
    auto rate = [&](long count) {
      return two_process_rate(count, [&] {
        lock.acquire();
        lock.release();
      });
    };
    bench::emit(name, "ops/s",
                bench::repeat(
                    args.reps(), [&] { return rate(n / 10 + 2); }, [&] { return rate(n); }));
  }
  if (const char* name = "sync.value.increment.2proc"; args.wants(name)) {
    long n = args.count(name, 20000000);
    mpx::Value<long> v(0);
    auto rate = [&](long count) {
      v = 0;
      double r = two_process_rate(count, [&] {
        std::scoped_lock hold(v.get_lock());
        v = v.value() + 1;
      });
      if (v.value() != count / 2 * 2) bench::fail("lost increments: " + std::to_string(v.value()));
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
                    args.reps(), [&] { return us_pingpong(n / 10 + 1); }, [&] { return us_pingpong(n); }));
  }
  return 0;
}
