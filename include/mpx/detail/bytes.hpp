// mpx/detail/bytes.hpp — mpx::Bytes, what recv_bytes() returns (Python's bytes).
//
// A std::vector<std::byte> whose new elements are left uninitialised: a
// received message is about to overwrite them, and zero-filling 1 MiB first
// costs a fifth of a socket's bandwidth on these machines.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace mpx {

namespace detail {
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() noexcept = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(noexcept(::new (static_cast<void*>(p)) U)) {
    ::new (static_cast<void*>(p)) U;  // default-, not value-initialised
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
}  // namespace detail

/// Bytes received from another process: a vector of std::byte (converts to
/// std::span<const std::byte>).
using Bytes = std::vector<std::byte, detail::DefaultInitAllocator<std::byte>>;

}  // namespace mpx
