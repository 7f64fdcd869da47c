// mpx/net/selectors.hpp — Python's selectors module: wait for many sockets at once.
//
//   using namespace mpx::net;
//   DefaultSelector sel;                              // epoll
//   Socket server = create_server(InetAddress{"127.0.0.1", 0});
//   server.setblocking(false);
//   sel.register_(server, EVENT_READ);
//   for (;;) {
//     for (auto& [key, events] : sel.select()) {     // blocks; select(1s) waits at most 1 s
//       if (key->fileobj_as<Socket>() == &server) { ... accept ... }
//       auto* conn = std::any_cast<Conn*>(key->data);  // what register_ attached
//     }
//   }
//
// `register` is a C++ keyword, so Python's register() is register_().
//
// A file object is a plain descriptor or any object with `int fileno()` (a
// Socket, a Connection); the selector keeps a pointer to the object, so it
// must outlive its registration. data is a std::any: one selector usually
// watches different kinds of things (the listener wants an accept handler,
// each connection its own state), which a single template parameter could
// not express without a variant, and std::any holds a pointer or a small
// callable in place, without allocating. Store a pointer (or shared_ptr) to
// state you mean to change: the key itself is immutable, as Python's
// namedtuple is, and modify() makes a new one.
//
// Keys are shared: select() hands out shared_ptrs, so a key unregistered by
// one handler stays valid for the handlers still iterating over the result.
#pragma once

#include <any>
#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/errors.hpp"

namespace mpx::net {

/// Python: selectors.EVENT_READ, EVENT_WRITE.
inline constexpr int EVENT_READ = 1;
inline constexpr int EVENT_WRITE = 2;

/// Python: selectors.SelectorKey(fileobj, fd, events, data).
struct SelectorKey {
  /// The registered object as a T* (register_(T&)), or the int descriptor.
  std::any fileobj;
  int fd = -1;
  int events = 0;
  /// What register_/modify attached; mutable like the object a Python key refers to.
  mutable std::any data;

  /// The registered object if it is a T, else nullptr.
  template <class T>
  T* fileobj_as() const noexcept {
    auto* p = std::any_cast<T*>(&fileobj);
    return p ? *p : nullptr;
  }
};
using KeyRef = std::shared_ptr<const SelectorKey>;
/// What select() returns: (key, ready events ∩ key->events) pairs.
using Ready = std::vector<std::pair<KeyRef, int>>;

template <class T>
concept FileObject = requires(const T& f) {
  { f.fileno() } -> std::convertible_to<int>;
};

class BaseSelector;

/// Python: the read-only mapping get_map() returns (fd -> key). It is a view:
/// it follows later registrations, and is empty once the selector is closed.
class SelectorMapping {
 public:
  using Map = std::unordered_map<int, KeyRef>;
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  bool contains(int fd) const noexcept;
  template <FileObject F>
  bool contains(const F& fileobj) const;
  /// Python: mapping[fileobj]. Throws: KeyError if not registered.
  const KeyRef& operator[](int fd) const;
  template <FileObject F>
  const KeyRef& operator[](const F& fileobj) const;
  /// Python: mapping.get(fileobj): nullptr if not registered.
  KeyRef get(int fd) const;
  Map::const_iterator begin() const noexcept;
  Map::const_iterator end() const noexcept;

 private:
  friend class BaseSelector;
  explicit SelectorMapping(const BaseSelector& owner) : owner_(&owner) {}
  const BaseSelector* owner_;
};

/// Python: selectors.BaseSelector (with _BaseSelectorImpl's bookkeeping).
/// One thread at a time, as in Python. Not copyable or movable: the mapping
/// view points at it.
class BaseSelector {
 public:
  BaseSelector(const BaseSelector&) = delete;
  BaseSelector& operator=(const BaseSelector&) = delete;
  virtual ~BaseSelector();

  /// Watches `fd` for `events` (EVENT_READ | EVENT_WRITE) with `data` attached.
  /// Python: register(fileobj, events, data=None)
  /// Throws: ValueError (no or unknown events, negative fd); KeyError if
  ///   already registered; OSError from the kernel (epoll refuses regular files).
  KeyRef register_(int fd, int events, std::any data = {}) { return add(fd, events, std::move(data), fd); }
  template <FileObject F>
  KeyRef register_(F& fileobj, int events, std::any data = {}) {
    return add(fileno_of(fileobj), events, std::move(data), std::any(&fileobj));
  }
  /// Python: unregister(fileobj); works after the descriptor was closed.
  /// Throws: KeyError if not registered.
  KeyRef unregister(int fd) { return remove(fd); }
  template <FileObject F>
  KeyRef unregister(F& fileobj) {
    return remove(lookup(fileobj));
  }
  /// Python: modify(fileobj, events, data=None): a new key; the same key if
  /// nothing changes. Throws: as register_; on an OS error the file object
  /// is unregistered (CPython bpo-30014).
  KeyRef modify(int fd, int events, std::any data = {}) { return change(fd, events, std::move(data)); }
  template <FileObject F>
  KeyRef modify(F& fileobj, int events, std::any data = {}) {
    return change(lookup(fileobj), events, std::move(data));
  }

  /// Waits until a registered object is ready or the timeout passes.
  /// Python: select(timeout=None); timeout <= 0 polls without waiting.
  /// Blocks: up to `timeout` (forever for select() or mpx::forever); EINTR
  ///   is retried with the time left. Throws: RuntimeError if closed; OSError.
  Ready select() { return select_until(detail::Deadline::never()); }
  template <class Rep, class Period>
  Ready select(std::chrono::duration<Rep, Period> timeout) {
    if (std::chrono::duration<double>(timeout) >= std::chrono::duration<double>(std::chrono::nanoseconds::max()))
      return select_until(detail::Deadline::never());
    return select_until(detail::Deadline::after(timeout));
  }
  Ready select(std::optional<std::chrono::nanoseconds> timeout) { return timeout ? select(*timeout) : select(); }
  /// The same with the caller's deadline (for loops that keep one across calls).
  Ready select_until(const detail::Deadline& deadline);

