// src/os/sys.hpp — the seam between mpx and libc's IO calls.
//
// Hot IO goes through these pointers instead of calling libc by name, so a
// fault test can make a call fail with EINTR, ENOSPC or a short count and
// check that mpx copes (fmt's FMT_SYSTEM does the same). In production the
// pointers are libc's own functions: one indirect call, no other cost.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace mpx::detail::sys {

struct Table {
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*writev)(int, const struct iovec*, int);
  ssize_t (*send)(int, const void*, size_t, int);
  ssize_t (*sendmsg)(int, const struct msghdr*, int);
  int (*poll)(struct pollfd*, nfds_t, int);
};

/// The table in use. Tests may swap entries; restore them before returning.
Table& table() noexcept;

inline ssize_t read(int fd, void* buf, size_t n) { return table().read(fd, buf, n); }
inline ssize_t write(int fd, const void* buf, size_t n) { return table().write(fd, buf, n); }
inline ssize_t writev(int fd, const struct iovec* iov, int n) { return table().writev(fd, iov, n); }
inline ssize_t sendmsg(int fd, const struct msghdr* m, int flags) { return table().sendmsg(fd, m, flags); }
inline int poll(struct pollfd* fds, nfds_t n, int timeout_ms) { return table().poll(fds, n, timeout_ms); }

}  // namespace mpx::detail::sys
