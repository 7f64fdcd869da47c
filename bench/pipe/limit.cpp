// pipe.*, the limit: the same transfer with raw read(2)/write(2) of fixed-size
// messages, no framing, no library (BASELINES.md B2 *_stream_*). Duplex is an
// AF_UNIX socketpair, simplex a pipe(2). The reader reads exactly one message
// per loop into one reused buffer, as a program that knows its message size
// would. No mpx here.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "bench.hpp"

namespace {

void write_all(int fd, const char* p, std::size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      bench::die("write");
    }
    p += w;
    len -= static_cast<std::size_t>(w);
  }
}

void read_all(int fd, char* p, std::size_t len) {
  while (len > 0) {
    ssize_t r = read(fd, p, len);
    if (r < 0) {
      if (errno == EINTR) continue;
      bench::die("read");
    }
    if (r == 0) bench::fail("unexpected EOF");
    p += r;
    len -= static_cast<std::size_t>(r);
  }
}

double stream_seconds(bool duplex, std::size_t size, long n) {
  int ch[2], go[2];
  if (duplex ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) : pipe2(ch, O_CLOEXEC)) bench::die("channel");
  if (pipe2(go, O_CLOEXEC)) bench::die("pipe");
  std::vector<char> buf(size, 'x');
  pid_t pid = fork();
  if (pid < 0) bench::die("fork");
  if (pid == 0) {
    close(ch[0]);
    close(go[1]);
    char c;
    read_all(go[0], &c, 1);  // start-up stays outside the timing
    for (long i = 0; i < n; ++i) write_all(ch[1], buf.data(), size);
    _exit(0);
  }
  close(ch[1]);
  close(go[0]);
  long long t0 = bench::now_ns();
  write_all(go[1], "g", 1);
  for (long i = 0; i < n; ++i) read_all(ch[0], buf.data(), size);
  double s = bench::seconds_since(t0);
  bench::wait_ok(pid);
  close(ch[0]);
  close(go[1]);
  return s;
}

struct Figure {
  const char* name;
  bool duplex;
  std::size_t size;
  long default_n;
};

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  // The .into figure's limit is the same transfer: raw reads never allocate.
  const Figure figures[] = {
      {"pipe.duplex.64B", true, 64, 500000},
      {"pipe.duplex.1MiB", true, 1 << 20, 2500},
      {"pipe.duplex.1MiB.into", true, 1 << 20, 2500},
      {"pipe.simplex.64B", false, 64, 500000},
  };
  for (const Figure& f : figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_n);
    auto rate = [&](long count) { return static_cast<double>(count) / stream_seconds(f.duplex, f.size, count); };
    auto samples = bench::repeat(
        args.reps(), [&] { return rate(n / 10 + 1); }, [&] { return rate(n); });
    if (f.size >= 4096) {
      for (double& s : samples) s = s * static_cast<double>(f.size) / 1e6;
      bench::emit(f.name, "MB/s", samples);
    } else {
      bench::emit(f.name, "msg/s", samples);
    }
  }
  return 0;
}
