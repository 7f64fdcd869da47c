// bench/net/drive.hpp — what the C++ echo-server contenders share: the
// figures, running the load client against a server, and main()'s loop.
//
// A contender is a Server class: its constructor listens on 127.0.0.1 port
// 0, port() says where, run(stop_fd) serves until stop_fd is readable. The
// server runs in a thread of the contender's process; the main thread only
// waits for the load client (bench_net_load_client, spawned per repetition),
// so the server has a core to itself and the client the other one.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "bench.hpp"

extern char** environ;

namespace netbench {

struct Figure {
  const char* name;
  long conns;
  long default_requests;
};
inline constexpr Figure kFigures[] = {{"net.echo.50conns.select", 50, 200000}, {"net.echo.1conn.select", 1, 50000}};

/// --client PATH (bench/run passes it), else the load client beside this program.
inline std::string client_path(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--client") return argv[i + 1];
  }
  std::string self = argv[0];
  auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/bench_net_load_client";
}

/// One load-client run: its round trips per second.
inline double run_client(const std::string& client, std::uint16_t port, long conns, long requests) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) bench::die("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::string p = std::to_string(port), c = std::to_string(conns), r = std::to_string(requests);
  char* argv[] = {const_cast<char*>(client.c_str()),
                  const_cast<char*>("--port"),
                  p.data(),
                  const_cast<char*>("--conns"),
                  c.data(),
                  const_cast<char*>("--requests"),
                  r.data(),
                  nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, client.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    errno = rc;
    bench::die(("posix_spawn " + client).c_str());
  }
  std::string text;
  char buf[256];
  for (;;) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(out[0]);
  bench::wait_ok(pid);
  double v = std::strtod(text.c_str(), nullptr);
  if (!(v > 0)) bench::fail("the load client printed no figure: " + text);
  return v;
}

template <class Server>
int drive(int argc, char** argv) {
  // bench::Args takes --client as an option it never reads as a number.
  bench::Args args(argc, argv);
  std::string client = client_path(argc, argv);
  for (const Figure& f : kFigures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_requests);
    Server server;
    int stop[2];
    if (pipe2(stop, O_CLOEXEC) != 0) bench::die("pipe2");
    std::thread serving([&] { server.run(stop[0]); });
    auto once = [&](long requests) { return run_client(client, server.port(), f.conns, requests); };
    auto samples = bench::repeat(
        args.reps(), [&] { return once(std::max(n / 10, f.conns)); }, [&] { return once(n); });
    if (write(stop[1], "x", 1) != 1) bench::die("write");
    serving.join();
    close(stop[0]);
    close(stop[1]);
    bench::emit(f.name, "rt/s", samples);
  }
  return 0;
}

}  // namespace netbench
