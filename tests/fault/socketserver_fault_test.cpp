// mpx::socketserver under kill -9: a prefork worker dies under load (the
// master replaces it; only the connections it held are lost), a forked
// child dies mid-request (reaped, the server goes on), and a prefork server
// shut down while its workers still serve clients.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/socketserver.hpp"
#include "support/socketserver_support.hpp"

namespace ss = mpx::socketserver;
namespace net = mpx::net;
using namespace std::chrono_literals;
using mpx::test::ClientSocket;
using mpx::test::connect_to;
using mpx::test::recv_line;
using mpx::test::ServeThread;

namespace {

// Each reply names the process that served it: "<pid> <line>".
struct PidEcho : ss::StreamRequestHandler {
  void handle() override {
    for (std::string_view line : rfile) {
      wfile.write(std::to_string(::getpid()) + " ");
      wfile.write(line);
    }
  }
};

std::string served_by(const std::string& reply) { return reply.substr(0, reply.find(' ')); }

// A round trip that reports a dead server as "" rather than throwing.
std::string try_round_trip(net::Socket& s, std::string_view line) {
  try {
    s.sendall(line);
    return recv_line(s);
  } catch (const mpx::OSError&) {  // reset by the dying worker
    return "";
  }
}

}  // namespace

TEST(PreforkFault, WorkerKilledUnderLoadIsRespawnedAndOnlyItsConnectionsAreLost) {
  ss::PreforkTCPServer server({"127.0.0.1", 0}, ss::handler<PidEcho>());
  server.processes = 2;
  ServeThread serving(server);

  // Connections held open in both workers (the kernel decides who accepts;
  // bounded by the number of attempts).
  struct Conn {
    ClientSocket sock;
    std::string pid;
  };
  std::vector<Conn> conns;
  std::set<std::string> workers;
  for (int i = 0; i < 64 && (workers.size() < 2 || conns.size() < 8); ++i) {
    ClientSocket c = connect_to(server.server_address);
    std::string reply = try_round_trip(c, "hello\n");
    ASSERT_TRUE(reply.ends_with(" hello\n")) << reply;
    workers.insert(served_by(reply));
    conns.push_back({std::move(c), served_by(reply)});
  }
  const std::string victim = conns.front().pid;
  ASSERT_EQ(::kill(std::stoi(victim), SIGKILL), 0);

  // The victim's connections end (EOF or reset, never a hang); every other
  // connection is still served by its worker.
  for (auto& c : conns) {
    std::string reply = try_round_trip(c.sock, "again\n");
    if (c.pid == victim) {
      EXPECT_EQ(reply, "");
    } else {
      EXPECT_EQ(reply, c.pid + " again\n");
    }
  }

  // New connections never fail, and a new worker takes its share.
  bool respawn_seen = false;
  auto deadline = mpx::detail::Deadline::after(20s);
  while (!respawn_seen && !deadline.expired()) {
    ClientSocket c = connect_to(server.server_address);
    std::string reply = try_round_trip(c, "new\n");
    ASSERT_TRUE(reply.ends_with(" new\n")) << reply;
    std::string pid = served_by(reply);
    EXPECT_NE(pid, victim);
    respawn_seen = !workers.contains(pid);
  }
  EXPECT_TRUE(respawn_seen);
  conns.clear();
  serving.stop();
  server.server_close();
  EXPECT_EQ(server.respawned(), 1u);
  EXPECT_TRUE(server.worker_pids().empty());
}

TEST(ForkingFault, ChildKilledMidRequestIsReapedAndTheServerGoesOn) {
  ss::ForkingTCPServer server({"127.0.0.1", 0}, ss::handler<PidEcho>());
  ServeThread serving(server);
  {
    ClientSocket c = connect_to(server.server_address);
    std::string child = served_by(try_round_trip(c, "first\n"));
    ASSERT_NE(child, std::to_string(::getpid()));
    ASSERT_EQ(::kill(std::stoi(child), SIGKILL), 0);
    EXPECT_EQ(try_round_trip(c, "lost\n"), "");
  }
  ClientSocket c = connect_to(server.server_address);
  EXPECT_TRUE(try_round_trip(c, "next\n").ends_with(" next\n"));
  c.close();
  serving.stop();
  server.server_close();
  EXPECT_TRUE(server.active_children().empty());  // and the leak guard sees no zombie
}

TEST(PreforkFault, ShutdownWhileWorkersServeClients) {
  ss::PreforkTCPServer server({"127.0.0.1", 0}, ss::handler<PidEcho>());
  server.processes = 2;
  std::vector<ClientSocket> clients;
  {
    ServeThread serving(server, 10s);
    for (int i = 0; i < 4; ++i) {
      clients.push_back(connect_to(server.server_address));
      EXPECT_TRUE(try_round_trip(clients.back(), "a\n").ends_with(" a\n"));
    }
  }  // shutdown(): the workers stop accepting and keep serving
  for (auto& c : clients) EXPECT_TRUE(try_round_trip(c, "b\n").ends_with(" b\n"));
  clients.clear();
  server.server_close();  // the workers finish once their clients leave
  EXPECT_EQ(server.respawned(), 0u);
}

TEST(PreforkFault, ServerCloseWithoutBlockingTerminatesTheWorkers) {
  ss::PreforkTCPServer server({"127.0.0.1", 0}, ss::handler<PidEcho>());
  server.processes = 1;
  server.block_on_close = false;
  ClientSocket c = connect_to(server.server_address);
  {
    ServeThread serving(server);
    EXPECT_TRUE(try_round_trip(c, "a\n").ends_with(" a\n"));
  }
  server.server_close();  // the client is still connected: SIGTERM ends its worker
  EXPECT_EQ(try_round_trip(c, "b\n"), "");
}
