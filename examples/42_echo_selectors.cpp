// 42_echo_selectors: one thread serves many echo clients by waiting in select/epoll (IO multiplexing).
//
// Seed lesson: 网络IO模型 — 多路复用 (IO multiplexing). Instead of spinning
// over every socket (41), the server asks the kernel to wait for *any* of
// them to become ready — select(), poll() or epoll — and then handles just
// the ready ones. Python's selectors module wraps the three; the example of
// its documentation, which this program follows:
//
//   sel = selectors.DefaultSelector()
//   def accept(sock, mask):
//       conn, addr = sock.accept()
//       conn.setblocking(False)
//       sel.register(conn, selectors.EVENT_READ, read)
//   def read(conn, mask):
//       data = conn.recv(1000)
//       if data:
//           conn.send(data.upper())
//       else:
//           sel.unregister(conn)
//           conn.close()
//   sock.setblocking(False)
//   sel.register(sock, selectors.EVENT_READ, accept)
//   while True:
//       for key, mask in sel.select():
//           callback = key.data
//           callback(key.fileobj, mask)
//
// select() can watch at most 1024 descriptors and costs O(all of them) per
// call; epoll keeps the interest list in the kernel and reports only the
// ready ones, which is why DefaultSelector is EpollSelector on Linux. The
// same server runs here on SelectSelector, then on DefaultSelector; the
// clients run in threads, all at once, and main prints their results.
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <mpx/net/selectors.hpp>
#include <mpx/net/socket.hpp>

namespace net = mpx::net;

namespace {

constexpr int kClients = 4;
using Callback = std::function<void(net::Socket&, int)>;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return out;
}

// Any selector: they share BaseSelector's interface, as in Python.
void serve(net::BaseSelector& sel, const char* name) {
  net::Socket sock = net::create_server(net::InetAddress{"127.0.0.1", 0});
  auto port = net::port(sock.getsockname());
  std::map<int, net::Socket> conns;  // the server owns its connections
  int served = 0;

  Callback read = [&](net::Socket& conn, int) {
    mpx::Bytes data = conn.recv(1000);
    if (!data.empty()) {
      conn.sendall(upper(net::as_text(data)));
    } else {
      sel.unregister(conn);
      conns.erase(conn.fileno());  // closes it
      ++served;
    }
  };
  Callback accept = [&](net::Socket& listener, int) {
    auto [conn, addr] = listener.accept();
    conn.setblocking(false);
    int fd = conn.fileno();
    sel.register_(conns.emplace(fd, std::move(conn)).first->second, net::EVENT_READ, read);
  };
  sock.setblocking(false);
  sel.register_(sock, net::EVENT_READ, accept);

  std::vector<std::string> replies(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      net::Socket c = net::create_connection("127.0.0.1", port);
      for (const char* word : {"ready", "set", "go"}) {
        c.sendall(std::string(word) + std::to_string(i + 1));
        auto& reply = replies[static_cast<std::size_t>(i)];
        reply += (reply.empty() ? "" : " ") + std::string(net::as_text(c.recv(1000)));
      }
    });
  }

  while (served < kClients) {
    for (auto& [key, mask] : sel.select()) {
      auto callback = std::any_cast<Callback>(key->data);
      callback(*key->fileobj_as<net::Socket>(), mask);
    }
  }
  for (auto& t : clients) t.join();
  std::printf("%s:\n", name);
  for (int i = 0; i < kClients; ++i)
    std::printf("  client %d got: %s\n", i + 1, replies[static_cast<std::size_t>(i)].c_str());
}

}  // namespace

int main() {
  net::SelectSelector select_selector;
  serve(select_selector, "SelectSelector (select)");
  net::DefaultSelector default_selector;
  serve(default_selector, "DefaultSelector (epoll)");
  std::printf("one thread, %d clients at once, no busy loop\n", kClients);
  return 0;
}
