// bench/socketserver/drive.hpp — the socketserver echo figures: the server
// models of mpx::socketserver (a thread per connection, a process per
// connection, a fixed set of worker processes accepting on one socket),
// measured like every echo server by bench/net's load client (drive.hpp there).
//
//   net.echo.50conns.threading   ThreadingTCPServer
//   net.echo.50conns.forking     ForkingTCPServer
//   net.echo.50conns.prefork     the prefork server (Python has none: its
//                                column is ForkingTCPServer's)
// The limit is bench/net's single-threaded C epoll server.
#pragma once

#include "../net/drive.hpp"

namespace sockserverbench {

inline constexpr netbench::Figure kFigures[] = {
    {"net.echo.50conns.threading", 50, 200000},
    {"net.echo.50conns.forking", 50, 200000},
    {"net.echo.50conns.prefork", 50, 200000},
};

/// `serve(figure, stop_fd, port_promise)` runs a server until stop_fd is readable.
template <class Serve>
int drive(int argc, char** argv, Serve serve) {
  return netbench::drive_served(argc, argv, kFigures, serve);
}

}  // namespace sockserverbench
