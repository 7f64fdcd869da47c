// The bookkeeping every selector shares (CPython's _BaseSelectorImpl): the
// fd -> key map, the argument checks and errors, and select()'s filtering.
// The kernel side of each class is in selector_backends.cpp.
#include "mpx/net/selectors.hpp"

#include <string>

namespace mpx::net {

namespace {

void check_events(int events) {
  if (events == 0 || (events & ~(EVENT_READ | EVENT_WRITE)) != 0) {
    throw ValueError("Invalid events: " + std::to_string(events));
  }
}

[[noreturn]] void not_registered(int fd) { throw KeyError(std::to_string(fd) + " is not registered"); }

}  // namespace

BaseSelector::~BaseSelector() = default;

void BaseSelector::check_open() const {
  if (closed_) throw RuntimeError("Selector is closed");
}

KeyRef BaseSelector::add(int fd, int events, std::any data, std::any fileobj) {
  check_open();
  check_events(events);
  if (fd < 0) throw ValueError("Invalid file descriptor: " + std::to_string(fd));
  if (keys_.count(fd) != 0) throw KeyError("FD " + std::to_string(fd) + " is already registered");
  auto key = std::make_shared<const SelectorKey>(SelectorKey{std::move(fileobj), fd, events, std::move(data)});
  auto [it, inserted] = keys_.emplace(fd, key);
  try {
    backend_register(fd, events);
  } catch (...) {
    // Python removes the key again when the kernel refuses (epoll and a regular file).
    keys_.erase(it);
    throw;
  }
  return key;
}

KeyRef BaseSelector::remove(int fd) {
  auto it = keys_.find(fd);
  if (it == keys_.end()) not_registered(fd);
  KeyRef key = std::move(it->second);
  keys_.erase(it);
  backend_unregister(fd);
  return key;
}

KeyRef BaseSelector::change(int fd, int events, std::any data) {
  auto it = keys_.find(fd);
  if (it == keys_.end()) not_registered(fd);
  check_events(events);
  const KeyRef& old = it->second;
  if (events != old->events) {
    try {
      backend_modify(fd, events);
    } catch (...) {
      // CPython bpo-30014: a key whose kernel registration is in an unknown
      // state must not stay in the map.
      keys_.erase(it);
      backend_unregister(fd);
      throw;
    }
  } else if (!data.has_value() && !old->data.has_value()) {
    return old;  // nothing changed: Python hands back the same key
  }
  auto key = std::make_shared<const SelectorKey>(SelectorKey{old->fileobj, fd, events, std::move(data)});
  it->second = key;
  return key;
}

Ready BaseSelector::select_until(const detail::Deadline& deadline) {
  check_open();
  scratch_.clear();
  backend_select(deadline, scratch_);
  Ready ready;
  ready.reserve(scratch_.size());
  for (auto [fd, events] : scratch_) {
    // A key unregistered since the kernel reported it is dropped, as in Python.
    auto it = keys_.find(fd);
    if (it == keys_.end()) continue;
    if (int mine = events & it->second->events) ready.emplace_back(it->second, mine);
  }
  return ready;
}

void BaseSelector::close() noexcept {
  if (closed_) return;
  closed_ = true;
  keys_.clear();
  backend_close();
}

KeyRef BaseSelector::get_key(int fd) const {
  check_open();
  auto it = keys_.find(fd);
  if (it == keys_.end()) not_registered(fd);
  return it->second;
}

std::size_t SelectorMapping::size() const noexcept { return owner_->keys_.size(); }
bool SelectorMapping::contains(int fd) const noexcept { return owner_->keys_.count(fd) != 0; }

const KeyRef& SelectorMapping::operator[](int fd) const {
  auto it = owner_->keys_.find(fd);
  if (it == owner_->keys_.end()) not_registered(fd);
  return it->second;
}

KeyRef SelectorMapping::get(int fd) const {
  auto it = owner_->keys_.find(fd);
  return it == owner_->keys_.end() ? nullptr : it->second;
}

SelectorMapping::Map::const_iterator SelectorMapping::begin() const noexcept { return owner_->keys_.begin(); }
SelectorMapping::Map::const_iterator SelectorMapping::end() const noexcept { return owner_->keys_.end(); }

}  // namespace mpx::net
