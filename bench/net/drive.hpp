// bench/net/drive.hpp — what the C++ echo-server contenders share: the
// figures, running the load client against a server, and main()'s loop.
//
// A contender is a Server class: its constructor listens on 127.0.0.1 port
// 0, port() says where, run(stop_fd) serves until stop_fd is readable. The
// server runs in a thread of the contender's process; the main thread only
// waits for the load client (bench_net_load_client, spawned per repetition),
// so the server has a core to itself and the client the other one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <span>
#include <string>
#include <vector>

#include "bench.hpp"
#include "capture.hpp"
#include "server_thread.hpp"

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
  std::string text = bench::capture({client, "--port", std::to_string(port), "--conns", std::to_string(conns),
                                     "--requests", std::to_string(requests)});
  double v = std::strtod(text.c_str(), nullptr);
  if (!(v > 0)) bench::fail("the load client printed no figure: " + text);
  return v;
}

/// Runs the figures of `figures` the command line names: for each, a fresh
/// server `serve(figure, stop_fd, port)` runs in a thread (it sets `port`
/// once it listens, then serves until stop_fd is readable) while this thread
/// runs the load client once per repetition.
template <class Serve>
int drive_served(int argc, char** argv, std::span<const Figure> figures, Serve serve) {
  // bench::Args takes --client as an option it never reads as a number.
  bench::Args args(argc, argv);
  std::string client = client_path(argc, argv);
  for (const Figure& f : figures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_requests);
    std::vector<double> samples;
    {
      bench::ServerThread server([&](int stop_fd, std::promise<std::uint16_t>& port) { serve(f, stop_fd, port); });
      auto once = [&](long requests) { return run_client(client, server.port(), f.conns, requests); };
      samples = bench::repeat(
          args.reps(), [&] { return once(std::max(n / 10, f.conns)); }, [&] { return once(n); });
    }
    bench::emit(f.name, "rt/s", samples);
  }
  return 0;
}

/// The net.echo.*.select figures against a Server class (see the top).
template <class Server>
int drive(int argc, char** argv) {
  return drive_served(argc, argv, kFigures, [](const Figure&, int stop_fd, std::promise<std::uint16_t>& port) {
    Server server;
    port.set_value(server.port());
    server.run(stop_fd);
  });
}

}  // namespace netbench
