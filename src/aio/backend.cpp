// src/aio/backend.cpp — the one place an aio backend is chosen.
//
// Order: an explicit LoopOptions::backend, then $MPX_AIO_BACKEND, then
// io_uring if the kernel hands out a ring (io_uring_disabled = 0, no seccomp
// filter in the way), else epoll. An explicit choice that cannot start is an
// error; the probe falls back silently, as seastar's reactor_backend_selector does.
#include <cstdlib>

#include "aio/backend.hpp"

namespace mpx::aio::detail {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  std::string chosen = name;
  if (chosen.empty()) {
    const char* env = std::getenv("MPX_AIO_BACKEND");
    if (env && *env) chosen = env;
  }
  if (chosen == "epoll") return make_epoll_backend();
  if (chosen == "io_uring") return make_uring_backend();
  if (!chosen.empty()) throw ValueError("unknown aio backend '" + chosen + "' (epoll or io_uring)");
  if (uring_available()) {
    try {
      return make_uring_backend();
    } catch (const OSError&) {
      // Available at the probe but not now (RLIMIT_MEMLOCK, a ring limit): epoll will do.
    }
  }
  return make_epoll_backend();
}

}  // namespace mpx::aio::detail

namespace mpx::aio {

bool EventLoop::backend_available(const std::string& name) {
  if (name == "epoll") return true;
  if (name == "io_uring") return detail::uring_available();
  return false;
}

}  // namespace mpx::aio
