// 61_forking_server: ForkingTCPServer serves each connection in a child process.
//
// Seed lesson: sockserver with processes — socketserver.ForkingTCPServer is
// the same server as ThreadingTCPServer with another concurrency policy: a
// child per connection, so a handler that crashes takes only its own
// connection down. In mpx both are one class, Server<TCP, Policy>:
//
//   ThreadingTCPServer = Server<TCP, Threading>
//   ForkingTCPServer   = Server<TCP, Forking>
//
// Python's ForkingMixIn blocks in waitpid once max_children (40) children
// are alive, and the whole server stalls; here each child's pidfd wakes the
// server loop when it exits, so children are reaped at once and the server
// never blocks. The handler uses rfile/wfile (StreamRequestHandler) and
// answers with whether a child, not the server's process, served it.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

#include <mpx/socketserver.hpp>

namespace net = mpx::net;
namespace socketserver = mpx::socketserver;

const int server_pid = ::getpid();

struct Upper : socketserver::StreamRequestHandler {
  void handle() override {
    for (std::string_view line : rfile) {  // Python: for line in self.rfile
      std::string reply(line);
      for (char& c : reply) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
      wfile.write(reply);
      wfile.write(::getpid() != server_pid ? "  (served by a child process)\n" : "  (served by the server)\n");
    }
  }
};

int main() {
  socketserver::ForkingTCPServer server({"127.0.0.1", 0}, socketserver::handler<Upper>());
  std::thread serving([&] { server.serve_forever(); });

  for (int i = 1; i <= 3; ++i) {
    net::Socket client = net::create_connection("127.0.0.1", net::port(server.server_address));
    client.sendall("hello from client " + std::to_string(i) + "\n");
    std::string reply;
    while (std::count(reply.begin(), reply.end(), '\n') < 2) reply += net::as_text(client.recv(1024));
    std::printf("%s", reply.c_str());
    client.shutdown(net::SHUT_WR);  // the child sees EOF and exits
  }
  server.shutdown();
  serving.join();
  server.server_close();  // waits for every child (block_on_close)
  std::printf("children still alive after server_close: %zu\n", server.active_children().size());
  return 0;
}
