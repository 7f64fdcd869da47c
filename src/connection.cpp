// Pipe and Connection: framing (Python's wire format), buffered reads,
// bounded frame sizes.
#include "mpx/connection.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "os/sys.hpp"

namespace mpx {

namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr std::uint64_t kShortLimit = 0x7fffffff;

void put_be32(std::byte* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = std::byte(v & 0xff);
}
void put_be64(std::byte* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = std::byte(v & 0xff);
}
std::uint64_t get_be(const std::byte* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

// Writes the frame header for `n` bytes ending at `end`; returns its start.
std::byte* put_header(std::byte* end, std::uint64_t n) {
  if (n <= kShortLimit) {
    put_be32(end - 4, static_cast<std::uint32_t>(n));
    return end - 4;
  }
  put_be32(end - 12, 0xffffffffu);
  put_be64(end - 8, n);
  return end - 12;
}

// Python ignores SIGPIPE at startup so a write to a closed pipe raises
// BrokenPipeError instead of killing the process; mpx does the same the first
// time it makes a pipe, unless the program chose a disposition itself.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      ::sigaction(SIGPIPE, &ign, nullptr);
    }
  });
}

bool fd_is_socket(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

Connection::Connection(detail::Fd fd, bool readable, bool writable, ConnectionOptions options)
    : fd_(std::move(fd)), readable_(readable), writable_(writable), options_(options) {
  if (!fd_) throw ValueError("invalid file descriptor");
  if (!readable && !writable) throw ValueError("at least one of readable and writable must be true");
  is_socket_ = fd_is_socket(fd_.get());
  if (!is_socket_ && writable) ignore_sigpipe_once();
}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

void Connection::close() noexcept {
  fd_.reset();
  readable_ = writable_ = false;
  in_begin_ = in_end_ = 0;
}

int Connection::fileno() const {
  if (!fd_) throw OSError(EBADF, "handle is closed");
  return fd_.get();
}

void Connection::check_readable() const {
  if (!fd_) throw OSError(EBADF, "handle is closed");
  if (!readable_) throw OSError(EBADF, "connection is write-only");
}

void Connection::check_writable() const {
  if (!fd_) throw OSError(EBADF, "handle is closed");
  if (!writable_) throw OSError(EBADF, "connection is read-only");
}

// ---- sending -------------------------------------------------------------

void Connection::send_encoded() {
  std::uint64_t n = out_.size() - kMaxHeader;
  std::byte* start = put_header(out_.data() + kMaxHeader, n);
  std::span<const std::byte> frame(start, out_.data() + out_.size());
  write_frame(frame);
  // Keep the capacity for the next message, but not a huge one forever.
  if (out_.capacity() > (std::size_t(4) << 20)) out_ = {};
}

void Connection::send_bytes(std::span<const std::byte> buf, std::size_t offset, std::optional<std::size_t> size) {
  check_writable();
  if (offset > buf.size()) throw ValueError("offset is negative or past the buffer");
  std::size_t n = size.value_or(buf.size() - offset);
  if (n > buf.size() - offset) throw ValueError("buffer length < offset + size");
  std::byte header[kMaxHeader];
  std::byte* start = put_header(header + kMaxHeader, n);
  std::span<const std::byte> payload = buf.subspan(offset, n);
  // Small messages: one copy into one write beats two iovecs through the kernel.
  if (n <= 4096) {
    out_.assign(start, header + kMaxHeader);
    out_.insert(out_.end(), payload.begin(), payload.end());
    write_frame(out_);
    return;
  }
  std::size_t hlen = static_cast<std::size_t>(header + kMaxHeader - start);
  iovec iov[2] = {{start, hlen}, {const_cast<std::byte*>(payload.data()), n}};
  int cnt = 2;
  iovec* v = iov;
  while (cnt > 0) {
    ssize_t w;
    if (is_socket_) {
      msghdr m{};
      m.msg_iov = v;
      m.msg_iovlen = static_cast<std::size_t>(cnt);
      w = detail::sys::sendmsg(fd_.get(), &m, MSG_NOSIGNAL);
    } else {
      w = detail::sys::writev(fd_.get(), v, cnt);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      detail::throw_os_error(is_socket_ ? "sendmsg" : "writev");
    }
    auto done = static_cast<std::size_t>(w);
    while (cnt > 0 && done >= v->iov_len) {
      done -= v->iov_len;
      ++v;
      --cnt;
    }
    if (cnt > 0) {
      v->iov_base = static_cast<std::byte*>(v->iov_base) + done;
      v->iov_len -= done;
    }
  }
}

void Connection::write_frame(std::span<const std::byte> frame) {
  const std::byte* p = frame.data();
  std::size_t left = frame.size();
  while (left > 0) {
    ssize_t w = is_socket_ ? detail::sys::table().send(fd_.get(), p, left, MSG_NOSIGNAL)
                           : detail::sys::write(fd_.get(), p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      detail::throw_os_error(is_socket_ ? "send" : "write");
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
}

// ---- receiving -----------------------------------------------------------

void Connection::fill(std::size_t n, bool mid_message) {
  if (!in_) in_ = std::make_unique<std::byte[]>(kReadBuffer);
  if (in_end_ - in_begin_ >= n) return;
  if (kReadBuffer - in_begin_ < n) {  // not enough room after the data: move it to the front
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  while (in_end_ - in_begin_ < n) {
    ssize_t r = detail::sys::read(fd_.get(), in_.get() + in_end_, kReadBuffer - in_end_);
    if (r < 0) {
      if (errno == EINTR) continue;
      detail::throw_os_error("read");
    }
    if (r == 0) {
      if (mid_message || in_end_ > in_begin_) throw OSError(0, "got end of file during message");
      throw EOFError("the other end of the connection was closed");
    }
    in_end_ += static_cast<std::size_t>(r);
  }
}

void Connection::read_exact(std::span<std::byte> dst) {
  std::size_t have = std::min(dst.size(), in_end_ - in_begin_);
  if (have) {
    std::memcpy(dst.data(), in_.get() + in_begin_, have);
    in_begin_ += have;
  }
  std::byte* p = dst.data() + have;
  std::size_t left = dst.size() - have;
  while (left > 0) {
    ssize_t r = detail::sys::read(fd_.get(), p, left);
    if (r < 0) {
      if (errno == EINTR) continue;
      detail::throw_os_error("read");
    }
    if (r == 0) throw OSError(0, "got end of file during message");
    p += r;
    left -= static_cast<std::size_t>(r);
  }
}

std::uint64_t Connection::read_header(std::optional<std::size_t> maxlength) {
  check_readable();
  fill(4, false);
  std::uint64_t n = get_be(in_.get() + in_begin_, 4);
  if (n == 0xffffffffu) {
    fill(12, true);
    n = get_be(in_.get() + in_begin_ + 4, 8);
    in_begin_ += 12;
  } else if (n > kShortLimit) {
    readable_ = false;
    throw DecodeError("bad frame: negative message length");
  } else {
    in_begin_ += 4;
  }
  if (maxlength && n > *maxlength) {
    readable_ = false;  // the payload is unread: the stream position is lost
    throw OSError(0, "bad message length");
  }
  if (n > options_.max_message_size) {
    readable_ = false;
    throw DecodeError("frame of " + std::to_string(n) + " bytes exceeds max_message_size " +
                      std::to_string(options_.max_message_size));
  }
  return n;
}

std::span<const std::byte> Connection::recv_frame(std::optional<std::size_t> maxlength) {
  std::uint64_t n = read_header(maxlength);
  if (n <= kReadBuffer) {
    fill(n, true);
    std::span<const std::byte> frame(in_.get() + in_begin_, n);
    in_begin_ += n;
    return frame;
  }
  if (big_cap_ < n) {
    // Grow geometrically and keep it: no fresh pages per large message.
    big_cap_ = std::max<std::size_t>(n, big_cap_ * 2);
    big_ = std::unique_ptr<std::byte[]>(new std::byte[big_cap_]);
  }
  read_exact({big_.get(), n});
  return {big_.get(), n};
}

Bytes Connection::recv_bytes(std::optional<std::size_t> maxlength) {
  std::uint64_t n = read_header(maxlength);
  Bytes out(n);  // not zero-filled: read_exact overwrites every byte
  read_exact(out);
  return out;
}

std::size_t Connection::recv_bytes_into(std::span<std::byte> buffer, std::size_t offset) {
  if (offset > buffer.size()) throw ValueError("offset too large");
  std::uint64_t n = read_header(std::nullopt);
  if (n > buffer.size() - offset) {
    Bytes message(n);
    read_exact(message);
    throw BufferTooShort(std::move(message));
  }
  read_exact(buffer.subspan(offset, n));
  return n;
}

bool Connection::poll_until(detail::Deadline deadline) {
  check_readable();
  if (has_buffered()) return true;
  return detail::wait_readable(fd_.get(), deadline.poll_timeout_ms());
}

// ---- Pipe and wait -------------------------------------------------------

std::pair<Connection, Connection> Pipe(bool duplex, ConnectionOptions options) {
  if (duplex) {
    auto [a, b] = detail::Fd::socketpair_stream();
    return {Connection(std::move(a), true, true, options), Connection(std::move(b), true, true, options)};
  }
  auto [r, w] = detail::Fd::pipe();
  return {Connection(std::move(r), true, false, options), Connection(std::move(w), false, true, options)};
}

namespace connection {

std::vector<Waitable> wait(const std::vector<Waitable>& objects, detail::Deadline deadline) {
  std::vector<Waitable> ready;
  for (auto& o : objects) {
    if (auto* c = std::get_if<Connection*>(&o); c && (*c)->has_buffered()) ready.push_back(o);
  }
  if (!ready.empty()) return ready;
  std::vector<pollfd> fds;
  fds.reserve(objects.size());
  for (auto& o : objects) {
    int fd = std::holds_alternative<int>(o) ? std::get<int>(o) : std::get<Connection*>(o)->fileno();
    fds.push_back({fd, POLLIN, 0});
  }
  for (;;) {
    int n = detail::sys::poll(fds.data(), fds.size(), deadline.poll_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      detail::throw_os_error("poll");
    }
    break;
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents) ready.push_back(objects[i]);
  }
  return ready;
}

}  // namespace connection
}  // namespace mpx
