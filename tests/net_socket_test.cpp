// mpx::net::Socket: addresses, TCP/UDP/Unix round trips, blocking modes,
// timeouts, the errors of a vanished peer (no SIGPIPE), options, ownership.
// CPython's test_socket.py cases that matter are in net_socket_conformance
// form here too, each naming its source.
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "mpx/detail/fd.hpp"
#include "mpx/net/socket.hpp"

using namespace std::chrono_literals;
namespace net = mpx::net;
using net::InetAddress;
using net::Socket;

namespace {

std::string text(const mpx::Bytes& b) { return std::string(net::as_text(b)); }

// A connected TCP pair over 127.0.0.1: {client, server side}.
std::pair<Socket, Socket> tcp_pair() {
  Socket server = net::create_server(InetAddress{"127.0.0.1", 0});
  Socket client = net::create_connection("127.0.0.1", net::port(server.getsockname()));
  auto [conn, peer] = server.accept();
  EXPECT_EQ(peer, client.getsockname());
  return {std::move(client), std::move(conn)};
}

}  // namespace

TEST(NetAddress, PrintsLikePythonTuples) {
  EXPECT_EQ(net::to_string(InetAddress{"127.0.0.1", 8080}), "('127.0.0.1', 8080)");
  EXPECT_EQ(net::to_string(net::Inet6Address{"::1", 80, 0, 0}), "('::1', 80, 0, 0)");
  EXPECT_EQ(net::to_string(net::UnixAddress{"/tmp/s"}), "'/tmp/s'");
  EXPECT_EQ(net::to_string(net::UnixAddress{std::string("\0ab", 3)}), "b'\\x00ab'");
  EXPECT_EQ(net::port(InetAddress{"", 9}), 9);
  EXPECT_THROW(net::port(net::UnixAddress{"/x"}), mpx::ValueError);
}

TEST(NetSocket, TcpRoundTripAndPeerNames) {
  auto [client, conn] = tcp_pair();
  EXPECT_EQ(client.getpeername(), conn.getsockname());
  EXPECT_EQ(client.family(), net::AF_INET);
  EXPECT_EQ(client.type(), net::SOCK_STREAM);
  client.sendall("hello");
  EXPECT_EQ(text(conn.recv(5)), "hello");
  EXPECT_EQ(conn.send("world"), 5u);
  std::byte buf[16];
  EXPECT_EQ(client.recv_into(buf), 5u);
  EXPECT_EQ(net::as_text(std::span(buf, 5)), "world");
}

// CPython: test_socket.SocketConnectedTest.testShutdown / testRecv at EOF
TEST(NetSocket, RecvReturnsEmptyAtEof) {
  auto [client, conn] = tcp_pair();
  client.sendall("x");
  client.shutdown(net::SHUT_WR);
  EXPECT_EQ(text(conn.recv(10)), "x");
  EXPECT_TRUE(conn.recv(10).empty());
  EXPECT_TRUE(conn.recv(10).empty());
}

// CPython: test_socket.NetworkConnectionNoServer.test_create_connection (ECONNREFUSED)
TEST(NetSocket, ConnectToClosedPortIsRefused) {
  std::uint16_t port;
  {
    Socket probe;
    probe.bind(InetAddress{"127.0.0.1", 0});
    port = net::port(probe.getsockname());
  }
  Socket s;
  EXPECT_EQ(s.connect_ex(InetAddress{"127.0.0.1", port}), ECONNREFUSED);
  EXPECT_THROW(net::create_connection("127.0.0.1", port), mpx::ConnectionRefusedError);
}

