// pipe.* with mpx: a child process sends n messages with send_bytes, the
// parent receives them; throughput = n / (time from the go byte to the last
// message received). Duplex is mpx::Pipe() (a socketpair), simplex
// mpx::Pipe(false) (a pipe), as in Python.
//
// pipe.duplex.1MiB receives with recv_bytes(), the call Python code makes (a
// fresh buffer per message); pipe.duplex.1MiB.into with recv_bytes_into() and
// one reused buffer, the call mpx code should make.
#include <mpx/connection.hpp>
#include <mpx/process.hpp>

#include <span>
#include <vector>

#include "bench.hpp"

namespace {

enum class Recv { bytes, into };

double stream_seconds(bool duplex, std::size_t size, long n, Recv how) {
  auto [rx, tx] = mpx::Pipe(duplex);  // simplex: the first end reads, the second writes
  // The child waits for a go byte, so its start-up is outside the timing.
  auto [go_rx, go_tx] = mpx::Pipe(false);
  std::vector<std::byte> payload(size, std::byte{'x'});
  mpx::Process child([&] {
    go_rx.recv_bytes();
    for (long i = 0; i < n; ++i) tx.send_bytes(payload);
  });
  child.start();
  // Only the child writes: the parent's copy of the write end would keep a
  // pipe from ever reporting EOF if the child died early.
  tx.close();
  go_rx.close();

  std::vector<std::byte> buf(how == Recv::into ? size : 0);
  long long t0 = bench::now_ns();
  go_tx.send_bytes("g");
  for (long i = 0; i < n; ++i) {
    std::size_t got = how == Recv::into ? rx.recv_bytes_into(buf) : rx.recv_bytes().size();
    if (got != size) bench::fail("message of " + std::to_string(got) + " bytes, expected " + std::to_string(size));
  }
  double s = bench::seconds_since(t0);
  child.join();
  if (child.exitcode() != 0) bench::fail("sender exited with " + std::to_string(child.exitcode().value_or(-999)));
  return s;
}

struct Figure {
  const char* name;
  bool duplex;
  std::size_t size;
  Recv how;
  long default_n;
};

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const Figure figures[] = {
      {"pipe.duplex.64B", true, 64, Recv::bytes, 500000},
      {"pipe.duplex.1MiB", true, 1 << 20, Recv::bytes, 2500},
      {"pipe.duplex.1MiB.into", true, 1 << 20, Recv::into, 2500},
      {"pipe.simplex.64B", false, 64, Recv::bytes, 500000},
  };
  for (const Figure& f : figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_n);
    auto rate = [&](long count) { return static_cast<double>(count) / stream_seconds(f.duplex, f.size, count, f.how); };
    auto samples = bench::repeat(
        args.reps(), [&] { return rate(n / 10 + 1); }, [&] { return rate(n); });
    // Small messages are counted, large ones weighed.
    if (f.size >= 4096) {
      for (double& s : samples) s = s * static_cast<double>(f.size) / 1e6;
      bench::emit(f.name, "MB/s", samples);
    } else {
      bench::emit(f.name, "msg/s", samples);
    }
  }
  return 0;
}
