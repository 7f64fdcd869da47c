// 60_socketserver_echo: socketserver's ThreadingTCPServer serves every client at once.
//
// Seed lesson: sockserver — the standard library's answer to "a server that
// supports high concurrency": write only the per-connection handler, and let
// a server class accept and hand each connection to a thread. The Python
// original:
//
//   import socketserver
//   class MyServer(socketserver.BaseRequestHandler):
//       def handle(self):                      # one call per connection
//           while True:
//               try:
//                   data = self.request.recv(1024)
//                   if not data: break
//                   self.request.send(data.upper())
//               except ConnectionResetError:
//                   break
//           self.request.close()
//
//   server = socketserver.ThreadingTCPServer(('127.0.0.1', 8080), MyServer)
//   server.serve_forever()
//
// and the client: connect, then send a line and print the reply, in a loop.
// Unlike the blocking server of 40, three clients stay connected at the same
// time here and all are served. The server picks a free port (port 0); the
// replies are printed after every client is done, so the output is fixed.
#include <array>
#include <cstdio>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <mpx/socketserver.hpp>

namespace net = mpx::net;
namespace socketserver = mpx::socketserver;

// Python: class MyServer(socketserver.BaseRequestHandler)
struct MyServer : socketserver::BaseRequestHandler {
  void handle() override {
    for (;;) {
      try {
        mpx::Bytes data = request.recv(1024);
        if (data.empty()) break;  // the client closed its end
        std::string reply(net::as_text(data));
        for (char& c : reply) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        request.sendall(reply);
      } catch (const mpx::ConnectionResetError&) {
        break;
      }
    }
    request.close();
  }
};

int main() {
  socketserver::ThreadingTCPServer server({"127.0.0.1", 0}, socketserver::handler<MyServer>());
  std::thread serving([&] { server.serve_forever(); });

  constexpr int kClients = 3;
  std::latch all_connected(kClients);  // every client holds its connection at once
  std::array<std::vector<std::string>, kClients> replies;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      net::Socket client = net::create_connection("127.0.0.1", net::port(server.server_address));
      all_connected.arrive_and_wait();
      for (const char* word : {"hello", "threading", "server"}) {
        std::string msg = std::string(word) + " from client " + std::to_string(i + 1);
        client.sendall(msg);
        replies[i].push_back(std::string(net::as_text(client.recv(1024))));
      }
    });
  }
  for (auto& t : clients) t.join();
  server.shutdown();  // from another thread than serve_forever's, as in Python
  serving.join();
  server.server_close();  // joins the handler threads (block_on_close)

  for (int i = 0; i < kClients; ++i) {
    for (const auto& r : replies[i]) std::printf("client %d got '%s'\n", i + 1, r.c_str());
  }
  std::printf("%d clients were connected at the same time and all were served\n", kClients);
  return 0;
}
