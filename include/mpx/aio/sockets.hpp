// mpx/aio/sockets.hpp — asyncio's loop.sock_* coroutines: plain non-blocking
// mpx::net::Socket operations awaited on the running loop.
//
//   net::Socket s(AF_INET, SOCK_STREAM);
//   s.setblocking(false);                              // required, as in asyncio
//   net::Address to = net::InetAddress{"127.0.0.1", port};
//   co_await aio::sock_connect(s, to);
//   co_await aio::sock_sendall(s, "ping");
//   mpx::Bytes reply = co_await aio::sock_recv(s, 1024);
//
// Each call tries the operation once, and only if it would block waits for
// readiness with loop.add_reader / add_writer (level-triggered), exactly as
// asyncio's selector loop does; the wait is removed before the task resumes,
// also when it is cancelled, so a new call on the same socket may follow at
// once. One reader and one writer per socket at a time (a second concurrent
// reader replaces the first's wait, as in asyncio).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

#include "mpx/aio/task.hpp"
#include "mpx/net/socket.hpp"

namespace mpx::aio {

/// Python: loop.sock_recv(sock, nbytes) — up to `nbytes` bytes, empty at EOF.
/// Throws: ValueError if `sock` is blocking; ConnectionResetError, OSError.
Task<Bytes> sock_recv(net::Socket& sock, std::size_t nbytes);
/// Python: loop.sock_recv_into(sock, buf) -> bytes received (0 at EOF).
/// `buf` must stay valid until the call completes. Throws: as sock_recv.
Task<std::size_t> sock_recv_into(net::Socket& sock, std::span<std::byte> buf);
/// Python: loop.sock_sendall(sock, data) — all of `data` (valid until the
/// call completes). Cancelled midway, an unknown prefix has been sent.
/// Throws: ValueError if `sock` is blocking; BrokenPipeError, ConnectionResetError, OSError.
Task<> sock_sendall(net::Socket& sock, std::span<const std::byte> data);
Task<> sock_sendall(net::Socket& sock, std::string_view data);
/// Python: loop.sock_accept(sock) -> (conn, address); conn is non-blocking.
/// Throws: ValueError if `sock` is blocking; OSError.
Task<std::pair<net::Socket, net::Address>> sock_accept(net::Socket& sock);
/// Python: loop.sock_connect(sock, address).
/// Pass a named Address: g++ 12 destroys a converted temporary argument of a
/// coroutine twice (`sock_connect(s, InetAddress{...})` crashes when built with it).
/// Throws: ValueError if `sock` is blocking; ConnectionRefusedError, OSError.
Task<> sock_connect(net::Socket& sock, const net::Address& address);

namespace detail {
/// Resumes when `fd` is readable (EV_READ) or writable (EV_WRITE): the same
/// level watch as the sock_* calls, for descriptors that are not sockets
/// (socketserver's Aio policy waits on its stop eventfd with it).
Task<> wait_fd(int fd, int events);
}  // namespace detail

}  // namespace mpx::aio
