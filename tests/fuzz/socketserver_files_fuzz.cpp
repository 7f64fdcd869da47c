// Fuzz target: a handler's rfile (SocketReader) reading bytes off a socket
// through a buffer of fuzzed size, with a fuzzed sequence of readline,
// readline_view, read, read1, peek and readinto. Every result is checked
// against a model (a position in the same bytes): no read may lose, repeat
// or invent a byte, whatever the refills and buffer growth in between.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "mpx/socketserver/files.hpp"

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Layout: [bufsize][nops][op, arg]*nops, then the stream's bytes.
  if (size < 2) return 0;
  std::size_t bufsize = 1 + data[0] % 64;
  std::size_t nops = data[1] % 32;
  if (size < 2 + 2 * nops) return 0;
  const std::uint8_t* ops = data + 2;
  std::string_view stream(reinterpret_cast<const char*>(data + 2 + 2 * nops), size - 2 - 2 * nops);

  auto [writer, reader_sock] = mpx::net::socketpair();
  // Inputs are capped well under the socket buffer, so this never blocks.
  if (!stream.empty()) writer.sendall(stream);
  writer.shutdown(mpx::net::SHUT_WR);
  mpx::socketserver::SocketReader r(reader_sock, bufsize);
  std::size_t pos = 0;  // the model
  auto rest = [&] { return stream.substr(pos); };

  for (std::size_t i = 0; i < nops; ++i) {
    std::size_t arg = ops[2 * i + 1];
    switch (ops[2 * i] % 6) {
      case 0: {  // readline(limit), limit -1 when arg is 255
        long limit = arg == 255 ? -1 : static_cast<long>(arg);
        std::string got = r.readline(limit);
        std::string_view want = rest();
        std::size_t nl = want.find('\n');
        std::size_t n = nl == std::string_view::npos ? want.size() : nl + 1;
        if (limit >= 0) n = std::min(n, static_cast<std::size_t>(limit));
        check(got == want.substr(0, n));
        pos += n;
        break;
      }
      case 1: {  // readline_view(limit)
        std::size_t limit = arg;
        std::string_view got = r.readline_view(limit);
        std::string_view want = rest();
        std::size_t nl = want.find('\n');
        std::size_t n = std::min(nl == std::string_view::npos ? want.size() : nl + 1, limit);
        check(got == want.substr(0, n));
        pos += n;
        break;
      }
      case 2: {  // read(n)
        std::string got = r.read(static_cast<long>(arg));
        check(got == rest().substr(0, arg));
        pos += got.size();
        break;
      }
      case 3: {  // read1(n): a non-empty prefix unless at EOF
        std::string got = r.read1(static_cast<long>(arg));
        check(got.size() <= arg && rest().starts_with(got));
        check(!got.empty() || arg == 0 || rest().empty());
        pos += got.size();
        break;
      }
      case 4: {  // peek: consumes nothing
        std::string_view got = r.peek(arg);
        check(rest().starts_with(got));
        check(!got.empty() || arg == 0 || rest().empty());
        break;
      }
      default: {  // readinto
        std::string buf(arg, '\0');
        std::size_t n = r.readinto(std::as_writable_bytes(std::span(buf.data(), buf.size())));
        check(n == std::min(arg, rest().size()) && rest().starts_with(std::string_view(buf.data(), n)));
        pos += n;
      }
    }
  }
  check(r.read() == rest());  // the rest, whole
  return 0;
}

std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds() {
  auto seed = [](std::uint8_t bufsize, std::vector<std::uint8_t> ops, std::string_view stream) {
    std::vector<std::uint8_t> s{bufsize, static_cast<std::uint8_t>(ops.size() / 2)};
    s.insert(s.end(), ops.begin(), ops.end());
    s.insert(s.end(), stream.begin(), stream.end());
    return s;
  };
  return {seed(3, {0, 255, 1, 4, 2, 3, 3, 9, 4, 2, 5, 7}, "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody bytes"),
          seed(0, {1, 200, 0, 255}, std::string(300, 'a') + "\n" + std::string(10, 'b')),
          seed(63, {5, 100, 2, 0, 3, 1}, "no newline at all")};
}
