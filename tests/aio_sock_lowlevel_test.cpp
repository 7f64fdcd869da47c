// aio::sock_recv / sock_recv_into / sock_sendall / sock_accept / sock_connect
// on both backends: ports of CPython Lib/test/test_asyncio/test_sock_lowlevel.py
// (BaseSockTestsMixin). CPython's threaded HTTP test server is replaced by a
// task on the same loop (TestServer below) that answers "GET" with a fixed
// reply and echoes the body of a "POST" — what those tests rely on.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
namespace net = mpx::net;
using namespace std::chrono_literals;

namespace {

using AioSockLowlevel = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioSockLowlevel);

std::string text(const mpx::Bytes& b) { return std::string(net::as_text(b)); }
std::span<std::byte> bytes(std::string& s) { return std::as_writable_bytes(std::span(s.data(), s.size())); }

/// Serves one connection: reads the request head; answers "HTTP/1.0 200 OK"
/// with a short body to a GET, and echoes Content-Length bytes to a POST.
aio::Task<> serve_one(net::Socket& listener) {
  auto [conn, peer] = co_await aio::sock_accept(listener);
  std::string got;
  std::size_t head_end;
  while ((head_end = got.find("\r\n\r\n")) == std::string::npos) {
    auto chunk = co_await aio::sock_recv(conn, 4096);
    if (chunk.empty()) co_return;
    got += text(chunk);
  }
  std::string head = got.substr(0, head_end + 4), body = got.substr(head_end + 4);
  if (head.rfind("POST", 0) != 0) {
    co_await aio::sock_sendall(conn, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello\n");
    co_return;  // closing ends the response (HTTP/1.0)
  }
  auto at = head.find("Content-Length: ");
  std::size_t left = std::stoul(head.substr(at + 16));
  co_await aio::sock_sendall(conn, "HTTP/1.0 200 OK\r\n\r\n");
  left -= body.size();
  co_await aio::sock_sendall(conn, body);
  while (left > 0) {
    auto chunk = co_await aio::sock_recv(conn, 64 * 1024);
    if (chunk.empty()) break;
    left -= std::min(left, chunk.size());
    co_await aio::sock_sendall(conn, chunk);
  }
}

/// CPython's test_utils.run_test_server / run_test_unix_server, on the loop.
struct TestServer {
  net::Socket listener;
  net::Address address;
  explicit TestServer(int family = AF_INET, std::string path = {}) : listener(family, SOCK_STREAM) {
    if (family == AF_UNIX) {
      ::unlink(path.c_str());
      listener.bind(net::UnixAddress{path});
    } else {
      listener.bind(net::InetAddress{"127.0.0.1", 0});
    }
    listener.listen();
    listener.setblocking(false);
    address = listener.getsockname();
  }
  /// Serves the next connection in a task of its own.
  void serve() { aio::create_task(serve_one(listener)); }
};

// ---- test_sock_client_ops, test_unix_sock_client_ops ----------------------------

/// Port of BaseSockTestsMixin._basetest_sock_client_ops (mpx checks the
/// blocking mode always, CPython in debug mode).
aio::Task<std::string> sock_client_ops(TestServer& httpd, int family) {
  net::Socket sock(family, SOCK_STREAM);
  sock.setblocking(true);
  std::string buf(16, '\0');
  EXPECT_THROW(co_await aio::sock_connect(sock, httpd.address), mpx::ValueError);
  EXPECT_THROW(co_await aio::sock_sendall(sock, "GET / HTTP/1.0\r\n\r\n"), mpx::ValueError);
  EXPECT_THROW(co_await aio::sock_recv(sock, 1024), mpx::ValueError);
  EXPECT_THROW(co_await aio::sock_recv_into(sock, bytes(buf)), mpx::ValueError);
  EXPECT_THROW(co_await aio::sock_accept(sock), mpx::ValueError);

  sock.setblocking(false);
  httpd.serve();
  co_await aio::sock_connect(sock, httpd.address);
  co_await aio::sock_sendall(sock, "GET / HTTP/1.0\r\n\r\n");
  std::string data = text(co_await aio::sock_recv(sock, 1024));
  while (!(co_await aio::sock_recv(sock, 1024)).empty()) {  // consume data
  }
  co_return data;
}

/// Port of BaseSockTestsMixin._basetest_sock_recv_into.
aio::Task<std::string> sock_recv_into(TestServer& httpd, int family) {
  net::Socket sock(family, SOCK_STREAM);
  sock.setblocking(false);
  httpd.serve();
  co_await aio::sock_connect(sock, httpd.address);
  co_await aio::sock_sendall(sock, "GET / HTTP/1.0\r\n\r\n");
  std::string data(1024, '\0');
  std::size_t nbytes = co_await aio::sock_recv_into(sock, bytes(data));
  std::size_t more;
  while ((more = co_await aio::sock_recv_into(sock, bytes(data).subspan(nbytes))) > 0) nbytes += more;  // consume
  data.resize(nbytes);
  co_return data;
}

aio::Task<> client_ops(int family, std::string path) {
  TestServer httpd(family, path);
  EXPECT_EQ((co_await sock_client_ops(httpd, family)).rfind("HTTP/1.0 200 OK", 0), 0u);
  EXPECT_EQ((co_await sock_recv_into(httpd, family)).rfind("HTTP/1.0 200 OK", 0), 0u);
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_sock_client_ops.
TEST_P(AioSockLowlevel, SockClientOps) { run(client_ops(AF_INET, "")); }

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_unix_sock_client_ops.
TEST_P(AioSockLowlevel, UnixSockClientOps) {
  std::string path = "/tmp/mpx-sock-lowlevel-" + std::to_string(::getpid()) + "-" + GetParam();
  run(client_ops(AF_UNIX, path));
  ::unlink(path.c_str());
}

// ---- test_sock_client_racing ------------------------------------------------------

/// Port of _basetest_sock_recv_racing: a cancelled sock_recv leaves the
/// socket usable by the next one. (sleep(0) is one loop iteration, as in CPython.)
aio::Task<std::string> recv_racing(TestServer& httpd) {
  net::Socket sock(AF_INET, SOCK_STREAM);
  sock.setblocking(false);
  httpd.serve();
  co_await aio::sock_connect(sock, httpd.address);
  auto task = aio::create_task(aio::sock_recv(sock, 1024));
  co_await aio::sleep(0s);
  task.cancel();
  aio::create_task(aio::sock_sendall(sock, "GET / HTTP/1.0\r\n\r\n"));
  std::string data = text(co_await aio::sock_recv(sock, 1024));
  while (!(co_await aio::sock_recv(sock, 1024)).empty()) {  // consume data
  }
  EXPECT_TRUE(task.cancelled());
  co_return data;
}

/// Port of _basetest_sock_recv_into_racing.
aio::Task<std::string> recv_into_racing(TestServer& httpd) {
  net::Socket sock(AF_INET, SOCK_STREAM);
  sock.setblocking(false);
  httpd.serve();
  co_await aio::sock_connect(sock, httpd.address);
  std::string data(1024, '\0');
  auto task = aio::create_task(aio::sock_recv_into(sock, bytes(data)));
  co_await aio::sleep(0s);
  task.cancel();
  auto sending = aio::create_task(aio::sock_sendall(sock, "GET / HTTP/1.0\r\n\r\n"));
  std::size_t nbytes = co_await aio::sock_recv_into(sock, bytes(data));
  std::size_t more;
  while ((more = co_await aio::sock_recv_into(sock, bytes(data).subspan(nbytes))) > 0) nbytes += more;  // consume
  co_await sending;
  data.resize(nbytes);
  co_return data;
}

/// Port of _basetest_sock_send_racing: a sock_sendall cancelled while the
/// send buffer is full is gone; the next one goes through.
aio::Task<std::string> send_racing() {
  net::Socket listener(AF_INET, SOCK_STREAM), sock(AF_INET, SOCK_STREAM);
  listener.bind(net::InetAddress{"127.0.0.1", 0});
  listener.listen(1);
  net::Address addr = listener.getsockname();
  sock.setsockopt(SOL_SOCKET, SO_SNDBUF, 1024);
  sock.setblocking(false);
  auto connecting = aio::create_task(aio::sock_connect(sock, addr));
  co_await aio::sleep(0s);
  auto [server, peer] = listener.accept();
  server.setblocking(false);
  co_await connecting;

  // Fill the buffer until sending 4 bytes would block.
  for (std::size_t size = 8192; size >= 4; size /= 2) {
    std::string spaces(size, ' ');
    EXPECT_THROW(for (;;) sock.send(spaces), mpx::BlockingIOError);
  }
  // Cancel a blocked sock_sendall.
  auto blocked = aio::create_task(aio::sock_sendall(sock, "hello"));
  co_await aio::sleep(0s);
  blocked.cancel();

  // Receive everything that is not a space.
  auto recv_all = aio::create_task([](net::Socket& s) -> aio::Task<std::string> {
    std::string rv;
    for (;;) {
      auto buf = co_await aio::sock_recv(s, 8192);
      if (buf.empty()) co_return rv;
      for (std::byte b : buf)
        if (b != std::byte{' '}) rv += static_cast<char>(b);
    }
  }(server));
  // Immediately make another sock_sendall call.
  co_await aio::sock_sendall(sock, "world");
  sock.shutdown(SHUT_WR);
  co_return co_await recv_all;
}

aio::Task<> client_racing() {
  TestServer httpd;
  EXPECT_EQ((co_await aio::wait_for(recv_racing(httpd), 10s)).rfind("HTTP/1.0 200 OK", 0), 0u);
  EXPECT_EQ((co_await aio::wait_for(recv_into_racing(httpd), 10s)).rfind("HTTP/1.0 200 OK", 0), 0u);
  std::string sent = co_await aio::wait_for(send_racing(), 10s);
  EXPECT_TRUE(sent.ends_with("world")) << sent;
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_sock_client_racing.
TEST_P(AioSockLowlevel, SockClientRacing) { run(client_racing()); }

/// Port of _basetest_sock_connect_racing: a cancelled connect, then retries
/// until the listener is up (Linux needs at most one retry). nullopt: connected.
aio::Task<std::optional<std::string>> connect_racing() {
  net::Socket listener(AF_INET, SOCK_STREAM), sock(AF_INET, SOCK_STREAM);
  listener.bind(net::InetAddress{"127.0.0.1", 0});
  net::Address addr = listener.getsockname();
  sock.setblocking(false);
  auto task = aio::create_task(aio::sock_connect(sock, addr));
  co_await aio::sleep(0s);
  task.cancel();
  listener.listen(1);
  std::string skip_reason = "Max retries reached";
  for (int i = 0; i < 128; ++i) {
    try {
      co_await aio::sock_connect(sock, addr);
      co_return std::nullopt;
    } catch (const mpx::OSError& e) {
      skip_reason = e.what();
    }
  }
  co_return skip_reason;
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_sock_client_connect_racing.
TEST_P(AioSockLowlevel, SockClientConnectRacing) {
  auto skip = run(aio::wait_for(connect_racing(), 10s));
  if (skip) GTEST_SKIP() << *skip;
}

// ---- test_huge_content, test_huge_content_recvinto ---------------------------------

constexpr std::size_t kDataSize = 1'000'000;

/// Checks `data` continues the cycle "0123456789" at `*pos`.
bool continues_cycle(std::string_view data, std::size_t* pos) {
  for (char c : data) {
    if (c != static_cast<char>('0' + (*pos)++ % 10)) return false;
  }
  return true;
}

/// Port of _basetest_huge_content (recv_into: _basetest_huge_content_recvinto).
aio::Task<std::size_t> huge_content(net::Address address, bool recv_into) {
  net::Socket sock(AF_INET, SOCK_STREAM);
  sock.setblocking(false);
  std::string chunk;
  for (std::size_t i = 0; i < kDataSize / 10; ++i) chunk += "0123456789";
  co_await aio::sock_connect(sock, address);
  co_await aio::sock_sendall(sock, "POST /loop HTTP/1.0\r\nContent-Length: " + std::to_string(kDataSize) + "\r\n\r\n");
  auto sending = aio::create_task(aio::sock_sendall(sock, chunk));
  std::string array(kDataSize, '\0');
  auto receive = [&]() -> aio::Task<std::string> {
    if (!recv_into) co_return text(co_await aio::sock_recv(sock, kDataSize));
    std::size_t n = co_await aio::sock_recv_into(sock, bytes(array));
    co_return array.substr(0, n);
  };
  std::string data = co_await receive();
  EXPECT_EQ(data.rfind("HTTP/1.0 200 OK", 0), 0u);  // the headers fit in the first packet
  while (data.find("\r\n\r\n") == std::string::npos) data += co_await receive();
  data = data.substr(data.find("\r\n\r\n") + 4);  // strip headers
  std::size_t pos = 0;
  EXPECT_TRUE(continues_cycle(data, &pos));
  for (;;) {
    data = co_await receive();
    if (data.empty()) break;
    EXPECT_TRUE(continues_cycle(data, &pos));
  }
  co_await sending;
  co_return pos;
}

aio::Task<std::size_t> huge(bool recv_into) {
  TestServer httpd;
  httpd.serve();
  co_return co_await huge_content(httpd.address, recv_into);
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_huge_content.
TEST_P(AioSockLowlevel, HugeContent) { EXPECT_EQ(run(huge(false)), kDataSize); }

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_huge_content_recvinto.
TEST_P(AioSockLowlevel, HugeContentRecvInto) { EXPECT_EQ(run(huge(true)), kDataSize); }

// ---- test_sock_client_fail, test_sock_accept, test_cancel_sock_accept ----------------

aio::Task<> client_fail() {
  net::Address address;
  {
    net::Socket s(AF_INET, SOCK_STREAM);  // an unused port: bound, never listening, closed
    s.bind(net::InetAddress{"127.0.0.1", 0});
    address = s.getsockname();
  }
  net::Socket sock(AF_INET, SOCK_STREAM);
  sock.setblocking(false);
  EXPECT_THROW(co_await aio::sock_connect(sock, address), mpx::ConnectionRefusedError);
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_sock_client_fail.
TEST_P(AioSockLowlevel, SockClientFail) { run(client_fail()); }

aio::Task<> accept_one() {
  net::Socket listener(AF_INET, SOCK_STREAM), client(AF_INET, SOCK_STREAM);
  listener.setblocking(false);
  listener.bind(net::InetAddress{"127.0.0.1", 0});
  listener.listen(1);
  client.connect(listener.getsockname());
  auto [conn, addr] = co_await aio::sock_accept(listener);
  EXPECT_EQ(conn.gettimeout(), std::optional<std::chrono::nanoseconds>(0ns));
  EXPECT_EQ(addr, client.getsockname());
  EXPECT_EQ(client.getpeername(), listener.getsockname());
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_sock_accept.
TEST_P(AioSockLowlevel, SockAccept) { run(accept_one()); }

aio::Task<> cancel_accept() {
  net::Socket listener(AF_INET, SOCK_STREAM);
  listener.setblocking(false);
  listener.bind(net::InetAddress{"127.0.0.1", 0});
  listener.listen(1);
  net::Address sockaddr = listener.getsockname();
  // The timeout is the behaviour under test: nobody connects.
  EXPECT_THROW(co_await aio::wait_for(aio::sock_accept(listener), 100ms), aio::TimeoutError);
  listener.close();
  net::Socket client(AF_INET, SOCK_STREAM);
  client.setblocking(false);
  EXPECT_THROW(co_await aio::sock_connect(client, sockaddr), mpx::ConnectionRefusedError);
}

// Port of test_sock_lowlevel.py BaseSockTestsMixin.test_cancel_sock_accept.
TEST_P(AioSockLowlevel, CancelSockAccept) { run(cancel_accept()); }

}  // namespace
