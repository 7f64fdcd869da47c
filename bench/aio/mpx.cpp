// bench/aio/mpx.cpp -> bench_aio_mpx: echo servers a user writes with
// mpx::aio — a Protocol (callbacks, the fastest asyncio way) and streams
// (a coroutine per connection: read, write, drain) — on the backend the
// figure names.
#include <mpx/aio.hpp>

#include "drive.hpp"

namespace {

namespace aio = mpx::aio;

struct EchoProtocol final : aio::Protocol {
  aio::Transport* t = nullptr;
  void connection_made(aio::Transport& tr) override { t = &tr; }
  void data_received(std::span<const std::byte> data) override { t->write(data); }
};

aio::Task<> stream_echo(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string data = co_await reader.read(4096);
    if (data.empty()) break;
    writer.write(data);
    co_await writer.drain();
  }
  writer.close();
}

aio::Task<> serve(const aiobench::Figure& f, std::promise<std::uint16_t>& port) {
  std::optional<aio::Server> server;
  if (aiobench::ends_with(f.name, "aio_streams") || aiobench::ends_with(f.name, "aio_streams.io_uring")) {
    server = co_await aio::start_server(stream_echo, "127.0.0.1", 0, {}, {.backlog = 1024});
  } else {
    server =
        co_await aio::create_server([] { return std::make_unique<EchoProtocol>(); }, "127.0.0.1", 0, {.backlog = 1024});
  }
  port.set_value(server->port());
  try {
    co_await server->serve_forever();
  } catch (const aio::CancelledError&) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  return aiobench::drive(argc, argv, [](const aiobench::Figure& f, int stop_fd, std::promise<std::uint16_t>& port) {
    std::string backend = aiobench::ends_with(f.name, ".io_uring") ? "io_uring" : "epoll";
    aio::EventLoop loop({.backend = backend});
    auto main_task = serve(f, port);
    loop.add_reader(stop_fd, [&] { loop.stop(); });
    loop.call_soon([&] { (void)aio::create_task(std::move(main_task)); });
    loop.run_forever();
    loop.remove_reader(stop_fd);
    loop.close();
  });
}
