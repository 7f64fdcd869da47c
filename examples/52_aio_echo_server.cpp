// 52_aio_echo_server: an echo server handling many clients on one thread, with coroutines.
//
// Seed lesson: 网络IO模型 — 异步IO (async IO). The selectors server (42)
// dispatches readiness by hand; asyncio's streams hide it: each client gets
// a coroutine that reads as if blocking, and the loop switches at every
// wait. Python:
//
//   async def handle(reader, writer):
//       while line := await reader.readline():
//           writer.write(line.upper())
//           await writer.drain()
//       writer.close()
//       await writer.wait_closed()
//   async def main():
//       server = await asyncio.start_server(handle, "127.0.0.1", 0)
//       port = server.sockets[0].getsockname()[1]
//       ... clients ...
//
// Five clients connect at once and talk in turns; the single-threaded server
// interleaves them. Each client prints only after all replies are in, in
// client order, so the output is deterministic.
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "mpx/aio.hpp"

namespace aio = mpx::aio;

aio::Task<> handle(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;  // EOF: the client is done
    for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
  co_await writer.wait_closed();
}

aio::Task<std::string> client(std::uint16_t port, int id) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  std::string got;
  for (const char* word : {"ready", "set", "go"}) {
    writer.write(std::string(word) + std::to_string(id) + "\n");
    std::string reply = co_await reader.readline();
    reply.pop_back();
    got += (got.empty() ? "" : " ") + reply;
  }
  writer.close();
  co_await writer.wait_closed();
  co_return got;
}

aio::Task<> main_task() {
  aio::Server server = co_await aio::start_server(handle, "127.0.0.1", 0);
  std::vector<aio::Task<std::string>> clients;
  for (int id = 1; id <= 5; ++id) clients.push_back(client(server.port(), id));
  auto replies = co_await aio::gather(std::move(clients));
  for (std::size_t i = 0; i < replies.size(); ++i) std::printf("client %zu got: %s\n", i + 1, replies[i].c_str());
  server.close();
  co_await server.wait_closed();
  std::printf("server closed; one thread served %zu clients\n", replies.size());
}

int main() {
  aio::run(main_task());
  return 0;
}
