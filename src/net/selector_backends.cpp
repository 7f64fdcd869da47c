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

// ---- select(2) ---------------------------------------------------------------

struct SelectSelector::State {
  std::unordered_map<int, int> fds;  // fd -> EVENT_* mask
};

SelectSelector::SelectSelector() : state_(std::make_unique<State>()) {}
SelectSelector::~SelectSelector() { close(); }

void SelectSelector::backend_register(int fd, int events) {
  // An fd_set has FD_SETSIZE bits; writing past them corrupts the stack.
  if (fd >= FD_SETSIZE) throw ValueError("filedescriptor out of range in select()");
  state_->fds[fd] = events;
}
void SelectSelector::backend_unregister(int fd) noexcept { state_->fds.erase(fd); }
void SelectSelector::backend_modify(int fd, int events) { state_->fds[fd] = events; }
void SelectSelector::backend_close() noexcept { state_->fds.clear(); }

void SelectSelector::backend_select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) {
  for (;;) {
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    int nfds = 0;
    for (auto [fd, events] : state_->fds) {
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
    for (auto [fd, events] : state_->fds) {
      int ready = (FD_ISSET(fd, &r) ? EVENT_READ : 0) | (FD_ISSET(fd, &w) ? EVENT_WRITE : 0);
      if (ready) out.emplace_back(fd, ready);
    }
    return;
  }
}

// ---- poll(2) -----------------------------------------------------------------

struct PollSelector::State {
  std::vector<pollfd> fds;
  std::unordered_map<int, std::size_t> index;  // fd -> position in fds
};

PollSelector::PollSelector() : state_(std::make_unique<State>()) {}
PollSelector::~PollSelector() { close(); }

void PollSelector::backend_register(int fd, int events) {
  state_->fds.push_back(pollfd{fd, static_cast<short>(to_flags<POLLIN, POLLOUT>(events)), 0});
  state_->index[fd] = state_->fds.size() - 1;
}

void PollSelector::backend_unregister(int fd) noexcept {
  auto it = state_->index.find(fd);
  if (it == state_->index.end()) return;
  // Swap with the last entry: O(1), and poll(2) does not care about order.
  std::size_t pos = it->second;
  state_->index.erase(it);
  if (pos + 1 != state_->fds.size()) {
    state_->fds[pos] = state_->fds.back();
    state_->index[state_->fds[pos].fd] = pos;
  }
  state_->fds.pop_back();
}

void PollSelector::backend_modify(int fd, int events) {
  state_->fds.at(state_->index.at(fd)).events = static_cast<short>(to_flags<POLLIN, POLLOUT>(events));
}

void PollSelector::backend_close() noexcept {
  state_->fds.clear();
  state_->index.clear();
}

void PollSelector::backend_select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) {
  auto& fds = state_->fds;
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

// ---- epoll(7) ----------------------------------------------------------------

struct EpollSelector::State {
  detail::Fd epfd;
  std::size_t registered = 0;
  std::vector<epoll_event> events;
};

EpollSelector::EpollSelector() : state_(std::make_unique<State>()) {
  state_->epfd.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!state_->epfd) throw_os_error("epoll_create1");
}
EpollSelector::~EpollSelector() { close(); }

int EpollSelector::fileno() const noexcept { return state_->epfd.get(); }

void EpollSelector::backend_register(int fd, int events) {
  epoll_event ev{};
  ev.events = to_flags<EPOLLIN, EPOLLOUT>(events);
  ev.data.fd = fd;
  if (::epoll_ctl(state_->epfd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_os_error("epoll_ctl(EPOLL_CTL_ADD)");
  ++state_->registered;
}

void EpollSelector::backend_unregister(int fd) noexcept {
  // Fails with EBADF once the fd was closed (the kernel dropped it then):
  // Python ignores that, and so does mpx.
  ::epoll_ctl(state_->epfd.get(), EPOLL_CTL_DEL, fd, nullptr);
  --state_->registered;
}

void EpollSelector::backend_modify(int fd, int events) {
  epoll_event ev{};
  ev.events = to_flags<EPOLLIN, EPOLLOUT>(events);
  ev.data.fd = fd;
  if (::epoll_ctl(state_->epfd.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw_os_error("epoll_ctl(EPOLL_CTL_MOD)");
}

void EpollSelector::backend_close() noexcept {
  state_->epfd.reset();
  state_->registered = 0;
}

void EpollSelector::backend_select(const Deadline& deadline, std::vector<std::pair<int, int>>& out) {
  // At least one slot: epoll_wait refuses maxevents 0 (Python bpo-23009).
  state_->events.resize(std::max<std::size_t>(state_->registered, 1));
  for (;;) {
    int n = ::epoll_wait(state_->epfd.get(), state_->events.data(), static_cast<int>(state_->events.size()),
                         deadline.poll_timeout_ms());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os_error("epoll_wait");
    }
    if (n == 0 && !deadline.is_never() && !deadline.expired()) continue;
    for (int i = 0; i < n; ++i) {
      const auto& ev = state_->events[static_cast<std::size_t>(i)];
      out.emplace_back(ev.data.fd, to_events<EPOLLIN, EPOLLOUT>(ev.events));
    }
    return;
  }
}

}  // namespace mpx::net
