// bench/aio/drive.hpp — the aio echo figures and their driver. The load
// client, its invocation and the figure format are bench/net's (drive.hpp
// there); only the figure list differs, and the server may learn its port
// after it starts (an aio server binds inside its loop).
//
//   net.echo.1conn.aio            Protocol echo server, epoll backend
//   net.echo.50conns.aio          Protocol echo server, epoll backend
//   net.echo.50conns.aio_streams  StreamReader/StreamWriter echo, epoll backend
//   *.io_uring                    the same on the io_uring backend
// Python's contenders are asyncio's Protocol and streams servers (python.py);
// the limit is bench/net's C epoll server.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <string>
#include <thread>

#include "../net/drive.hpp"

namespace aiobench {

struct Figure {
  const char* name;
  long conns;
  long default_requests;
};
inline constexpr Figure kFigures[] = {
    {"net.echo.1conn.aio", 1, 50000},
    {"net.echo.50conns.aio", 50, 200000},
    {"net.echo.50conns.aio_streams", 50, 200000},
    {"net.echo.50conns.aio.io_uring", 50, 200000},
    {"net.echo.50conns.aio_streams.io_uring", 50, 200000},
};

inline bool ends_with(const char* s, const char* suffix) {
  std::size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && std::strcmp(s + n - m, suffix) == 0;
}

/// `serve(figure, stop_fd, port_promise)` runs a server until stop_fd is readable.
template <class Serve>
int drive(int argc, char** argv, Serve serve) {
  bench::Args args(argc, argv);
  std::string client = netbench::client_path(argc, argv);
  for (const Figure& f : kFigures) {
    if (!args.wants(f.name)) continue;
    long n = args.count(f.name, f.default_requests);
    int stop[2];
    if (pipe2(stop, O_CLOEXEC) != 0) bench::die("pipe2");
    std::promise<std::uint16_t> port_p;
    auto port_f = port_p.get_future();
    std::thread serving([&] { serve(f, stop[0], port_p); });
    std::uint16_t port = port_f.get();
    auto once = [&](long requests) { return netbench::run_client(client, port, f.conns, requests); };
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

}  // namespace aiobench
