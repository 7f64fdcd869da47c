// 08_pipe_ping_pong: two processes talk through a Pipe until one side closes it.
//
// Seed lesson: IPC机制:队列,管道 (IPC: queues and pipes) — Pipe() returns
// two connected ends; what one end sends, the other receives. The Python original:
//
//   from multiprocessing import Process, Pipe
//
//   def child(conn, parent_end):
//       parent_end.close()          # else recv() below never sees EOF
//       while True:
//           try:
//               msg = conn.recv()
//           except EOFError:        # the parent closed its end
//               break
//           conn.send(msg.replace('ping', 'pong'))
//
//   if __name__ == '__main__':
//       parent_end, child_end = Pipe()
//       p = Process(target=child, args=(child_end, parent_end))
//       p.start()
//       child_end.close()
//       for i in range(3):
//           parent_end.send('ping %d' % i)
//           print(parent_end.recv())
//       parent_end.close()
//       p.join()
//
// Python pickles any object; C++ sends typed messages, so both sides agree on
// the type of each message: std::string, a plain struct (copied as its bytes),
// a struct with a cereal serialize() (for members such as strings), and raw
// bytes with send_bytes/recv_bytes.
#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

// Trivially copyable: crosses the pipe as its bytes.
struct Point {
  int x;
  int y;
};

// Holds a std::string, so it says how to encode itself.
struct Order {
  int id = 0;
  std::string item;
  int quantity = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, item, quantity);
  }
};

std::string as_string(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void child(mpx::Connection& conn, mpx::Connection& parent_end) {
  // Fork gave this process a copy of the parent's end too. While any copy is
  // open the pipe stays connected, and recv() would wait forever instead of
  // raising EOFError when the parent closes its own.
  parent_end.close();

  for (int i = 0; i < 3; ++i) {
    auto msg = conn.recv<std::string>();
    std::printf("child:  got \"%s\"\n", msg.c_str());
    conn.send(std::string("pong") + msg.substr(4));
  }

  auto p = conn.recv<Point>();
  std::printf("child:  got Point{%d, %d}\n", p.x, p.y);
  conn.send(Point{p.y, p.x});

  auto order = conn.recv<Order>();
  std::printf("child:  got Order{%d, \"%s\", %d}\n", order.id, order.item.c_str(), order.quantity);
  order.quantity *= 2;
  conn.send(order);

  // Raw bytes until the parent hangs up.
  for (;;) {
    mpx::Bytes bytes;
    try {
      bytes = conn.recv_bytes();
    } catch (const mpx::EOFError&) {
      std::printf("child:  EOFError: the parent closed its end; leaving\n");
      return;
    }
    std::printf("child:  got %zu bytes \"%s\"\n", bytes.size(), as_string(bytes).c_str());
    std::reverse(bytes.begin(), bytes.end());
    conn.send_bytes(bytes);
  }
}

}  // namespace

int main() {
  // Line-buffered: parent's and child's lines must come out in the order printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  auto [parent_end, child_end] = mpx::Pipe();
  mpx::Process p(child, std::ref(child_end), std::ref(parent_end));
  p.start();
  child_end.close();  // ours is a copy; if the child dies, our recv() raises EOFError instead of hanging

  for (int i = 1; i <= 3; ++i) {
    std::string ping = "ping " + std::to_string(i);
    std::printf("parent: send \"%s\"\n", ping.c_str());
    parent_end.send(ping);
    std::printf("parent: got \"%s\"\n", parent_end.recv<std::string>().c_str());
  }

  std::printf("parent: send Point{3, 4}\n");
  parent_end.send(Point{3, 4});
  auto swapped = parent_end.recv<Point>();
  std::printf("parent: got Point{%d, %d}\n", swapped.x, swapped.y);

  std::printf("parent: send Order{7, \"baozi\", 12}\n");
  parent_end.send(Order{7, "baozi", 12});
  auto doubled = parent_end.recv<Order>();
  std::printf("parent: got Order{%d, \"%s\", %d}\n", doubled.id, doubled.item.c_str(), doubled.quantity);

  for (const char* text : {"hello", "mpx"}) {
    std::printf("parent: send_bytes \"%s\"\n", text);
    parent_end.send_bytes(text);
    std::printf("parent: recv_bytes \"%s\"\n", as_string(parent_end.recv_bytes()).c_str());
  }

  std::printf("parent: close()\n");
  parent_end.close();
  p.join();
  std::printf("parent: joined the child, exitcode %d\n", p.exitcode().value_or(-1));
  return p.exitcode() == 0 ? 0 : 1;
}
