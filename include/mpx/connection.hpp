// mpx/connection.hpp — multiprocessing.Pipe and Connection.
//
//   auto [parent, child] = mpx::Pipe();              // duplex: a socketpair
//   mpx::Process p([&] { child.send(std::string("ping")); child.recv<int>(); });
//   p.start();
//   std::string s = parent.recv<std::string>();     // "ping"
//   parent.send(42);
//   p.join();
//
// Messages are framed as Python frames them (a 4-byte big-endian length, or
// -1 and an 8-byte length past 2 GiB), so send_bytes/recv_bytes interoperate
// with a Python Connection on the same descriptor. send<T>/recv<T> carry any
// Encodable T (mpx/codec.hpp).
//
// Bad input: a frame claiming more than max_message_size is refused before
// anything is allocated (DecodeError), and the connection stops being
// readable, since its stream position is lost; bytes that do not decode as T
// raise DecodeError and leave the connection usable.
//
// Reads are buffered: one read(2) may bring in many small messages. The
// buffered ones belong to this Connection object; poll() and
// connection::wait() account for them, a raw poll on fileno() does not.
// Each Connection may be used by one thread at a time (as in Python).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mpx/codec.hpp"
#include "mpx/detail/deadline.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/errors.hpp"

namespace mpx {

struct ConnectionOptions {
  /// Largest message recv accepts; larger frames are refused unread.
  std::size_t max_message_size = std::size_t(1) << 30;
};

class Connection {
 public:
  /// A closed connection.
  Connection() = default;
  /// Wraps a connected stream descriptor (a socket or one end of a pipe).
  Connection(detail::Fd fd, bool readable, bool writable, ConnectionOptions options = {});
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Sends `obj` encoded (mpx/codec.hpp).
  /// Python: Connection.send(obj)
  /// Throws: OSError (BrokenPipeError once the reader is gone), ValueError if closed.
  template <class T>
  void send(const T& obj) {
    MPX_ASSERT_ENCODABLE(T);
    check_writable();
    // Room for the longest header, then the payload; the header is written
    // in front of the payload so the frame goes out in one write.
    out_.resize(kMaxHeader);
    encode_append(obj, out_);
    send_encoded();
  }

  /// Receives one message sent with send<T>.
  /// Python: Connection.recv()
  /// Throws: EOFError when the peer closed; DecodeError for bytes that are not a T.
  template <class T>
  T recv() {
    MPX_ASSERT_ENCODABLE(T);
    return decode<T>(recv_frame(std::nullopt));
  }

  /// Python: Connection.send_bytes(buf, offset=0, size=None)
  void send_bytes(std::span<const std::byte> buf, std::size_t offset = 0, std::optional<std::size_t> size = {});
  void send_bytes(std::string_view s) { send_bytes(std::as_bytes(std::span(s.data(), s.size()))); }

  /// Python: Connection.recv_bytes(maxlength=None).
  /// Throws: OSError("bad message length") if the message is longer than
  ///   `maxlength` (the connection is then no longer readable); EOFError.
  Bytes recv_bytes(std::optional<std::size_t> maxlength = {});
  /// Receives into buffer[offset:] and returns the message length, without
  /// allocating. Python: Connection.recv_bytes_into(buffer, offset=0)
  /// Throws: BufferTooShort (carrying the whole message) if it does not fit;
  ///   ValueError if offset is past the buffer.
  std::size_t recv_bytes_into(std::span<std::byte> buffer, std::size_t offset = 0);

  /// Whether a message (or EOF) is ready, waiting up to `timeout`.
  /// Python: Connection.poll(timeout=0.0); pass mpx::forever for timeout=None.
  bool poll() { return poll_until(detail::Deadline::now()); }
  template <class Rep, class Period>
  bool poll(std::chrono::duration<Rep, Period> timeout) {
    return poll_until(detail::Deadline::after(timeout));
  }

  /// Python: Connection.close(). Idempotent.
  void close() noexcept;
  /// Python: Connection.fileno(). Throws: OSError if closed.
  int fileno() const;
  bool closed() const noexcept { return !fd_; }
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  /// Messages already read from the OS and not yet returned.
  bool has_buffered() const noexcept { return in_end_ > in_begin_; }

  /// Passed to a spawned child as a Process argument, it is the same
  /// connection there (its descriptor is passed down); anywhere else:
  /// RuntimeError. Bytes already buffered here stay here.
  template <class Archive>
  void save(Archive& ar) const {
    auto* t = detail::Transfer::current();
    if (!t || t->side() != detail::Transfer::Side::Parent) detail::throw_not_inheritable("Connection");
    if (!fd_) throw OSError(EBADF, "handle is closed");
    ar(t->send_fd(fd_.get()), readable_, writable_, static_cast<std::uint64_t>(options_.max_message_size));
  }
  template <class Archive>
  void load(Archive& ar) {
    auto* t = detail::Transfer::current();
    if (!t || t->side() != detail::Transfer::Side::Child) detail::throw_not_inheritable("Connection");
    std::uint32_t index = 0;
    bool readable = false, writable = false;
    std::uint64_t max_message = 0;
    ar(index, readable, writable, max_message);
    *this = Connection(detail::Fd(t->receive_fd(index)), readable, writable,
                       ConnectionOptions{.max_message_size = static_cast<std::size_t>(max_message)});
  }

  bool poll_until(detail::Deadline deadline);

 private:
  static constexpr std::size_t kMaxHeader = 12;

  void check_readable() const;
  void check_writable() const;
  void send_encoded();
  // Sends one frame made of a header and up to two payload pieces.
  void write_frame(std::span<const std::byte> payload);
  std::uint64_t read_header(std::optional<std::size_t> maxlength);
  // Reads the next frame's payload; the span stays valid until the next recv.
  std::span<const std::byte> recv_frame(std::optional<std::size_t> maxlength);
  // Fills the read buffer so at least `n` bytes are buffered (n <= capacity).
  void fill(std::size_t n, bool mid_message);
  // Reads exactly dst.size() bytes of the current frame into dst.
  void read_exact(std::span<std::byte> dst);

  detail::Fd fd_;
  bool readable_ = false;
  bool writable_ = false;
  bool is_socket_ = false;
  ConnectionOptions options_;
  std::vector<std::byte> out_;
  std::unique_ptr<std::byte[]> in_;
  std::size_t in_begin_ = 0, in_end_ = 0;
  std::unique_ptr<std::byte[]> big_;  // frames larger than the read buffer, reused
  std::size_t big_cap_ = 0;
};

/// Python: multiprocessing.Pipe(duplex=True). Duplex: both ends read and
/// write (an AF_UNIX socketpair). Simplex: first end reads, second writes (a pipe).
std::pair<Connection, Connection> Pipe(bool duplex = true, ConnectionOptions options = {});

namespace connection {

/// Something connection::wait() can watch: a Connection, or a descriptor
/// such as Process::sentinel().
using Waitable = std::variant<Connection*, int>;

/// Waits until some of `objects` are ready, or `timeout` passes; returns the
/// ready ones (empty on timeout). A Connection is ready when a message or EOF
/// can be read; a descriptor when it is readable (a sentinel: the process exited).
/// Python: multiprocessing.connection.wait(object_list, timeout=None)
std::vector<Waitable> wait(const std::vector<Waitable>& objects, detail::Deadline deadline = detail::Deadline::never());
template <class Rep, class Period>
std::vector<Waitable> wait(const std::vector<Waitable>& objects, std::chrono::duration<Rep, Period> timeout) {
  return wait(objects, detail::Deadline::after(timeout));
}

}  // namespace connection
}  // namespace mpx
