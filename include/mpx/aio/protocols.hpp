// mpx/aio/protocols.hpp — asyncio's Protocol/Transport layer and servers.
//
//   struct Echo : aio::Protocol {
//     aio::Transport* t = nullptr;
//     void connection_made(aio::Transport& tr) override { t = &tr; }
//     void data_received(std::span<const std::byte> d) override { t->write(d); }
//   };
//   aio::Server s = co_await aio::create_server([] { return std::make_unique<Echo>(); },
//                                               "127.0.0.1", 0);
//   co_await s.serve_forever();
//
// The fastest way to speak TCP on the loop: callbacks, no coroutine per
// read. Streams (streams.hpp) are a Protocol over the same transport.
//
//   socket transport, one per connection (src/aio/transport.cpp):
//     readable ─► recv into the loop's buffer until EAGAIN or a short read
//                 ─► protocol.data_received(span)   (valid during the call)
//     write(d) ─► send at once; what the kernel does not take is buffered,
//                 flushed when writable; above the high-water mark
//                 protocol.pause_writing(), below the low one resume_writing()
//     EOF      ─► eof_received(): false closes, true keeps writing possible
//     reset / error ─► connection_lost(exception); the descriptor is closed
//                 right after connection_lost, whatever the peer did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpx/aio/future.hpp"
#include "mpx/aio/task.hpp"
#include "mpx/net/socket.hpp"

namespace mpx::aio {

class Transport;

/// Python: asyncio.Protocol. Every callback runs on the loop's thread.
class Protocol {
 public:
  virtual ~Protocol() = default;
  /// Python: connection_made(transport) — the transport outlives every later callback.
  virtual void connection_made(Transport& transport) { (void)transport; }
  /// Python: data_received(data); `data` is valid during the call only.
  virtual void data_received(std::span<const std::byte> data) { (void)data; }
  /// Python: eof_received() -> keep open? (false: the transport closes itself).
  virtual bool eof_received() { return false; }
  /// Python: connection_lost(exc) — null for a clean close, else the error
  /// (ConnectionResetError, BrokenPipeError...). Called once.
  virtual void connection_lost(std::exception_ptr exc) { (void)exc; }
  /// Python: pause_writing(), resume_writing() — the write buffer crossed the marks.
  virtual void pause_writing() {}
  virtual void resume_writing() {}
};

/// Python: asyncio.Transport (the socket transport).
class Transport {
 public:
  virtual ~Transport() = default;
  /// Python: write(data) — never blocks; what the kernel does not take now is buffered.
  /// Throws: RuntimeError after write_eof().
  virtual void write(std::span<const std::byte> data) = 0;
  void write(std::string_view s) { write(std::as_bytes(std::span(s.data(), s.size()))); }
  /// Python: write_eof() — shuts the write side once the buffer is flushed.
  virtual void write_eof() = 0;
  virtual bool can_write_eof() const noexcept { return true; }
  /// Python: close() — flushes the buffer, then closes; connection_lost(null) follows.
  virtual void close() = 0;
  /// Python: abort() — closes now, dropping the buffer.
  virtual void abort() = 0;
  /// Python: is_closing().
  virtual bool is_closing() const noexcept = 0;
  /// Python: pause_reading(), resume_reading(), is_reading().
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  virtual bool is_reading() const noexcept = 0;
  /// Python: get_write_buffer_size(), set_write_buffer_limits(high, low), get_write_buffer_limits().
  virtual std::size_t get_write_buffer_size() const noexcept = 0;
  virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                       std::optional<std::size_t> low = std::nullopt) = 0;
  virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept = 0;
  /// Python: get_extra_info('peername' / 'sockname' / 'socket').fileno().
  virtual net::Address get_peername() const = 0;
  virtual net::Address get_sockname() const = 0;
  virtual int fileno() const noexcept = 0;
  virtual Protocol& get_protocol() noexcept = 0;
};

using ProtocolFactory = std::function<std::unique_ptr<Protocol>()>;

/// Keyword arguments of create_server / start_server.
struct ServerOptions {
  /// listen() backlog; unset: SOMAXCONN.
  std::optional<int> backlog = std::nullopt;
  bool reuse_port = false;
  /// Python: start_serving=True — accept at once, not only in serve_forever().
  bool start_serving = true;
};

namespace detail {
class ServerState;
}

/// Python: asyncio.Server. A handle (copies share the server); the loop keeps
/// a server serving when every handle is gone, and closes it with the loop.
class Server {
 public:
  explicit Server(std::shared_ptr<detail::ServerState> st) : st_(std::move(st)) {}
  /// Python: close() — stops listening (the connections stay open).
  void close();
  /// Python 3.12: wait_closed() — after close(), until every connection is closed.
  Task<> wait_closed();
  /// Python: serve_forever() — accepts until closed or cancelled.
  /// Throws: CancelledError when the server is closed or the task cancelled (the server is then closed).
  Task<> serve_forever();
  /// Python: start_serving(), is_serving().
  void start_serving();
  bool is_serving() const noexcept;
  /// Python: [s.getsockname() for s in server.sockets].
  std::vector<net::Address> sockets() const;
  /// The port of the first listening socket (the one picked for port 0).
  std::uint16_t port() const;
  /// Connections accepted and not yet closed.
  std::size_t active_count() const noexcept;

 private:
  std::shared_ptr<detail::ServerState> st_;
};

/// Python: loop.create_server(protocol_factory, host, port) on the running loop.
/// Throws: OSError (EADDRINUSE...).
Task<Server> create_server(ProtocolFactory factory, std::string host, std::uint16_t port, ServerOptions options = {});
/// Python: loop.create_unix_server(protocol_factory, path). Throws: OSError.
Task<Server> create_unix_server(ProtocolFactory factory, std::string path, ServerOptions options = {});
/// Python: loop.create_server(protocol_factory, sock=sock) — serves a socket
/// already bound and listening (TCP or Unix); the server owns it from now on
/// and makes it non-blocking. options.backlog and reuse_port are not used.
Task<Server> create_server(ProtocolFactory factory, net::Socket sock, ServerOptions options = {});

/// What create_connection gives: the transport (shared with the loop until
/// closed) and the protocol it owns.
struct Connection {
  std::shared_ptr<Transport> transport;
  Protocol* protocol;
};
/// Python: loop.create_connection(protocol_factory, host, port) — a
/// non-blocking connect awaited on the loop (a host name is resolved
/// synchronously). Throws: ConnectionRefusedError, OSError.
Task<Connection> create_connection(ProtocolFactory factory, std::string host, std::uint16_t port);
/// Python: loop.create_unix_connection(protocol_factory, path).
Task<Connection> create_unix_connection(ProtocolFactory factory, std::string path);

/// Python: loop.sock_connect(sock, address) on a non-blocking socket.
/// Pass a named Address: g++ 12 destroys a converted temporary argument of a
/// coroutine twice (`sock_connect(s, InetAddress{...})` crashes when built with it).
/// Throws: ConnectionRefusedError, OSError.
Task<> sock_connect(net::Socket& sock, const net::Address& address);

namespace detail {
/// Awaitable: resumes when `fd` is readable / writable (a level watch for
/// the duration of the wait; Python's add_reader + future + remove_reader).
Task<> wait_fd(int fd, int events);
/// Wraps a connected socket in a transport on `loop`; connection_made is
/// called before this returns.
std::shared_ptr<Transport> make_transport(EventLoop& loop, net::Socket sock, std::unique_ptr<Protocol> protocol,
                                          std::function<void()> on_lost = {});
}  // namespace detail

}  // namespace mpx::aio
