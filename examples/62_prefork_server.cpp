// 62_prefork_server: worker processes share one listening socket; a killed worker is replaced.
//
// Beyond the seeds (their goal: "servers with high concurrency and high
// performance"): forking per connection pays a fork for every client.
// nginx and Apache's prefork start N workers once; each accepts on the same
// listening socket and serves many connections, and a master process only
// watches them, starting a new worker when one dies. Python's socketserver
// has no such policy; mpx has it as one more strategy:
//
//   PreforkTCPServer = Server<TCP, Prefork>
//
// Here two workers serve; one is killed with SIGKILL, and the master
// replaces it while the clients keep being served.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>

#include <mpx/socketserver.hpp>

namespace net = mpx::net;
namespace socketserver = mpx::socketserver;

// Replies with the pid of the worker that served the line.
struct WhoServes : socketserver::StreamRequestHandler {
  void handle() override {
    for (std::string_view line : rfile) wfile.write(std::to_string(::getpid()) + " " + std::string(line));
  }
};

// One connection, one line: the pid of the worker that answered.
int ask(const net::Address& address) {
  net::Socket client = net::create_connection("127.0.0.1", net::port(address));
  client.sendall("who?\n");
  std::string reply;
  while (reply.find('\n') == std::string::npos) reply += net::as_text(client.recv(1024));
  client.shutdown(net::SHUT_RDWR);
  return std::stoi(reply);
}

int main() {
  socketserver::PreforkTCPServer server({"127.0.0.1", 0}, socketserver::handler<WhoServes>());
  server.processes = 2;
  std::thread serving([&] { server.serve_forever(); });

  int first = ask(server.server_address);
  std::printf("a worker answered, not the master: %s\n", first != ::getpid() ? "yes" : "no");

  ::kill(first, SIGKILL);
  std::printf("worker killed with SIGKILL\n");
  std::set<int> seen;  // ask until the replacement answers (each ask is a real request)
  for (int i = 0; i < 10000; ++i) {
    int pid = ask(server.server_address);
    if (pid == first) std::printf("the dead worker answered?!\n");
    seen.insert(pid);
    if (seen.size() == 2) break;
  }
  std::printf("clients kept being served; a replacement worker answered: %s\n", seen.size() == 2 ? "yes" : "no");

  server.shutdown();  // workers stop accepting and finish what they serve
  serving.join();
  server.server_close();  // waits for the workers
  std::printf("workers the master restarted: %zu\n", server.respawned());
  return 0;
}
