// mpx/aio/streams.hpp — asyncio streams: StreamReader, StreamWriter,
// open_connection, start_server (TCP and Unix sockets).
//
//   auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
//   writer.write("ping\n");
//   co_await writer.drain();                       // waits while the peer is slow
//   std::string line = co_await reader.readline(); // "pong\n", or "" at EOF
//   writer.close();
//   co_await writer.wait_closed();
//
// Bytes travel as std::string (Python's bytes). The reader buffers at most
// about 2 × limit bytes (64 KiB by default): past that the transport stops
// reading until the application consumes, so a fast sender cannot grow the
// buffer without bound; readuntil/readline refuse a line longer than the
// limit (LimitOverrunError / ValueError) instead of buffering it.
//
// A StreamWriter closes its transport when its last copy goes (Python's
// __del__ does the same with a warning), so a handler that returns without
// close() leaks nothing.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "mpx/aio/protocols.hpp"
#include "mpx/aio/task.hpp"

namespace mpx::aio {

/// Python: asyncio.IncompleteReadError — EOF before the expected bytes.
class IncompleteReadError : public EOFError {
 public:
  IncompleteReadError(std::string partial, std::optional<std::size_t> expected);
  /// The bytes read before EOF; the expected count (nullopt: readuntil's "undefined").
  const std::string& partial() const noexcept { return partial_; }
  std::optional<std::size_t> expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::optional<std::size_t> expected_;
};

/// Python: asyncio.LimitOverrunError — the separator is not within the limit.
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(const std::string& message, std::size_t consumed) : Error(message), consumed_(consumed) {}
  /// How many bytes may be consumed (they stay in the buffer).
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

/// Python: asyncio.streams' _DEFAULT_LIMIT (64 KiB).
inline constexpr std::size_t kDefaultStreamLimit = 64 * 1024;

namespace detail {
struct ReaderState;
struct WriterState;
class StreamProtocol;
}  // namespace detail

/// Python: asyncio.StreamReader. A handle: copies share the buffer.
class StreamReader {
 public:
  /// A reader fed by hand (feed_data/feed_eof), as Python's StreamReader(limit=...).
  explicit StreamReader(std::size_t limit = kDefaultStreamLimit);
  explicit StreamReader(std::shared_ptr<detail::ReaderState> st) noexcept : st_(std::move(st)) {}

  /// Python: read(n=-1) — up to n bytes as soon as any are there; n < 0:
  /// until EOF. "" at EOF. Throws: the connection's error; RuntimeError if
  /// another task is already waiting on this reader.
  Task<std::string> read(long n = -1);
  /// Python: readline() — through "\n", or what is left at EOF.
  /// Throws: ValueError for a line over the limit (the line is dropped).
  Task<std::string> readline();
  /// Python: readexactly(n). Throws: IncompleteReadError at EOF first.
  Task<std::string> readexactly(std::size_t n);
  /// Python: readuntil(separator=b'\n') — through the separator.
  /// Throws: IncompleteReadError at EOF first; LimitOverrunError past the limit.
  Task<std::string> readuntil(std::string separator = "\n");
  /// Python: at_eof() — EOF seen and the buffer empty.
  bool at_eof() const noexcept;
  /// Python: feed_data, feed_eof, exception, set_exception.
  void feed_data(std::string_view data);
  void feed_eof();
  std::exception_ptr exception() const noexcept;
  void set_exception(std::exception_ptr e);
  std::size_t limit() const noexcept;
  /// Bytes buffered now.
  std::size_t buffered() const noexcept;

 private:
  std::shared_ptr<detail::ReaderState> st_;
};

/// Python: asyncio.StreamWriter. A handle: the last copy closes the transport.
class StreamWriter {
 public:
  explicit StreamWriter(std::shared_ptr<detail::WriterState> st) noexcept : st_(std::move(st)) {}

  /// Python: write(data) — buffered, never blocks; follow with drain().
  void write(std::string_view data);
  void write(std::span<const std::byte> data);
  /// Python: writelines(data).
  template <class Range>
  void writelines(const Range& lines) {
    for (const auto& l : lines) write(std::string_view(l));
  }
  /// Python: write_eof(), can_write_eof().
  void write_eof();
  bool can_write_eof() const noexcept { return true; }
  /// Python: drain() — waits while the write buffer is above its high-water mark.
  /// Throws: the connection's error (ConnectionResetError "Connection lost"...).
  Task<> drain();
  /// Python: close(), is_closing(), wait_closed() (raises the connection's error, if any).
  void close();
  bool is_closing() const noexcept;
  Task<> wait_closed();
  /// Python: get_extra_info('peername' / 'sockname').
  net::Address get_peername() const;
  net::Address get_sockname() const;
  /// Python: writer.transport.
  Transport& transport() const noexcept;

 private:
  std::shared_ptr<detail::WriterState> st_;
};

/// Options of open_connection / start_server (Python's limit=...).
struct StreamOptions {
  std::size_t limit = kDefaultStreamLimit;
};

/// Python: asyncio.open_connection(host, port, limit=...). Throws: ConnectionRefusedError, OSError.
Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            StreamOptions options = {});
/// Python: asyncio.open_unix_connection(path).
Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, StreamOptions options = {});

/// What start_server calls for each connection, as a new task.
using ClientConnected = std::function<Task<>(StreamReader, StreamWriter)>;
/// Python: asyncio.start_server(client_connected_cb, host, port). A handler
/// that fails is logged and its connection closed; the server goes on.
Task<Server> start_server(ClientConnected cb, std::string host, std::uint16_t port, StreamOptions options = {},
                          ServerOptions server = {});
/// Python: asyncio.start_unix_server(client_connected_cb, path).
Task<Server> start_unix_server(ClientConnected cb, std::string path, StreamOptions options = {},
                               ServerOptions server = {});
/// Python: asyncio.start_server(client_connected_cb, sock=sock) — on a
/// socket already bound and listening (see create_server).
Task<Server> start_server(ClientConnected cb, net::Socket sock, StreamOptions options = {}, ServerOptions server = {});

}  // namespace mpx::aio
