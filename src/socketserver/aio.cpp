// Aio: connections served by coroutines on an mpx::aio loop.
//
//   processes = 0                          processes = N (Prefork's master and workers)
//   ─────────────                          ─────────────────────────────────────────────
//   serve_forever's thread runs a loop:    each worker runs a loop:
//     accept on (a dup of) the socket        accept on the server's socket (inherited)
//     until shutdown()'s eventfd fires;      and on its own SO_REUSEPORT socket (TCP),
//     open connections close with it         until the lifeline reaches EOF; then
//                                            stops accepting and lets its connections end
#include <sys/socket.h>

#include <vector>

#include "mpx/aio.hpp"
#include "mpx/socketserver.hpp"

namespace mpx::socketserver {

namespace detail {
aio::Task<> serve_aio(std::unique_ptr<AioRequestHandler> h, aio::StreamReader reader, aio::StreamWriter writer,
                      BaseServer* server) {
  h->server = server;
  try {
    h->client_address = writer.get_peername();
  } catch (const OSError&) {  // the client left already; handle() will see EOF
  }
  try {
    co_await h->handle(std::move(reader), writer);
  } catch (const std::exception&) {
    Request none;
    server->handle_error(none, h->client_address);
  }
}
}  // namespace detail

Aio::Aio(detail::TransportInfo transport, net::Address address, AioHandlerClass handler, bool bind_and_activate)
    : Prefork(transport, std::move(address), HandlerClass{}, false), aio_handler_(std::move(handler)) {
  // The workers' own sockets join the server's port: it must allow them.
  allow_reuse_port = transport.family != AF_UNIX;
  if (bind_and_activate) {
    try {
      server_bind();
      server_activate();
    } catch (...) {
      BaseServer::server_close();
      throw;
    }
  }
}

void Aio::serve_starting() {
  if (processes > 0) Prefork::serve_starting();
}

void Aio::serve_stopping() {
  if (processes > 0) Prefork::serve_stopping();
}

void Aio::serve_loop(std::chrono::nanoseconds poll_interval) {
  if (processes > 0) {
    BaseServer::serve_loop(poll_interval);  // the master watches its workers
    return;
  }
  aio::run(run(wakeup_fd(), false, false), loop_options);
  drain_wakeup();
}

void Aio::worker_main() { aio::run(run(lifeline_fd(), socket.family() != AF_UNIX, true), loop_options); }

aio::Task<> Aio::run(int stop_fd, bool own_socket, bool graceful) {
  aio::ClientConnected cb = [this](aio::StreamReader reader, aio::StreamWriter writer) {
    return aio_handler_(std::move(reader), std::move(writer), *this);
  };
  std::vector<aio::Server> servers;
  // A duplicate: the aio server owns and closes what it serves; the
  // server's socket stays the BaseServer's.
  mpx::detail::Fd borrowed(socket.fileno());
  mpx::detail::Fd copy = borrowed.dup();
  borrowed.release();
  net::Socket shared = net::Socket::adopt(copy.release());
  servers.push_back(co_await aio::start_server(cb, std::move(shared)));
  if (own_socket) {
    net::Socket own(socket.family(), socket.type());
    own.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    own.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
    own.bind(server_address);
    own.listen(request_queue_size);
    servers.push_back(co_await aio::start_server(cb, std::move(own)));
  }
  co_await aio::detail::wait_fd(stop_fd, aio::detail::EV_READ);
  for (auto& s : servers) s.close();
  if (graceful) {
    for (auto& s : servers) co_await s.wait_closed();
  }
}

}  // namespace mpx::socketserver
