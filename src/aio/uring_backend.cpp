// src/aio/uring_backend.cpp — the io_uring strategy of the aio loop (liburing 2.3).
//
// Readiness, not completion: a watch that wants EV_READ (EV_WRITE) has one
// one-shot IORING_OP_POLL_ADD in flight for that direction. The kernel checks
// the descriptor when the poll is armed, so arming after EAGAIN cannot miss
// data (level semantics, whatever the watch's `edge` says). After each
// completion the watch is re-armed while it still wants the direction; the
// new SQEs ride along with the next wait (io_uring_submit_and_wait*), so a
// round trip costs no syscall beyond the recv and the send.
//
//   user_data = IoWatch* | direction bit (1 read, 2 write); 0 = ignore (removals)
//   retire(w): POLL_REMOVE for each armed direction; `w` is freed once every
//              SQE naming it has completed (-ECANCELED for the removed polls)
#include "aio/backend.hpp"

#if MPX_AIO_URING
#include <liburing.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mpx::aio::detail {
namespace {

class UringBackend final : public Backend {
 public:
  UringBackend() {
    io_uring_params params{};
    int rc = io_uring_queue_init_params(1024, &ring_, &params);
    if (rc < 0) mpx::detail::throw_os_error("io_uring_queue_init", -rc);
    cqes_.reserve(256);
  }
  ~UringBackend() override {
    io_uring_queue_exit(&ring_);
    for (IoWatch* w : dying_) delete w;
  }
  const char* name() const noexcept override { return "io_uring"; }
  bool needs_update(const IoWatch* w) const noexcept override { return (w->wanted & ~w->armed) != 0; }

  void update(IoWatch* w) override {
    int missing = w->wanted & ~w->armed;
    if (missing & EV_READ) arm(w, EV_READ, POLLIN | POLLRDHUP);
    if (missing & EV_WRITE) arm(w, EV_WRITE, POLLOUT);
  }

  void retire(IoWatch* w) noexcept override {
    w->dead = true;
    w->handler = nullptr;
    for (int dir : {EV_READ, EV_WRITE}) {
      if (!(w->armed & dir)) continue;
      io_uring_sqe* sqe = get_sqe_or_null();
      if (!sqe) continue;  // the poll completes when the descriptor is closed anyway
      io_uring_prep_poll_remove(sqe, tag(w, dir));
      io_uring_sqe_set_data64(sqe, 0);
    }
    dying_.push_back(w);
  }

  void poll(std::int64_t timeout_ns) override {
    io_uring_cqe* cqe = nullptr;
    int rc;
    if (timeout_ns == 0) {
      rc = io_uring_submit(&ring_);
    } else if (timeout_ns < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
      mpx::detail::throw_os_error("io_uring_enter", -rc);
    // Copy the batch out first: handlers arm new polls while we dispatch.
    cqes_.clear();
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      cqes_.push_back({cqe->user_data, cqe->res});
      ++seen;
    }
    io_uring_cq_advance(&ring_, seen);
    for (const Done& d : cqes_) {
      if (d.data == 0) continue;
      auto* w = reinterpret_cast<IoWatch*>(d.data & ~std::uint64_t{3});
      int dir = static_cast<int>(d.data & 3);
      --w->inflight;
      w->armed &= ~dir;
      if (w->dead) continue;
      int ready = dir;
      if (d.res > 0) {
        if (d.res & (POLLERR | POLLHUP)) ready = EV_READ | EV_WRITE;
      } else if (d.res < 0) {
        ready = EV_READ | EV_WRITE;  // EBADF and the like: let the handler's syscall report it
      }
      w->handler->on_ready(ready & (w->wanted | (w->edge ? EV_READ | EV_WRITE : 0)));
      if (!w->dead && (w->wanted & ~w->armed)) update(w);
    }
    sweep();
  }

 private:
  struct Done {
    std::uint64_t data;
    int res;
  };
  static std::uint64_t tag(IoWatch* w, int dir) {
    return reinterpret_cast<std::uint64_t>(w) | static_cast<unsigned>(dir);
  }

  io_uring_sqe* get_sqe_or_null() noexcept {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);  // the queue is full: hand it over and take a fresh slot
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }
  void arm(IoWatch* w, int dir, unsigned mask) {
    io_uring_sqe* sqe = get_sqe_or_null();
    if (!sqe) mpx::detail::throw_os_error("io_uring_get_sqe", EBUSY);
    io_uring_prep_poll_add(sqe, w->fd, mask);
    io_uring_sqe_set_data64(sqe, tag(w, dir));
    w->armed |= dir;
    ++w->inflight;
  }
  void sweep() noexcept {
    std::size_t keep = 0;
    for (IoWatch* w : dying_) {
      if (w->inflight > 0) {
        dying_[keep++] = w;
      } else {
        delete w;
      }
    }
    dying_.resize(keep);
  }

  io_uring ring_{};
  std::vector<Done> cqes_;
  std::vector<IoWatch*> dying_;
};

}  // namespace

std::unique_ptr<Backend> make_uring_backend() { return std::make_unique<UringBackend>(); }

bool uring_available() noexcept {
  static const bool ok = [] {
    io_uring ring{};
    if (io_uring_queue_init(4, &ring, 0) < 0) return false;
    io_uring_queue_exit(&ring);
    return true;
  }();
  return ok;
}

}  // namespace mpx::aio::detail

#else  // built without liburing

namespace mpx::aio::detail {
std::unique_ptr<Backend> make_uring_backend() {
  throw ValueError("mpx was built without liburing: the io_uring aio backend is not available");
}
bool uring_available() noexcept { return false; }
}  // namespace mpx::aio::detail

#endif
