// 41_echo_nonblocking: a non-blocking echo server polls all its clients in one busy loop.
//
// Seed lesson: 网络IO模型 — 非阻塞IO (non-blocking IO). With setblocking(False)
// a call that would wait raises BlockingIOError at once, so one thread can
// take turns between the listening socket and every connection. The Python
// original:
//
//   server.setblocking(False)
//   conns = []
//   while True:
//       try:
//           conn, addr = server.accept()
//           conn.setblocking(False)
//           conns.append(conn)
//       except BlockingIOError:
//           del_list = []
//           for conn in conns:
//               try:
//                   data = conn.recv(1024)
//                   if not data:
//                       conn.close(); del_list.append(conn); continue
//                   conn.send(data.upper())
//               except BlockingIOError:
//                   pass
//               except ConnectionResetError:
//                   conn.close(); del_list.append(conn)
//           for conn in del_list: conns.remove(conn)
//
// The price, as the seed says: the loop spins on a CPU even when nobody sends
// (it is "polling"). Multiplexing (42) waits in the kernel instead. Here the
// loop stops once all clients have left; the clients run in threads, at the
// same time, and main prints every result after they finished.
//
// mpx::net::Socket has both spellings: accept()/recv() raising
// BlockingIOError as in Python, and try_accept()/try_recv() returning
// std::nullopt, which is what a loop that spins should use (an exception per
// empty poll costs microseconds). This example keeps Python's form.
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
  server.setblocking(false);
  auto port = net::port(server.getsockname());

  std::vector<std::string> replies(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      net::Socket c = net::create_connection("127.0.0.1", port);
      for (const char* word : {"one", "two", "three"}) {
        c.sendall(std::string(word) + "-" + std::to_string(i + 1));
        auto& reply = replies[static_cast<std::size_t>(i)];
        reply += (reply.empty() ? "" : " ") + std::string(net::as_text(c.recv(1024)));
      }
    });
  }

  std::vector<net::Socket> conns;
  int left = 0;
  while (left < kClients) {
    try {
      auto [conn, addr] = server.accept();
      conn.setblocking(false);
      conns.push_back(std::move(conn));
    } catch (const mpx::BlockingIOError&) {
      std::erase_if(conns, [&](net::Socket& conn) {
        try {
          mpx::Bytes data = conn.recv(1024);
          if (data.empty()) {
            ++left;
            return true;  // erased: the Socket closes itself
          }
          conn.sendall(upper(net::as_text(data)));  // tiny reply: the send buffer has room
        } catch (const mpx::BlockingIOError&) {
          // nothing from this client yet: on to the next one
        } catch (const mpx::ConnectionResetError&) {
          ++left;
          return true;
        }
        return false;
      });
    }
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i)
    std::printf("client %d got: %s\n", i + 1, replies[static_cast<std::size_t>(i)].c_str());
  std::printf("server: %d clients served by one thread, without blocking\n", kClients);
  return 0;
}
