// Threading: Python's ThreadingMixIn — a thread per request.
#include "mpx/socketserver.hpp"
#include "socketserver/thread_set.hpp"

namespace mpx::socketserver {

namespace detail {
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
// block_on_close said, the non-daemon threads are joined here.
Threading::~Threading() { threads_->join_all(); }

void Threading::process_request(Request& request, const net::Address& client_address) {
  threads_->start([this, request = std::move(request),
                   client_address]() mutable { detail::serve_one(*this, request, client_address); },
                  daemon_threads);
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