  /// Python: close(). Unregisters everything and frees the kernel object;
  /// idempotent; the destructor calls it.
  void close() noexcept;
  bool closed() const noexcept { return closed_; }
  /// Python: get_key(fileobj). Throws: RuntimeError if closed, KeyError.
  KeyRef get_key(int fd) const;
  template <FileObject F>
  KeyRef get_key(const F& fileobj) const {
    check_open();
    return get_key(lookup(fileobj));
  }
  /// Python: get_map().
  const SelectorMapping& get_map() const noexcept { return map_; }

 protected:
  BaseSelector() : map_(*this) {}
  // The strategy each selector class supplies. events are EVENT_* masks.
  virtual void backend_register(int fd, int events) = 0;
  virtual void backend_unregister(int fd) noexcept = 0;  // ignores a closed fd
  virtual void backend_modify(int fd, int events) = 0;
  /// Appends (fd, EVENT_* mask) pairs; returns with none if the deadline
  /// passes. Must not throw on EINTR.
  virtual void backend_select(const detail::Deadline& deadline, std::vector<std::pair<int, int>>& out) = 0;
  virtual void backend_close() noexcept {}

 private:
  friend class SelectorMapping;
  template <FileObject F>
  static int fileno_of(const F& fileobj) {
    return static_cast<int>(fileobj.fileno());
  }
  // Python's _fileobj_lookup: the object's fd, or, if it is closed, the fd
  // it was registered under (found by identity).
  template <FileObject F>
  int lookup(const F& fileobj) const {
    int fd = fileno_of(fileobj);
    if (fd >= 0) return fd;
    for (const auto& [kfd, key] : keys_) {
      if (key->template fileobj_as<F>() == &fileobj || key->template fileobj_as<const F>() == &fileobj) return kfd;
    }
    throw ValueError("Invalid file descriptor: " + std::to_string(fd));
  }
  KeyRef add(int fd, int events, std::any data, std::any fileobj);
  KeyRef remove(int fd);
  KeyRef change(int fd, int events, std::any data);
  void check_open() const;

  SelectorMapping::Map keys_;
  SelectorMapping map_;
  std::vector<std::pair<int, int>> scratch_;
  bool closed_ = false;
};

template <FileObject F>
bool SelectorMapping::contains(const F& fileobj) const {
  try {
    return contains(owner_->lookup(fileobj));
  } catch (const ValueError&) {
    return false;
  }
}
template <FileObject F>
const KeyRef& SelectorMapping::operator[](const F& fileobj) const {
  return (*this)[owner_->lookup(fileobj)];
}

namespace impl {
/// The kernel side of a selector (select, poll or epoll; src/net/selector_backends.cpp).
class SelectorBackend {
 public:
  virtual ~SelectorBackend() = default;
  virtual void add(int fd, int events) = 0;
  virtual void remove(int fd) noexcept = 0;  // ignores a closed fd
  virtual void modify(int fd, int events) = 0;
  virtual void select(const mpx::detail::Deadline& deadline, std::vector<std::pair<int, int>>& out) = 0;
  virtual void close() noexcept = 0;
  /// The kernel object's descriptor, if it has one; -1 otherwise or once closed.
  virtual int fileno() const noexcept { return -1; }
};
std::unique_ptr<SelectorBackend> make_select_backend();
std::unique_ptr<SelectorBackend> make_poll_backend();
/// Throws: OSError naming epoll_create1.
std::unique_ptr<SelectorBackend> make_epoll_backend();

/// A BaseSelector over one SelectorBackend: the three selector classes
/// differ only in the backend they make.
class KernelSelector : public BaseSelector {
 public:
  ~KernelSelector() override { close(); }

 protected:
  explicit KernelSelector(std::unique_ptr<SelectorBackend> backend) : backend_(std::move(backend)) {}
  int backend_fileno() const noexcept { return backend_->fileno(); }

 private:
  void backend_register(int fd, int events) override { backend_->add(fd, events); }
  void backend_unregister(int fd) noexcept override { backend_->remove(fd); }
  void backend_modify(int fd, int events) override { backend_->modify(fd, events); }
  void backend_select(const mpx::detail::Deadline& deadline, std::vector<std::pair<int, int>>& out) override {
    backend_->select(deadline, out);
  }
  void backend_close() noexcept override { backend_->close(); }
  std::unique_ptr<SelectorBackend> backend_;
};
}  // namespace impl

/// Python: selectors.SelectSelector — select(2); descriptors must be below
/// FD_SETSIZE (1024): ValueError otherwise, as Python's select.select.
class SelectSelector final : public impl::KernelSelector {
 public:
  SelectSelector() : KernelSelector(impl::make_select_backend()) {}
};

/// Python: selectors.PollSelector — poll(2).
class PollSelector final : public impl::KernelSelector {
 public:
  PollSelector() : KernelSelector(impl::make_poll_backend()) {}
};

/// Python: selectors.EpollSelector — epoll(7), level-triggered.
class EpollSelector final : public impl::KernelSelector {
 public:
  /// Throws: OSError naming epoll_create1.
  EpollSelector() : KernelSelector(impl::make_epoll_backend()) {}
  /// Python: EpollSelector.fileno(): the epoll descriptor; -1 once closed.
  int fileno() const noexcept { return backend_fileno(); }
};

/// Python: selectors.DefaultSelector — the best selector of the platform: epoll.
using DefaultSelector = EpollSelector;

}  // namespace mpx::net
