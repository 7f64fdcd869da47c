// mpx::net selectors beyond CPython's cases (those are in
// conformance/selectors_conformance_test.cpp): hang-ups, data attached as
// std::any, keys outliving their registration, and a multi-client echo
// server on DefaultSelector with try_ calls.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mpx/net/selectors.hpp"
#include "mpx/net/socket.hpp"

using namespace std::chrono_literals;
namespace net = mpx::net;
using net::EVENT_READ;
using net::EVENT_WRITE;
using net::Socket;

template <class S>
class Selectors : public testing::Test {};
using SelectorTypes = testing::Types<net::SelectSelector, net::PollSelector, net::EpollSelector>;
TYPED_TEST_SUITE(Selectors, SelectorTypes);

TYPED_TEST(Selectors, PeerCloseWakesAReaderAndTheReadSeesEof) {
  TypeParam s;
  auto [rd, wr] = net::socketpair();
  s.register_(rd, EVENT_READ);
  EXPECT_TRUE(s.select(0s).empty());
  wr.close();
  auto ready = s.select(5s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, EVENT_READ);
  EXPECT_TRUE(rd.recv(1).empty());
}

TYPED_TEST(Selectors, ReadAndWriteReportedTogether) {
  TypeParam s;
  auto [a, b] = net::socketpair();
  s.register_(a, EVENT_READ | EVENT_WRITE);
  b.sendall("x");
  auto ready = s.select(5s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, EVENT_READ | EVENT_WRITE);
  s.modify(a, EVENT_READ);
  ready = s.select(0s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, EVENT_READ);
}

TYPED_TEST(Selectors, KeysStayValidAfterUnregisterDuringIteration) {
  TypeParam s;
  auto [a, b] = net::socketpair();
  auto [c, d] = net::socketpair();
  auto state = std::make_shared<std::string>("state of a");
  s.register_(a, EVENT_WRITE, state);
  s.register_(c, EVENT_WRITE, std::string("state of c"));
  auto ready = s.select(0s);
  ASSERT_EQ(ready.size(), 2u);
  s.unregister(a);
  s.unregister(c);
  // The handlers still iterating hold the keys: their data is intact.
  for (const auto& [key, events] : ready) {
    if (key->template fileobj_as<Socket>() == &a) {
      EXPECT_EQ(*std::any_cast<std::shared_ptr<std::string>>(key->data), "state of a");
    } else {
      EXPECT_EQ(std::any_cast<std::string>(key->data), "state of c");
    }
  }
  EXPECT_TRUE(s.select(0s).empty());
}

TYPED_TEST(Selectors, DataIsSharedThroughTheKey) {
  TypeParam s;
  auto [a, b] = net::socketpair();
  s.register_(a, EVENT_WRITE, 0);
  std::any_cast<int&>(s.get_key(a)->data) = 41;
  auto ready = s.select(0s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(++std::any_cast<int&>(ready[0].first->data), 42);
  EXPECT_EQ(std::any_cast<int>(s.get_key(a)->data), 42);
}

TYPED_TEST(Selectors, ClosedSelectorRefusesWork) {
  TypeParam s;
  s.close();
  s.close();
  EXPECT_TRUE(s.closed());
  EXPECT_THROW(s.select(0s), mpx::RuntimeError);
  EXPECT_THROW(s.register_(0, EVENT_READ), mpx::RuntimeError);
  EXPECT_THROW(s.unregister(0), mpx::KeyError);
}

TYPED_TEST(Selectors, InvalidEventsOnModify) {
  TypeParam s;
  auto [a, b] = net::socketpair();
  s.register_(a, EVENT_READ);
  EXPECT_THROW(s.modify(a, 0), mpx::ValueError);
  EXPECT_THROW(s.modify(a, 4), mpx::ValueError);
  EXPECT_EQ(s.get_key(a)->events, EVENT_READ);
}

TEST(Selectors, DefaultSelectorIsEpoll) { EXPECT_TRUE((std::is_same_v<net::DefaultSelector, net::EpollSelector>)); }

// The selectors echo server of the seeds, with the non-throwing calls an
// event loop uses: 8 clients in threads, each sending 50 messages.
TEST(Selectors, EchoServerWithManyClients) {
  constexpr int kClients = 8, kMessages = 50;
  Socket server = net::create_server(net::InetAddress{"127.0.0.1", 0});
  server.setblocking(false);
  auto port = net::port(server.getsockname());

  std::vector<std::thread> clients;
  std::vector<int> ok(kClients, 0);
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Socket c = net::create_connection("127.0.0.1", port, {.timeout = 10s});
      for (int m = 0; m < kMessages; ++m) {
        std::string msg = "client " + std::to_string(i) + " message " + std::to_string(m) + ";";
        c.sendall(msg);
        std::string got;
        while (got.size() < msg.size()) got += net::as_text(c.recv(msg.size() - got.size()));
        ok[static_cast<std::size_t>(i)] += got == msg;
      }
    });
  }

  net::DefaultSelector sel;
  sel.register_(server, EVENT_READ);
  std::map<int, Socket> conns;
  int closed = 0;
  std::byte buf[4096];
  while (closed < kClients) {
    auto ready = sel.select(10s);
    if (ready.empty()) {
      ADD_FAILURE() << "the server saw nothing for 10 s";
      break;
    }
    for (const auto& [key, events] : ready) {
      if (key->fileobj_as<Socket>() == &server) {
        while (auto conn = server.try_accept()) {
          int fd = conn->fileno();
          auto& stored = conns.emplace(fd, std::move(*conn)).first->second;
          sel.register_(stored, EVENT_READ);
        }
        continue;
      }
      auto* conn = key->fileobj_as<Socket>();
      auto n = conn->try_recv(buf);
      if (!n) continue;
      if (*n == 0) {
        sel.unregister(*conn);
        conns.erase(key->fd);
        ++closed;
        continue;
      }
      // Echo back; replies are small, a blocking wait for room is fine here.
      conn->settimeout(10s);
      conn->sendall(std::span(buf, *n));
      conn->setblocking(false);
    }
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(ok[static_cast<std::size_t>(i)], kMessages) << "client " << i;
}
