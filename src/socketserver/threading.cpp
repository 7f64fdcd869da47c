// Threading: Python's ThreadingMixIn — a thread per request.
#include <sys/socket.h>
#include "mpx/socketserver.hpp"

#include "socketserver/thread_set.hpp"

namespace mpx::socketserver {

namespace detail {
mpx::detail::Fd ThreadSet::duplicate(int fd) {
  mpx::detail::Fd borrowed(fd);
  struct GiveBack {
    mpx::detail::Fd& fd;
    ~GiveBack() { fd.release(); }
  } give_back{borrowed};
  return borrowed.dup();
}

void ThreadSet::shutdown_connection(const mpx::detail::Fd& connection) noexcept {
  // Errors are ENOTCONN (the peer has gone: the handler is leaving anyway)
  // or EBADF/ENOTSOCK, impossible for a descriptor this set owns.
  (void)::shutdown(connection.get(), SHUT_RDWR);
}

bool serve_one(BaseServer& server, Request& request, const net::Address& client_address) {
  bool ok = false;
  try {
    server.finish_request(request, client_address);
    ok = true;
  } catch (const std::exception&) {
    server.handle_error(request, client_address);
  } catch (...) {
    server.shutdown_request(request);
    throw;
  }
  server.shutdown_request(request);
  return ok;
}
}  // namespace detail

Threading::Threading(detail::TransportInfo transport, net::Address address, HandlerClass handler,
                     bool bind_and_activate)
    : BaseServer(transport, std::move(address), std::move(handler), bind_and_activate),
      threads_(std::make_unique<detail::ThreadSet>()) {}

// A thread still running would serve with a destroyed server: whatever
// block_on_close and daemon_threads said, every thread is joined here.
// Server<> has normally done it already (server_close, then join_daemon_threads).
Threading::~Threading() {
  threads_->stop_daemons();
  threads_->join_all();
}

void Threading::join_daemon_threads() { threads_->stop_daemons(); }

void Threading::process_request(Request& request, const net::Address& client_address) {
  int connection_fd = request.is_datagram() ? -1 : request.connection.fileno();
  threads_->start([this, request = std::move(request),
                   client_address]() mutable { detail::serve_one(*this, request, client_address); },
                  daemon_threads, connection_fd);
}

// Python closes the socket first, then joins; a datagram handler still
// replying through the server's socket would then send on a closed (or, once
// the number is reused, a stranger's) descriptor. Joining first costs
// nothing: serve_forever has stopped accepting already.
void Threading::server_close() {
  if (block_on_close) threads_->join_all();
  BaseServer::server_close();
}

}  // namespace mpx::socketserver
