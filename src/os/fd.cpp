// Fd's factories: every descriptor mpx opens is made here, CLOEXEC, with
// errors naming the call.
#include "mpx/detail/fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "mpx/detail/deadline.hpp"
#include "mpx/errors.hpp"
#include "os/sys.hpp"

namespace mpx::detail {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Fd Fd::dup() const {
  int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw_os_error("fcntl(F_DUPFD_CLOEXEC)");
  return Fd(fd);
}

std::pair<Fd, Fd> Fd::pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_os_error("pipe2");
  return {Fd(fds[0]), Fd(fds[1])};
}

std::pair<Fd, Fd> Fd::socketpair_stream() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_os_error("socketpair");
  return {Fd(fds[0]), Fd(fds[1])};
}

Fd Fd::memfd(const char* name, std::size_t size) {
  Fd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) throw_os_error("memfd_create");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw_os_error("ftruncate(memfd)");
  return fd;
}

Fd Fd::eventfd(unsigned initial, bool nonblocking) {
  Fd fd(::eventfd(initial, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0)));
  if (!fd) throw_os_error("eventfd");
  return fd;
}

Fd Fd::pidfd_open(int pid) {
  // glibc 2.36's <sys/pidfd.h> is unusable from C++ (no extern "C"): call
  // the syscall directly. pidfds are always close-on-exec.
  Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) throw_os_error("pidfd_open");
  return fd;
}

Fd Fd::open(const char* path, int flags, unsigned mode) {
  Fd fd;
  do {
    fd.reset(::open(path, flags | O_CLOEXEC, mode));
  } while (!fd && errno == EINTR);
  if (!fd) throw_os_error(std::string("open ") + path);
  return fd;
}

Fd Fd::shm_open(const char* name, int flags, unsigned mode) {
  Fd fd;
  do {
    fd.reset(::shm_open(name, flags | O_CLOEXEC, static_cast<mode_t>(mode)));
  } while (!fd && errno == EINTR);
  if (!fd) throw_os_error(std::string("shm_open ") + name);
  return fd;
}

bool wait_readable(int fd, int timeout_ms) {
  auto deadline = timeout_ms < 0 ? Deadline::never() : Deadline::after(std::chrono::milliseconds(timeout_ms));
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = sys::poll(&p, 1, deadline.poll_timeout_ms());
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw_os_error("poll");
  }
}

}  // namespace mpx::detail
