// rfile and wfile: one buffer each, refilled or drained with one syscall.
//
// The reader's buffer is [0, cap_) with unread bytes in [begin_, end_). It is
// allocated on first fill (a handler that never reads pays nothing), slid
// back to 0 when the tail runs out, and grown (doubling) only when
// readline_view must hold a line longer than the buffer. Reads larger than the buffer bypass it.
#include "mpx/socketserver/files.hpp"

#include <algorithm>
#include <cstring>

#include "mpx/errors.hpp"

namespace mpx::socketserver {

SocketReader::SocketReader(net::Socket& sock, std::size_t bufsize)
    : sock_(&sock), bufsize_(bufsize == 0 ? kDefaultBufferSize : bufsize) {}

SocketReader::SocketReader(std::span<const std::byte> data)
    : memory_(true), buf_(new char[data.size() + 1]), cap_(data.size() + 1), end_(data.size()), eof_(true) {
  if (!data.empty()) std::memcpy(buf_.get(), data.data(), data.size());
}

void SocketReader::check_open() const {
  if (closed()) throw ValueError("I/O operation on closed file.");
}

void SocketReader::close() noexcept {
  sock_ = nullptr;
  memory_ = false;
  buf_.reset();
  cap_ = begin_ = end_ = 0;
}

bool SocketReader::fill(std::size_t want) {
  if (eof_ || memory_) return false;
  // A reply still buffered must leave before we wait for the next request.
  if (tie_ != nullptr && tie_->buffered() > 0) tie_->flush();
  if (begin_ == end_) begin_ = end_ = 0;
  if (!buf_) {
    cap_ = bufsize_;
    buf_.reset(new char[cap_]);
  }
  if (end_ == cap_) {
    std::size_t unread = end_ - begin_;
    if (unread == cap_) {
      // Full of one unfinished line: grow, doubling, up to what was asked.
      std::size_t bigger = std::max(cap_ + 1, std::min(want, 2 * cap_));
      std::unique_ptr<char[]> grown(new char[bigger]);
      std::memcpy(grown.get(), buf_.get(), unread);
      buf_ = std::move(grown);
      cap_ = bigger;
    } else {
      std::memmove(buf_.get(), buf_.get() + begin_, unread);
      end_ = unread;
      begin_ = 0;
    }
  }
  std::size_t n = sock_->recv_into(std::as_writable_bytes(std::span(buf_.get() + end_, cap_ - end_)));
  if (n == 0) {
    eof_ = true;
    return false;
  }
  end_ += n;
  return true;
}

std::string SocketReader::take(std::size_t n) {
  std::string out(buf_.get() + begin_, n);
  begin_ += n;
  return out;
}

std::string SocketReader::read(long n) {
  check_open();
  if (n < 0) {
    std::string out(buf_.get() + begin_, buffered());
    begin_ = end_ = 0;
    while (fill(0)) {
      out.append(buf_.get() + begin_, buffered());
      begin_ = end_ = 0;
    }
    return out;
  }
  auto want = static_cast<std::size_t>(n);
  if (want <= buffered()) return take(want);
  std::string out(want, '\0');
  std::size_t got = readinto(std::as_writable_bytes(std::span(out.data(), out.size())));
  out.resize(got);
  return out;
}

std::string SocketReader::read1(long n) {
  check_open();
  if (buffered() == 0) fill(0);
  std::size_t k = n < 0 ? buffered() : std::min(buffered(), static_cast<std::size_t>(n));
  return take(k);
}

std::size_t SocketReader::readinto(std::span<std::byte> buffer) {
  check_open();
  std::size_t done = std::min(buffered(), buffer.size());
  if (done > 0) std::memcpy(buffer.data(), buf_.get() + begin_, done);
  begin_ += done;
  while (done < buffer.size() && !eof_ && !memory_) {
    std::size_t left = buffer.size() - done;
    if (left >= bufsize_) {
      // Large reads go straight into the caller's memory.
      if (tie_ != nullptr && tie_->buffered() > 0) tie_->flush();
      std::size_t got = sock_->recv_into(buffer.subspan(done));
      if (got == 0) {
        eof_ = true;
        break;
      }
      done += got;
      continue;
    }
    if (!fill(0)) break;
    std::size_t k = std::min(buffered(), left);
    std::memcpy(buffer.data() + done, buf_.get() + begin_, k);
    begin_ += k;
    done += k;
  }
  return done;
}

std::string SocketReader::readline(long limit) {
  check_open();
  std::string out;
  for (;;) {
    const char* data = buf_.get() + begin_;
    std::size_t avail = buffered();
    std::size_t room = limit < 0 ? avail : std::min(avail, static_cast<std::size_t>(limit) - out.size());
    if (const void* nl = room > 0 ? std::memchr(data, '\n', room) : nullptr) {
      std::size_t k = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
      out.append(data, k);
      begin_ += k;
      return out;
    }
    out.append(data, room);
    begin_ += room;
    if (limit >= 0 && out.size() >= static_cast<std::size_t>(limit)) return out;
    if (!fill(0)) return out;
  }
}

std::string_view SocketReader::readline_view(std::size_t limit) {
  check_open();
  if (limit == 0) return {};
  std::size_t scanned = 0;
  for (;;) {
    const char* data = buf_.get() + begin_;
    std::size_t room = std::min(buffered(), limit);
    if (const void* nl = room > scanned ? std::memchr(data + scanned, '\n', room - scanned) : nullptr) {
      std::size_t k = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
      begin_ += k;
      return {data, k};
    }
    scanned = room;
    if (room == limit || !fill(limit)) {
      data = buf_.get() + begin_;  // fill may have moved the bytes before it found EOF
      begin_ += room;
      return {data, room};
    }
  }
}

std::string_view SocketReader::peek(std::size_t n) {
  check_open();
  if (n > 0 && buffered() == 0) fill(0);
  return {buf_.get() + begin_, buffered()};
}

std::vector<std::string> SocketReader::readlines() {
  std::vector<std::string> lines;
  for (std::string_view line : *this) lines.emplace_back(line);
  return lines;
}

SocketReader::iterator& SocketReader::iterator::operator++() {
  line_ = r_->readline_view(std::string_view::npos);
  if (line_.empty()) r_ = nullptr;
  return *this;
}

SocketWriter::SocketWriter(net::Socket& sock, std::size_t bufsize) : sock_(&sock), bufsize_(bufsize) {}

std::size_t SocketWriter::write(std::string_view data) {
  if (closed_) throw ValueError("I/O operation on closed file.");
  if (sock_ == nullptr) {
    buf_.append(data);
    return data.size();
  }
  if (bufsize_ == 0) {
    sock_->sendall(data);
    return data.size();
  }
  if (buf_.size() + data.size() <= bufsize_) {
    if (buf_.capacity() < bufsize_) buf_.reserve(bufsize_);
    buf_.append(data);
    return data.size();
  }
  std::string_view rest = data;
  if (!buf_.empty()) {
    // Top the buffer up, so every send but the last is a full one.
    std::size_t first = bufsize_ - buf_.size();
    buf_.append(rest.substr(0, first));
    rest.remove_prefix(first);
    flush();
  }
  if (rest.size() >= bufsize_) {
    sock_->sendall(rest);
  } else {
    buf_.append(rest);
  }
  return data.size();
}

void SocketWriter::flush() {
  if (closed_) throw ValueError("I/O operation on closed file.");
  if (sock_ == nullptr || buf_.empty()) return;
  std::string_view pending = buf_;
  // Cleared whatever happens: after a failed sendall an unknown prefix left,
  // and sending the buffer again would duplicate it.
  struct Clear {
    std::string& b;
    ~Clear() { b.clear(); }
  } clear{buf_};
  sock_->sendall(pending);
}

void SocketWriter::close() noexcept {
  if (closed_) return;
  try {
    flush();
  } catch (...) {  // NOLINT: Python's finish() ignores a failed flush too
  }
  closed_ = true;
}

}  // namespace mpx::socketserver
