// bench/aio/peer_libuv.cpp -> bench_aio_peer_libuv: libuv's textbook echo
// server (PEERS.md, P4): one uv loop, uv_read_start then uv_write of the bytes
// read, a buffer malloc'ed per read and freed by the write's callback. It
// serves every aio figure (the streams figure gets the same server).
#include <uv.h>

#include <cstdlib>

#include "drive.hpp"

namespace {

struct WriteReq {
  uv_write_t req;
  uv_buf_t buf;
};

void check(int rc, const char* what) {
  if (rc < 0) bench::fail(std::string(what) + ": " + uv_strerror(rc));
}

void alloc_cb(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(4096));
  buf->len = buf->base ? 4096 : 0;
}

void close_cb(uv_handle_t* h) { std::free(h); }

void write_cb(uv_write_t* req, int) {
  auto* wr = reinterpret_cast<WriteReq*>(req);
  std::free(wr->buf.base);
  std::free(wr);
}

void read_cb(uv_stream_t* client, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    auto* wr = static_cast<WriteReq*>(std::malloc(sizeof(WriteReq)));
    if (!wr) bench::fail("malloc");
    wr->buf = uv_buf_init(buf->base, static_cast<unsigned>(nread));
    check(uv_write(&wr->req, client, &wr->buf, 1, write_cb), "uv_write");
    return;
  }
  if (nread < 0 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(client))) {
    uv_close(reinterpret_cast<uv_handle_t*>(client), close_cb);
  }
  std::free(buf->base);
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* client = static_cast<uv_tcp_t*>(std::malloc(sizeof(uv_tcp_t)));
  if (!client) bench::fail("malloc");
  check(uv_tcp_init(server->loop, client), "uv_tcp_init");
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) == 0) {
    uv_tcp_nodelay(client, 1);
    check(uv_read_start(reinterpret_cast<uv_stream_t*>(client), alloc_cb, read_cb), "uv_read_start");
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(client), close_cb);
  }
}

}  // namespace

int main(int argc, char** argv) {
  return aiobench::drive(argc, argv, [](const aiobench::Figure&, int stop_fd, std::promise<std::uint16_t>& port) {
    uv_loop_t loop;
    check(uv_loop_init(&loop), "uv_loop_init");
    uv_tcp_t server;
    check(uv_tcp_init(&loop, &server), "uv_tcp_init");
    sockaddr_in addr{};
    check(uv_ip4_addr("127.0.0.1", 0, &addr), "uv_ip4_addr");
    check(uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0), "uv_tcp_bind");
    check(uv_listen(reinterpret_cast<uv_stream_t*>(&server), 1024, on_connection), "uv_listen");
    int len = sizeof addr;
    check(uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&addr), &len), "uv_tcp_getsockname");
    uv_poll_t stop;
    check(uv_poll_init(&loop, &stop, stop_fd), "uv_poll_init");
    check(uv_poll_start(&stop, UV_READABLE, [](uv_poll_t* h, int, int) { uv_stop(h->loop); }), "uv_poll_start");
    port.set_value(ntohs(addr.sin_port));
    uv_run(&loop, UV_RUN_DEFAULT);
    // Close what is left (the listener, the stop poll, connections still open), then the loop.
    uv_close(reinterpret_cast<uv_handle_t*>(&server), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop), nullptr);
    uv_walk(
        &loop,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, close_cb);
        },
        nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    check(uv_loop_close(&loop), "uv_loop_close");
  });
}
