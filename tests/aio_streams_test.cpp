// mpx::aio streams and protocols on both backends: echo round trips (TCP and
// Unix), the reader's limits and errors, drain() backpressure, peers that
// reset or vanish mid-read and mid-write (the loop goes on, no descriptor is
// left: the leak guard checks every test), and 1000 connections on one loop.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
namespace net = mpx::net;
using namespace std::chrono_literals;

namespace {

using AioStreams = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioStreams);

aio::Task<> echo_handler(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

aio::Task<std::vector<std::string>> echo_round_trips() {
  auto server = co_await aio::start_server(echo_handler, "127.0.0.1", 0);
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
  std::vector<std::string> got;
  for (std::string msg : {"hello\n", "world\n"}) {
    writer.write(msg);
    co_await writer.drain();
    got.push_back(co_await reader.readline());
  }
  writer.write_eof();
  got.push_back(co_await reader.read());  // "" once the server closes
  EXPECT_TRUE(reader.at_eof());
  writer.close();
  co_await writer.wait_closed();
  server.close();
  co_await server.wait_closed();
  co_return got;
}

TEST_P(AioStreams, EchoOverTcp) {
  EXPECT_EQ(run(echo_round_trips()), (std::vector<std::string>{"hello\n", "world\n", ""}));
}

aio::Task<std::string> unix_echo(std::string path) {
  auto server = co_await aio::start_unix_server(echo_handler, path);
  auto [reader, writer] = co_await aio::open_unix_connection(path);
  writer.write("over unix\n");
  std::string line = co_await reader.readline();
  writer.close();
  server.close();
  co_await server.wait_closed();
  co_return line;
}

TEST_P(AioStreams, EchoOverUnixSocket) {
  std::string path = "/tmp/mpx-aio-" + std::to_string(::getpid()) + "-" + GetParam();
  ::unlink(path.c_str());
  EXPECT_EQ(run(unix_echo(path)), "over unix\n");
  ::unlink(path.c_str());
}

aio::Task<> reader_errors() {
  aio::StreamReader r(8);
  r.feed_data("abc");
  r.feed_eof();
  try {
    co_await r.readexactly(5);
    ADD_FAILURE() << "no IncompleteReadError";
  } catch (const aio::IncompleteReadError& e) {
    EXPECT_EQ(e.partial(), "abc");
    EXPECT_EQ(e.expected(), 5u);
  }
  aio::StreamReader big(4);
  big.feed_data("0123456789\nrest\n");
  EXPECT_THROW(co_await big.readuntil("\n"), aio::LimitOverrunError);
  EXPECT_THROW(co_await big.readline(), mpx::ValueError);  // drops the long line
  EXPECT_EQ(co_await big.readline(), "rest\n");
}

TEST_P(AioStreams, ReaderLimitsAndIncompleteReads) { run(reader_errors()); }

/// Connects a plain socket that will reset (SO_LINGER 0) instead of closing.
aio::Task<net::Socket> resetting_client(std::uint16_t port) {
  net::Socket s(AF_INET, SOCK_STREAM);
  s.setblocking(false);
  net::Address to = net::InetAddress{"127.0.0.1", port};  // named: see sock_connect's note
  co_await aio::sock_connect(s, to);
  linger lg{1, 0};
  EXPECT_EQ(::setsockopt(s.fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  co_return s;
}

aio::Task<std::string> reset_mid_read() {
  aio::Future<std::string> outcome;
  aio::Event got_prefix;
  // Named: g++ 12 destroys a converted temporary in a co_await expression twice.
  aio::ClientConnected handler = [outcome, &got_prefix](aio::StreamReader r, aio::StreamWriter) mutable -> aio::Task<> {
    try {
      EXPECT_EQ(co_await r.readexactly(3), "abc");
      got_prefix.set();
      co_await r.readexactly(1000);  // the peer resets instead
      outcome.set_result("read");
    } catch (const mpx::ConnectionResetError&) {
      outcome.set_result("reset");
    } catch (const aio::IncompleteReadError&) {
      outcome.set_result("eof");
    }
  };
  auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
  net::Socket c = co_await resetting_client(server.port());
  c.sendall("abc");
  co_await got_prefix.wait();  // the server is now mid-read
  c.close();                   // RST
  std::string got = co_await outcome;
  server.close();
  co_await server.wait_closed();
  co_return got;
}

TEST_P(AioStreams, PeerResetMidReadIsAConnectionResetError) { EXPECT_EQ(run(reset_mid_read()), "reset"); }

aio::Task<std::string> reset_mid_write() {
  aio::Future<std::string> outcome;
  aio::Event blocked;
  aio::ClientConnected handler = [outcome, &blocked](aio::StreamReader, aio::StreamWriter w) mutable -> aio::Task<> {
    std::string chunk(64 * 1024, 'x');
    try {
      for (int i = 0; i < 10000; ++i) {  // 640 MB: far more than the socket buffers
        w.write(chunk);
        // Above the high-water mark: the kernel's buffers are full, drain() will wait.
        if (w.transport().get_write_buffer_size() > w.transport().get_write_buffer_limits().second) blocked.set();
        co_await w.drain();
      }
      outcome.set_result("wrote everything");
    } catch (const mpx::ConnectionError&) {
      outcome.set_result("connection error");
    }
  };
  auto server = co_await aio::start_server(handler, "127.0.0.1", 0);
  net::Socket c = co_await resetting_client(server.port());
  co_await blocked.wait();  // the server has filled the socket buffers
  c.close();                // RST while the server is blocked in drain()
  std::string got = co_await outcome;
  server.close();
  co_await server.wait_closed();
  co_return got;
}

TEST_P(AioStreams, PeerResetMidWriteEndsDrainWithAConnectionError) {
  EXPECT_EQ(run(reset_mid_write()), "connection error");
}

aio::Task<std::size_t> vanish_then_serve_again() {
  auto server = co_await aio::start_server(echo_handler, "127.0.0.1", 0);
  {
    auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
    w.write("half a li");  // no newline: the server waits in readline
    co_await w.drain();
    w.transport().abort();  // vanish without a word
  }
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
  w.write("still serving\n");
  std::string line = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
  co_return line.size();
}

TEST_P(AioStreams, AVanishedPeerDoesNotStopTheServer) { EXPECT_EQ(run(vanish_then_serve_again()), 14u); }

aio::Task<int> many_connections(int n) {
  auto server = co_await aio::start_server(echo_handler, "127.0.0.1", 0, {}, {.backlog = 4096});
  auto client = [](std::uint16_t port, int i) -> aio::Task<int> {
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
    std::string msg = "client " + std::to_string(i) + "\n";
    w.write(msg);
    std::string back = co_await r.readline();
    w.close();
    co_await w.wait_closed();
    co_return back == msg ? 1 : 0;
  };
  std::vector<aio::Task<int>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(client(server.port(), i));
  auto ok = co_await aio::gather(std::move(clients));
  server.close();
  co_await server.wait_closed();
  int sum = 0;
  for (int v : ok) sum += v;
  co_return sum;
}

TEST_P(AioStreams, AThousandConcurrentConnectionsOnOneLoop) {
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 2200) {
    rlimit want = rl;
    want.rlim_cur = std::min<rlim_t>(rl.rlim_max, 4096);
    if (want.rlim_cur < 2200 || ::setrlimit(RLIMIT_NOFILE, &want) != 0) GTEST_SKIP() << "RLIMIT_NOFILE too low";
  }
  EXPECT_EQ(run(many_connections(1000)), 1000);
}

struct CountingEcho : aio::Protocol {
  aio::Transport* t = nullptr;
  std::size_t* lost;
  aio::Event* all_lost;
  CountingEcho(std::size_t* l, aio::Event* all) : lost(l), all_lost(all) {}
  void connection_made(aio::Transport& tr) override { t = &tr; }
  void data_received(std::span<const std::byte> d) override { t->write(d); }
  void connection_lost(std::exception_ptr) override {
    if (++*lost == 3) all_lost->set();
  }
};

aio::Task<std::size_t> protocol_echo() {
  std::size_t lost = 0;
  aio::Event all_lost;
  auto server =
      co_await aio::create_server([&] { return std::make_unique<CountingEcho>(&lost, &all_lost); }, "127.0.0.1", 0);
  for (int i = 0; i < 3; ++i) {
    auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
    w.write("ping");
    EXPECT_EQ(co_await r.readexactly(4), "ping");
    w.close();
    co_await w.wait_closed();
  }
  co_await all_lost.wait();
  EXPECT_EQ(server.active_count(), 0u);
  server.close();
  co_await server.wait_closed();
  co_return lost;
}

TEST_P(AioStreams, ProtocolServerSeesEveryConnectionLost) { EXPECT_EQ(run(protocol_echo()), 3u); }

}  // namespace
