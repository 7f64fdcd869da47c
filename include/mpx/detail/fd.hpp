// mpx/detail/fd.hpp — an owned file descriptor, and the named ways to make one.
//
//   auto [r, w] = mpx::detail::Fd::pipe();    // both O_CLOEXEC
//   auto seg = mpx::detail::Fd::memfd("mpx-arena", 1 << 20);
//
// Every descriptor mpx opens comes from a factory here: CLOEXEC always (a
// child that execs never inherits mpx's descriptors by accident), errors as
// OSError naming the call. The factories live in src/os/fd.cpp, the only
// place besides src/os/ that talks to the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace mpx::detail {

class Fd {
 public:
  Fd() noexcept = default;
  /// Takes ownership of `fd` (which may be -1).
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /// Gives up ownership without closing.
  int release() noexcept { return std::exchange(fd_, -1); }
  /// Closes the descriptor held (errors from close are ignored, as every
  /// other runtime does: the descriptor is gone either way) and holds `fd`.
  void reset(int fd = -1) noexcept;

  /// A new descriptor for the same open file, CLOEXEC.
  Fd dup() const;

  // Factories. Each throws OSError naming its syscall.
  static std::pair<Fd, Fd> pipe();                      ///< {read end, write end}
  static std::pair<Fd, Fd> socketpair_stream();         ///< AF_UNIX SOCK_STREAM pair
  static Fd memfd(const char* name, std::size_t size);  ///< sized, MAP_SHARED-able
  static Fd eventfd(unsigned initial = 0, bool nonblocking = false);
  static Fd pidfd_open(int pid);  ///< pollable: readable when `pid` exits
  static Fd open(const char* path, int flags, unsigned mode = 0);
  /// A POSIX shared-memory object (/dev/shm/<name>); `name` starts with '/'.
  /// Throws FileNotFoundError / FileExistsError as Python's shm_open does.
  static Fd shm_open(const char* name, int flags, unsigned mode = 0600);

 private:
  int fd_ = -1;
};

/// Blocks until `fd` is readable or `timeout_ms` passes (-1: forever).
/// Returns true if readable (or at EOF/hang-up). EINTR is retried with the
/// time that is left.
bool wait_readable(int fd, int timeout_ms);

}  // namespace mpx::detail
