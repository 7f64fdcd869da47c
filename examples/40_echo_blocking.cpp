// 40_echo_blocking: a blocking echo server serves its clients one at a time.
//
// Seed lesson: 网络IO模型 — 阻塞IO (network IO models: blocking IO). A call
// such as accept() or recv() puts the process to sleep until the kernel has
// the data ready *and* has copied it into the process: both phases block.
// The Python original:
//
//   server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
//   server.bind(('127.0.0.1', 8080))
//   server.listen(5)
//   while True:
//       conn, addr = server.accept()       # blocks until a client connects
//       while True:
//           try:
//               data = conn.recv(1024)     # blocks until the client sends
//               if not data: break
//               conn.send(data.upper())
//           except ConnectionResetError:
//               break
//       conn.close()
//
// While one client is served, the next one waits in the listen queue: that
// is the weakness the other IO models (41, 42) remove. The server runs in a
// thread on 127.0.0.1 port 0 (the kernel picks a free port), the clients in
// main; the server's log is printed after it stopped, so the output is fixed.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <mpx/net/socket.hpp>

namespace net = mpx::net;

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

constexpr int kClients = 3;

}  // namespace

int main() {
  net::Socket server = net::create_server(net::InetAddress{"127.0.0.1", 0});
  auto port = net::port(server.getsockname());
  std::vector<std::string> log;

  std::thread serving([&] {
    for (int n = 1; n <= kClients; ++n) {
      auto [conn, addr] = server.accept();  // blocks: one client at a time
      log.push_back("server: serving connection " + std::to_string(n));
      int messages = 0;
      for (;;) {
        try {
          mpx::Bytes data = conn.recv(1024);  // blocks until the client sends
          if (data.empty()) break;            // the client closed its end
          conn.sendall(upper(net::as_text(data)));
          ++messages;
        } catch (const mpx::ConnectionResetError&) {
          break;
        }
      }
      log.push_back("server: connection " + std::to_string(n) + " closed after " + std::to_string(messages) +
                    " messages");
    }
  });

  for (int i = 1; i <= kClients; ++i) {
    net::Socket client = net::create_connection("127.0.0.1", port);
    for (const char* word : {"hello", "blocking", "world"}) {
      std::string msg = std::string(word) + " from client " + std::to_string(i);
      client.sendall(msg);
      mpx::Bytes reply = client.recv(1024);
      std::printf("client %d: sent '%s', got '%s'\n", i, msg.c_str(), std::string(net::as_text(reply)).c_str());
    }
  }  // each client's socket closes here: the server moves on to the next
  serving.join();
  for (const auto& line : log) std::printf("%s\n", line.c_str());
  return 0;
}