// CPython: test_socket.TCPTimeoutTest.testTCPTimeout / testRecvTimeout
TEST(NetSocket, TimeoutRaisesTimeoutError) {
  auto [client, conn] = tcp_pair();
  conn.settimeout(50ms);
  EXPECT_EQ(conn.gettimeout(), std::chrono::nanoseconds(50ms));
  EXPECT_TRUE(conn.getblocking());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(conn.recv(1), mpx::TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
  Socket server = net::create_server(InetAddress{"127.0.0.1", 0});
  server.settimeout(20ms);
  EXPECT_THROW(server.accept(), mpx::TimeoutError);
  // Data that is there is returned at once, timeout or not.
  client.sendall("ok");
  EXPECT_EQ(text(conn.recv(2)), "ok");
  EXPECT_THROW(conn.settimeout(-1s), mpx::ValueError);
  conn.settimeout(std::nullopt);
  EXPECT_EQ(conn.gettimeout(), std::nullopt);
}

// CPython: test_socket.NonBlockingTCPTests.testAccept / testRecv (BlockingIOError)
TEST(NetSocket, NonBlockingRaisesBlockingIOErrorAndTryCallsDoNot) {
  auto [client, conn] = tcp_pair();
  conn.setblocking(false);
  EXPECT_FALSE(conn.getblocking());
  EXPECT_EQ(conn.gettimeout(), std::chrono::nanoseconds(0));
  EXPECT_THROW(conn.recv(1), mpx::BlockingIOError);
  std::byte buf[4];
  EXPECT_EQ(conn.try_recv(buf), std::nullopt);
  Socket server = net::create_server(InetAddress{"127.0.0.1", 0});
  EXPECT_EQ(server.try_accept(), std::nullopt);  // blocking listener: polled, not blocked
  server.setblocking(false);
  EXPECT_THROW(server.accept(), mpx::BlockingIOError);
  client.sendall("abc");
  ASSERT_TRUE(mpx::detail::wait_readable(conn.fileno(), 5000));
  EXPECT_EQ(conn.try_recv(buf), 3u);
  client.close();
  ASSERT_TRUE(mpx::detail::wait_readable(conn.fileno(), 5000));
  EXPECT_EQ(conn.try_recv(buf), 0u);  // EOF
}

TEST(NetSocket, TryAcceptGivesNonBlockingSockets) {
  Socket server = net::create_server(InetAddress{"127.0.0.1", 0});
  server.setblocking(false);
  Socket client = net::create_connection("127.0.0.1", net::port(server.getsockname()));
  ASSERT_TRUE(mpx::detail::wait_readable(server.fileno(), 5000));
  auto conn = server.try_accept();
  ASSERT_TRUE(conn.has_value());
  EXPECT_FALSE(conn->getblocking());
  EXPECT_EQ(conn->getpeername(), client.getsockname());
  std::byte b[1]{std::byte{7}};
  EXPECT_EQ(conn->try_send(b), 1u);
}

// CPython: test_socket.BasicTCPTest2 / testSendAfterRemoteClose: EPIPE, and
// no SIGPIPE (this process would die of it: its disposition is the default).
TEST(NetSocket, SendToVanishedPeerRaisesBrokenPipeWithoutSigpipe) {
  auto [client, conn] = tcp_pair();
  conn.close();
  bool raised = false;
  for (int i = 0; i < 1000 && !raised; ++i) {
    try {
      client.sendall("data that nobody will read");
    } catch (const mpx::BrokenPipeError&) {
      raised = true;
    } catch (const mpx::ConnectionResetError&) {
      raised = true;  // the RST can win the race with the FIN
    }
  }
  EXPECT_TRUE(raised);
}

// A peer that closes with unread data resets the connection: a read gets
// ConnectionResetError, not a crash.
TEST(NetSocket, PeerResetMidReadRaisesConnectionResetError) {
  auto [client, conn] = tcp_pair();
  client.sendall("unread");
  ASSERT_TRUE(mpx::detail::wait_readable(conn.fileno(), 5000));
  conn.close();  // unread data: the kernel sends RST instead of FIN
  EXPECT_THROW(client.recv(10), mpx::ConnectionResetError);
}

// CPython: test_socket.BasicUDPTest.testSendtoAndRecv / testRecvFrom
TEST(NetSocket, UdpSendtoRecvfrom) {
  Socket a(net::AF_INET, net::SOCK_DGRAM), b(net::AF_INET, net::SOCK_DGRAM);
  a.bind(InetAddress{"127.0.0.1", 0});
  b.bind(InetAddress{"127.0.0.1", 0});
  EXPECT_EQ(a.sendto("datagram", b.getsockname()), 8u);
  auto [data, from] = b.recvfrom(100);
  EXPECT_EQ(text(data), "datagram");
  EXPECT_EQ(from, a.getsockname());
  // A datagram longer than the buffer is truncated, the rest dropped.
  a.sendto("0123456789", b.getsockname());
  auto [part, from2] = b.recvfrom(4);
  EXPECT_EQ(text(part), "0123");
  b.settimeout(10ms);
  EXPECT_THROW(b.recvfrom(4), mpx::TimeoutError);
  std::byte buf[8];
  EXPECT_THROW(b.recvfrom_into(buf, 9), mpx::ValueError);
}

// CPython: test_socket.TestUnixDomain (testStrAddr, testBytesAddr, testLinuxAbstractNamespace)
TEST(NetSocket, UnixStreamPathAndAbstractNamespace) {
  char dir[] = "/tmp/mpx-net-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/sock";
  {
    Socket server = net::create_server(net::UnixAddress{path});
    EXPECT_EQ(server.getsockname(), net::Address(net::UnixAddress{path}));
    Socket client(net::AF_UNIX);
    client.connect(net::UnixAddress{path});
    auto [conn, peer] = server.accept();
    EXPECT_EQ(peer, net::Address(net::UnixAddress{""}));  // the client is unnamed
    client.sendall("unix");
    EXPECT_EQ(text(conn.recv(4)), "unix");
  }
  ::unlink(path.c_str());
  ::rmdir(dir);

  std::string abstract = std::string(1, '\0') + "mpx-net-test-" + std::to_string(::getpid());
  Socket s(net::AF_UNIX);
  s.bind(net::UnixAddress{abstract});
  EXPECT_EQ(s.getsockname(), net::Address(net::UnixAddress{abstract}));
  EXPECT_THROW(s.bind(net::UnixAddress{std::string(200, 'x')}), mpx::OSError);  // too long
}

TEST(NetSocket, SocketpairCarriesBytesBothWays) {
  auto [a, b] = net::socketpair();
  EXPECT_EQ(a.family(), net::AF_UNIX);
  a.sendall("ping");
  EXPECT_EQ(text(b.recv(4)), "ping");
  b.sendall("pong");
  EXPECT_EQ(text(a.recv(4)), "pong");
  auto [d1, d2] = net::socketpair(net::AF_UNIX, net::SOCK_DGRAM);
  EXPECT_EQ(d1.type(), net::SOCK_DGRAM);
  d1.send("dg");
  EXPECT_EQ(text(d2.recv(10)), "dg");
}

// CPython: test_socket.ConnectedStreamTestMixin with AF_INET6 (skipped without IPv6)
TEST(NetSocket, Ipv6Loopback) {
  if (!net::has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine (::1 cannot be bound)";
  Socket server = net::create_server(net::Inet6Address{"::1", 0});
  auto port = net::port(server.getsockname());
  EXPECT_EQ(net::to_string(server.getsockname()), "('::1', " + std::to_string(port) + ", 0, 0)");
  Socket client = net::create_connection("::1", port);
  auto [conn, peer] = server.accept();
  client.sendall("six");
  EXPECT_EQ(text(conn.recv(3)), "six");
}

TEST(NetSocket, RecvIntoIsBoundsChecked) {
  auto [a, b] = net::socketpair();
  std::byte buf[4];
  EXPECT_THROW(b.recv_into(buf, 5), mpx::ValueError);
  a.sendall("abcdef");
  EXPECT_EQ(b.recv_into(buf, 2), 2u);
  EXPECT_EQ(b.recv_into(buf), 4u);
  EXPECT_EQ(net::as_text(buf), "cdef");
}

TEST(NetSocket, IntOptions) {
  Socket s;
  s.setsockopt(net::SOL_SOCKET, net::SO_REUSEADDR, 1);
  EXPECT_NE(s.getsockopt(net::SOL_SOCKET, net::SO_REUSEADDR), 0);
  s.setsockopt(net::IPPROTO_TCP, net::TCP_NODELAY, 1);
  EXPECT_NE(s.getsockopt(net::IPPROTO_TCP, net::TCP_NODELAY), 0);
  s.setsockopt(net::SOL_SOCKET, net::SO_KEEPALIVE, 1);
  EXPECT_NE(s.getsockopt(net::SOL_SOCKET, net::SO_KEEPALIVE), 0);
  s.setsockopt(net::SOL_SOCKET, net::SO_RCVBUF, 65536);
  EXPECT_GE(s.getsockopt(net::SOL_SOCKET, net::SO_RCVBUF), 65536);
  EXPECT_GT(s.getsockopt(net::SOL_SOCKET, net::SO_SNDBUF), 0);
  EXPECT_THROW(s.setsockopt(net::SOL_SOCKET, 9999, 1), mpx::OSError);
}

// CPython: test_socket.GeneralModuleTests.test_close_detach / testCloseException
TEST(NetSocket, CloseDetachAndMove) {
  Socket s;
  int fd = s.fileno();
  Socket moved = std::move(s);
  EXPECT_EQ(s.fileno(), -1);
  EXPECT_EQ(moved.fileno(), fd);
  int raw = moved.detach();
  EXPECT_EQ(raw, fd);
  EXPECT_TRUE(moved.closed());
  EXPECT_THROW(moved.recv(1), mpx::OSError);
  EXPECT_THROW(moved.settimeout(1s), mpx::OSError);
  moved.close();  // idempotent
  Socket again = Socket::adopt(raw);
  EXPECT_EQ(again.family(), net::AF_INET);
  EXPECT_EQ(again.type(), net::SOCK_STREAM);
}

TEST(NetSocket, CreateServerReportsTheAddressInUse) {
  Socket server = net::create_server(InetAddress{"127.0.0.1", 0});
  try {
    net::create_server(server.getsockname());
    FAIL() << "no error";
  } catch (const mpx::OSError& e) {
    EXPECT_EQ(e.errno_value(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("while attempting to bind on address ('127.0.0.1'"), std::string::npos);
  }
  EXPECT_THROW(net::create_server(InetAddress{"127.0.0.1", 0}, {.dualstack_ipv6 = true}), mpx::ValueError);
}

// CPython: test_socket.GeneralModuleTests.testDefaultTimeout
TEST(NetSocket, DefaultTimeoutAppliesToNewSockets) {
  net::setdefaulttimeout(250ms);
  Socket s;
  net::setdefaulttimeout(std::nullopt);
  EXPECT_EQ(s.gettimeout(), std::chrono::nanoseconds(250ms));
  EXPECT_EQ(Socket().gettimeout(), std::nullopt);
}

// sendall's timeout bounds the whole call; a large payload goes through a
// reader thread in pieces.
TEST(NetSocket, SendallLargePayloadWithTimeout) {
  auto [a, b] = net::socketpair();
  a.settimeout(10s);
  std::string payload(4 << 20, 'z');
  std::size_t got = 0;
  std::thread reader([&, &b = b] {
    std::byte buf[65536];
    for (;;) {
      auto n = b.recv_into(buf);
      if (n == 0) break;
      got += n;
    }
  });
  a.sendall(payload);
  a.shutdown(net::SHUT_WR);
  reader.join();
  EXPECT_EQ(got, payload.size());
  // Nobody reads now: a full buffer makes sendall time out.
  a.settimeout(30ms);
  auto [c, d] = net::socketpair();
  c.settimeout(30ms);
  EXPECT_THROW(c.sendall(payload), mpx::TimeoutError);
}
