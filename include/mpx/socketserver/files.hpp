// mpx/socketserver/files.hpp — a request handler's rfile and wfile.
//
//   SocketReader rfile(conn);                 // Python: conn.makefile('rb')
//   SocketWriter wfile(conn);                 // Python: conn.makefile('wb') (but buffered)
//   rfile.tie(&wfile);                        // wfile is flushed before rfile waits
//   for (std::string_view line : rfile) wfile.write(line);
//
// One buffer each, allocated on first use, and as few syscalls as the data
// allows: readline() scans the buffer with memchr and refills it with one
// recv; write() copies into the buffer and sends when it is full, at
// flush(), or — because the reader is tied to it — just before the reader
// asks the kernel for more. That last rule is what makes a buffered wfile
// safe for request/response protocols: a reply is always on the wire before
// the handler waits for the next request, and the status line, headers and
// body of one response leave in one segment (no Nagle stall between them).
//
// Python's StreamRequestHandler gives wfile no buffer (wbufsize = 0), so each
// write is a send; with Nagle on, a small write followed by another waits for
// the peer's delayed ACK (~40 ms). wbufsize = 0 keeps that behaviour here.
//
// Datagram handlers get the same classes over memory: a reader over the
// packet (Python's BytesIO(packet)) and a writer that only collects.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpx/net/socket.hpp"

namespace mpx::socketserver {

/// Python's io.DEFAULT_BUFFER_SIZE is 8 KiB; 16 KiB holds a typical HTTP
/// request head or response with room to spare.
inline constexpr std::size_t kDefaultBufferSize = 16 * 1024;

class SocketWriter;

/// Python: the rfile of StreamRequestHandler (io.BufferedReader over the
/// socket) or of DatagramRequestHandler (io.BytesIO over the packet).
/// Bytes are returned as std::string (Python's bytes), "" at EOF.
/// Blocks: per the socket's timeout. Throws: what the socket's recv throws
///   (TimeoutError, ConnectionResetError, OSError); ValueError once closed.
class SocketReader {
 public:
  /// A closed reader (the handler's rfile before setup()).
  SocketReader() = default;
  /// Reads `sock` through a buffer of `bufsize` bytes (0: kDefaultBufferSize).
  explicit SocketReader(net::Socket& sock, std::size_t bufsize = kDefaultBufferSize);
  /// Reads `data` (copied), then EOF: Python's io.BytesIO(data).
  explicit SocketReader(std::span<const std::byte> data);
  SocketReader(SocketReader&&) noexcept = default;
  SocketReader& operator=(SocketReader&&) noexcept = default;

  /// `writer` (may be null) is flushed before this reader waits for the peer.
  void tie(SocketWriter* writer) noexcept { tie_ = writer; }

  /// Python: read(n=-1) — exactly n bytes unless EOF comes first; n < 0: until EOF.
  std::string read(long n = -1);
  /// Python: read1(n=-1) — what is buffered, or one recv's worth; at most n (n < 0: any).
  std::string read1(long n = -1);
  /// Python: readinto(b) — fills `buffer` unless EOF comes first; returns the count.
  std::size_t readinto(std::span<std::byte> buffer);
  /// Python: readline(limit=-1) — through "\n", at most `limit` bytes (< 0: no
  /// limit), or what is left at EOF.
  std::string readline(long limit = -1);
  /// readline() without a copy: a view into the buffer, valid until the next
  /// call on this reader. A line longer than `limit` comes back cut at `limit`
  /// bytes (check for the '\n'). The buffer grows to `limit` if it must.
  std::string_view readline_view(std::size_t limit = 64 * 1024);
  /// Python: peek(n) — at least one byte unless at EOF, at most what is
  /// buffered (a recv is made only when nothing is). Does not consume.
  std::string_view peek(std::size_t n = 1);
  /// Python: readlines() — every line up to EOF.
  std::vector<std::string> readlines();
  /// Bytes buffered and not yet consumed.
  std::size_t buffered() const noexcept { return end_ - begin_; }
  /// Python: close(), closed. Does not close the socket.
  void close() noexcept;
  bool closed() const noexcept { return sock_ == nullptr && !memory_; }

  /// Python: `for line in rfile` — lines (views, valid until the next step) until EOF.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(SocketReader* r) : r_(r) { ++*this; }
    std::string_view operator*() const noexcept { return line_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    bool operator==(const iterator& o) const noexcept { return r_ == o.r_; }

   private:
    SocketReader* r_ = nullptr;
    std::string_view line_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  void check_open() const;
  // One recv into the free space after end_ (compacting or growing to
  // `want` bytes first). Returns false at EOF.
  bool fill(std::size_t want);
  std::string take(std::size_t n);

  net::Socket* sock_ = nullptr;
  bool memory_ = false;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t bufsize_ = kDefaultBufferSize;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  SocketWriter* tie_ = nullptr;
};

/// Python: the wfile of StreamRequestHandler (a writer over the socket) or
/// of DatagramRequestHandler (io.BytesIO, sent with sendto by finish()).
/// Blocks: per the socket's timeout when it sends. Throws: what sendall
///   throws (BrokenPipeError, ConnectionResetError, TimeoutError); ValueError once closed.
class SocketWriter {
 public:
  /// A writer that only collects (the datagram wfile; also a handler's wfile
  /// before setup() binds it to the socket).
  SocketWriter() = default;
  /// Writes to `sock` through a buffer of `bufsize` bytes; 0: each write is
  /// sent at once (Python's wbufsize = 0).
  explicit SocketWriter(net::Socket& sock, std::size_t bufsize = kDefaultBufferSize);
  SocketWriter(SocketWriter&&) noexcept = default;
  SocketWriter& operator=(SocketWriter&&) noexcept = default;

  /// Python: write(b) -> len(b).
  std::size_t write(std::string_view data);
  std::size_t write(std::span<const std::byte> data) {
    return write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
  /// Python: writelines(lines).
  template <class Range>
  void writelines(const Range& lines) {
    for (const auto& l : lines) write(std::string_view(l));
  }
  /// Python: flush() — sends what is buffered.
  void flush();
  /// Bytes buffered, not yet sent (for a collecting writer: collected).
  std::size_t buffered() const noexcept { return buf_.size(); }
  /// A collecting writer's bytes (Python: BytesIO.getvalue()).
  std::string_view getvalue() const noexcept { return buf_; }
  /// Python: close() — flushes (errors ignored, as Python's finish does) and
  /// closes the writer, not the socket.
  void close() noexcept;
  bool closed() const noexcept { return closed_; }

 private:
  net::Socket* sock_ = nullptr;
  std::size_t bufsize_ = 0;
  std::string buf_;
  bool closed_ = false;
};

}  // namespace mpx::socketserver
