// src/aio/backend.hpp — the aio loop's readiness backends (DESIGN.md mechanism 7).
//
// Two strategies behind one small interface, chosen in one place
// (make_backend, backend.cpp):
//   epoll     epoll_backend.cpp: edge-triggered watches are registered once
//             for read and write (no epoll_ctl per wait); level ones follow
//             `wanted` with EPOLL_CTL_MOD, as Python's selector loop does.
//   io_uring  uring_backend.cpp: one-shot IORING_OP_POLL_ADD per direction a
//             watch wants, re-armed after each completion while still wanted;
//             SQEs go to the kernel with the wait, in one io_uring_enter.
// Both call IoWatch::handler->on_ready(events) from poll(), and free a
// watch given to retire() only when no event of theirs can still name it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mpx/aio/loop.hpp"

namespace mpx::aio::detail {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const noexcept = 0;
  /// Starts or updates what the kernel watches for `w` after w->wanted changed.
  virtual void update(IoWatch* w) = 0;
  /// Stops watching `w` (the descriptor is still open) and frees it when safe.
  virtual void retire(IoWatch* w) noexcept = 0;
  /// Waits up to `timeout_ns` (-1: no limit, 0: just look) and dispatches.
  virtual void poll(std::int64_t timeout_ns) = 0;
  /// Whether update() must run when `w` changes `wanted` (epoll edge watches
  /// already registered need no syscall).
  virtual bool needs_update(const IoWatch* w) const noexcept = 0;
};

std::unique_ptr<Backend> make_epoll_backend();
/// Throws: OSError if the kernel refuses a ring; ValueError if built without liburing.
std::unique_ptr<Backend> make_uring_backend();
bool uring_available() noexcept;
/// "epoll", "io_uring" or "" (the environment, then probing). Throws: ValueError.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace mpx::aio::detail
