// The kernel side of SelectSelector, PollSelector and EpollSelector: each
// turns EVENT_* masks into its own flags and back, and waits until a
// Deadline, retrying EINTR with the time that is left (PEP 475).
//
// Back from the kernel, Python's rule maps flags to events: anything but
// "readable" counts as writable and anything but "writable" as readable, so
// an error or hang-up wakes both a reader and a writer, which then see it
// in their recv/send. select()'s filtering by key->events is in selectors.cpp.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "mpx/detail/fd.hpp"
#include "mpx/net/selectors.hpp"
#include "os/sys.hpp"

namespace mpx::net {

using detail::Deadline;
using detail::throw_os_error;

namespace {

template <unsigned In, unsigned Out>
int to_events(unsigned flags) {
  int events = 0;
  if (flags & ~In) events |= EVENT_WRITE;
  if (flags & ~Out) events |= EVENT_READ;
  return events;
}

template <unsigned In, unsigned Out>
unsigned to_flags(int events) {
  return ((events & EVENT_READ) ? In : 0u) | ((events & EVENT_WRITE) ? Out : 0u);
}

}  // namespace

namespace impl {
namespace {
// ---- select(2) ---------------------------------------------------------------

class SelectBackend final : public SelectorBackend {
 public:
  void add(int fd, int events) override {
    // An fd_set has FD_SETSIZE bits; writing past them corrupts the stack.
    if (fd >= FD_SETSIZE) throw ValueError("filedescriptor out of range in select()");
    fds_[fd] = events;
  }
  void remove(int fd) noexcept override { fds_.erase(fd); }
  void modify(int fd, int events) override { fds_[fd] = events; }
  void close() noexcept override { fds_.clear(); }
  void select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) override {
    for (;;) {
      fd_set r, w;
      FD_ZERO(&r);
      FD_ZERO(&w);
      int nfds = 0;
      for (auto [fd, events] : fds_) {
        if (events & EVENT_READ) FD_SET(fd, &r);
        if (events & EVENT_WRITE) FD_SET(fd, &w);
        nfds = std::max(nfds, fd + 1);
      }
      timeval tv{};
      timeval* tvp = nullptr;
      if (!deadline.is_never()) {
        // Round up to the microsecond: wait at least the timeout, never less.
        auto us = (deadline.remaining().count() + 999) / 1000;
        tv.tv_sec = static_cast<time_t>(us / 1'000'000);
        tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
        tvp = &tv;
      }
      int n = ::select(nfds, &r, &w, nullptr, tvp);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_os_error("select");
      }
      if (n == 0) {
        if (deadline.is_never() || deadline.expired()) return;
        continue;  // woke a little early: the kernel's timer slack
      }
      for (auto [fd, events] : fds_) {
        int ready = (FD_ISSET(fd, &r) ? EVENT_READ : 0) | (FD_ISSET(fd, &w) ? EVENT_WRITE : 0);
        if (ready) out.emplace_back(fd, ready);
      }
      return;
    }
  }

 private:
  std::unordered_map<int, int> fds_;  // fd -> EVENT_* mask
};

// ---- poll(2) -----------------------------------------------------------------

class PollBackend final : public SelectorBackend {
 public:
  void add(int fd, int events) override {
    fds_.push_back(pollfd{fd, static_cast<short>(to_flags<POLLIN, POLLOUT>(events)), 0});
    index_[fd] = fds_.size() - 1;
  }
  void remove(int fd) noexcept override {
    auto it = index_.find(fd);
    if (it == index_.end()) return;
    // Swap with the last entry: O(1), and poll(2) does not care about order.
    std::size_t pos = it->second;
    index_.erase(it);
    if (pos + 1 != fds_.size()) {
      fds_[pos] = fds_.back();
      index_[fds_[pos].fd] = pos;
    }
    fds_.pop_back();
  }
  void modify(int fd, int events) override {
    fds_.at(index_.at(fd)).events = static_cast<short>(to_flags<POLLIN, POLLOUT>(events));
  }
  void close() noexcept override {
    fds_.clear();
    index_.clear();
  }
  void select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) override {
    auto& fds = fds_;
    for (;;) {
      int n = detail::sys::poll(fds.data(), fds.size(), deadline.poll_timeout_ms());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_os_error("poll");
      }
      if (n == 0) {
        if (deadline.is_never() || deadline.expired()) return;
        continue;
      }
      for (const auto& p : fds) {
        if (p.revents) out.emplace_back(p.fd, to_events<POLLIN, POLLOUT>(static_cast<unsigned short>(p.revents)));
      }
      return;
    }
  }

 private:
  std::vector<pollfd> fds_;
  std::unordered_map<int, std::size_t> index_;  // fd -> position in fds_
};

// ---- epoll(7) ----------------------------------------------------------------

class EpollBackend final : public SelectorBackend {
 public:
  EpollBackend() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epfd_) throw_os_error("epoll_create1");
  }
  int fileno() const noexcept override { return epfd_.get(); }
  void add(int fd, int events) override {
    epoll_event ev{};
    ev.events = to_flags<EPOLLIN, EPOLLOUT>(events);
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_os_error("epoll_ctl(EPOLL_CTL_ADD)");
    ++registered_;
  }
  void remove(int fd) noexcept override {
    // Fails with EBADF once the fd was closed (the kernel dropped it then):
    // Python ignores that, and so does mpx.
    ::epoll_ctl(epfd_.get(), EPOLL_CTL_DEL, fd, nullptr);
    --registered_;
  }
  void modify(int fd, int events) override {
    epoll_event ev{};
    ev.events = to_flags<EPOLLIN, EPOLLOUT>(events);
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw_os_error("epoll_ctl(EPOLL_CTL_MOD)");
  }
  void close() noexcept override {
    epfd_.reset();
    registered_ = 0;
  }
  void select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) override {
    // At least one slot: epoll_wait refuses maxevents 0 (Python bpo-23009).
    events_.resize(std::max<std::size_t>(registered_, 1));
    for (;;) {
      int n = ::epoll_wait(epfd_.get(), events_.data(), static_cast<int>(events_.size()), deadline.poll_timeout_ms());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_os_error("epoll_wait");
      }
      if (n == 0 && !deadline.is_never() && !deadline.expired()) continue;
      for (int i = 0; i < n; ++i) {
        const auto& ev = events_[static_cast<std::size_t>(i)];
        out.emplace_back(ev.data.fd, to_events<EPOLLIN, EPOLLOUT>(ev.events));
      }
      return;
    }
  }

 private:
  detail::Fd epfd_;
  std::size_t registered_ = 0;
  std::vector<epoll_event> events_;
};

}  // namespace

std::unique_ptr<SelectorBackend> make_select_backend() { return std::make_unique<SelectBackend>(); }
std::unique_ptr<SelectorBackend> make_poll_backend() { return std::make_unique<PollBackend>(); }
std::unique_ptr<SelectorBackend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

}  // namespace impl
}  // namespace mpx::net
