// The request handler classes: what setup() and finish() do with the files.
#include "mpx/socketserver/handlers.hpp"

#include "mpx/errors.hpp"

namespace mpx::socketserver {

namespace detail {
namespace {
thread_local HandlerContext t_context;
}

HandlerScope::HandlerScope(Request& request, const net::Address& client_address, BaseServer& server) noexcept
    : saved_(t_context) {
  t_context = {&request, &client_address, &server};
}

HandlerScope::~HandlerScope() { t_context = saved_; }

const HandlerContext& bound_context() {
  if (t_context.request == nullptr) {
    throw RuntimeError("a request handler is constructed by its server: pass socketserver::handler<H>() to it");
  }
  return t_context;
}
}  // namespace detail

void BaseRequestHandler::serve() {
  setup();
  try {
    handle();
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

void StreamRequestHandler::setup() {
  if (timeout) request.settimeout(*timeout);
  if (disable_nagle_algorithm && request.family() != net::AF_UNIX)
    request.setsockopt(net::IPPROTO_TCP, net::TCP_NODELAY, 1);
  rfile = SocketReader(request, rbufsize <= 0 ? kDefaultBufferSize : static_cast<std::size_t>(rbufsize));
  wfile = SocketWriter(request, wbufsize <= 0 ? 0 : static_cast<std::size_t>(wbufsize));
  rfile.tie(&wfile);
}

void StreamRequestHandler::finish() {
  wfile.close();  // flushes; a peer that is gone is not an error here (Python)
  rfile.close();
}

void DatagramRequestHandler::setup() {
  rfile = SocketReader(packet);
  wfile = SocketWriter();
}

void DatagramRequestHandler::finish() { socket.sendto(wfile.getvalue(), client_address); }

}  // namespace mpx::socketserver
