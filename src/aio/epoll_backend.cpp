// src/aio/epoll_backend.cpp — the epoll strategy of the aio loop.
//
// Edge-triggered watches (transports, servers, the loop's eventfd) are added
// once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and never modified: waiting
// for data is then free of syscalls, and the handler's contract is to stop
// only at EAGAIN or a short read. Level-triggered watches (add_reader,
// add_writer) carry exactly `wanted` and are modified when it changes.
//
// A watch retired while an event batch is being dispatched may still be
// named further down that batch: it is marked dead (skipped) and freed after
// the batch.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "aio/backend.hpp"
#include "mpx/detail/fd.hpp"

namespace mpx::aio::detail {
namespace {

class EpollBackend final : public Backend {
 public:
  EpollBackend() : ep_(::epoll_create1(EPOLL_CLOEXEC)), events_(256) {
    if (!ep_) mpx::detail::throw_os_error("epoll_create1");
  }
  ~EpollBackend() override {
    for (IoWatch* w : graveyard_) delete w;
  }
  const char* name() const noexcept override { return "epoll"; }

  bool needs_update(const IoWatch* w) const noexcept override {
    return !w->registered || (!w->edge && w->registered_mask != w->wanted);
  }

  void update(IoWatch* w) override {
    epoll_event ev{};
    ev.data.ptr = w;
    if (w->edge) {
      if (w->registered) return;
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ctl(EPOLL_CTL_ADD, w, ev);
      w->registered = true;
      return;
    }
    ev.events = mask_of(w->wanted);
    if (!w->registered) {
      if (w->wanted == 0) return;
      ctl(EPOLL_CTL_ADD, w, ev);
      w->registered = true;
    } else if (w->wanted == 0) {
      ctl(EPOLL_CTL_DEL, w, ev);
      w->registered = false;
    } else {
      ctl(EPOLL_CTL_MOD, w, ev);
    }
    w->registered_mask = w->wanted;
  }

  void retire(IoWatch* w) noexcept override {
    if (w->registered) {
      epoll_event ev{};
      // ENOENT/EBADF: the descriptor was closed first; the kernel dropped it then.
      (void)::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, w->fd, &ev);
    }
    w->dead = true;
    w->handler = nullptr;
    graveyard_.push_back(w);
  }

  void poll(std::int64_t timeout_ns) override {
    int timeout_ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    int n = ::epoll_wait(ep_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) return;
      mpx::detail::throw_os_error("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<IoWatch*>(events_[i].data.ptr);
      if (w->dead) continue;
      std::uint32_t e = events_[i].events;
      int ready = 0;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= EV_READ;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= EV_WRITE;
      if (!w->edge) ready &= w->wanted;
      if (ready) w->handler->on_ready(ready);
    }
    if (n == static_cast<int>(events_.size()) && events_.size() < 4096) events_.resize(events_.size() * 2);
    for (IoWatch* w : graveyard_) delete w;
    graveyard_.clear();
  }

 private:
  static std::uint32_t mask_of(int wanted) {
    return ((wanted & EV_READ) ? EPOLLIN : 0u) | ((wanted & EV_WRITE) ? EPOLLOUT : 0u);
  }
  void ctl(int op, IoWatch* w, epoll_event& ev) {
    if (::epoll_ctl(ep_.get(), op, w->fd, &ev) != 0) mpx::detail::throw_os_error("epoll_ctl");
  }

  mpx::detail::Fd ep_;
  std::vector<epoll_event> events_;
  std::vector<IoWatch*> graveyard_;
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace mpx::aio::detail
