// bench/http/mpx.cpp -> bench_http_mpx: the "hello" server a user writes
// with mpx::http — a handler filling in the Response, http::serve with 2
// worker processes (each its own aio loop on a SO_REUSEPORT listener, as
// nginx's 2 workers are the limit). serve() runs forever in the process that
// calls it, so it runs in an mpx::Process that the figure's end terminates
// (the workers die with it).
#include <fcntl.h>
#include <unistd.h>

#include <mpx/http.hpp>
#include <mpx/process.hpp>

#include "drive.hpp"

namespace {

namespace http = mpx::http;

void hello(const http::Request&, http::Response& response) {
  response.set_header("Content-Type", "text/plain");
  response.body = "hello";
}

}  // namespace

int main(int argc, char** argv) {
  return httpbench::drive(argc, argv, [](int stop_fd, std::promise<std::uint16_t>& port) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) bench::die("pipe2");
    mpx::Process server([ready_w = ready[1]] {
      http::serve("127.0.0.1", 0, hello, {.workers = 2, .ready = [ready_w](std::uint16_t p) {
                                            if (write(ready_w, &p, sizeof p) != sizeof p) bench::die("write");
                                          }});
    });
    server.start();
    close(ready[1]);
    std::uint16_t p = 0;
    ssize_t n;
    while ((n = read(ready[0], &p, sizeof p)) < 0 && errno == EINTR) {
    }
    close(ready[0]);
    if (n != sizeof p) bench::fail("http::serve did not start");
    port.set_value(p);
    char c;
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR) {
    }
    server.terminate();
    server.join();
  });
}
