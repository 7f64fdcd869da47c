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

#include <cstring>
#include <future>

#include "../net/drive.hpp"

namespace aiobench {

using Figure = netbench::Figure;
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
  return netbench::drive_served(argc, argv, kFigures, serve);
}

}  // namespace aiobench
