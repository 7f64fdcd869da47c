// mpx/sharedctypes.hpp — multiprocessing.Value, Array, RawValue, RawArray.
//
//   mpx::Value<long> counter(0);                     // Value('l', 0): with an RLock
//   mpx::Array<double> samples(1000);                // Array('d', 1000)
//   mpx::Process p([&] {
//     std::scoped_lock hold(counter.get_lock());     // with counter.get_lock():
//     counter = counter.value() + 1;                 //     counter.value += 1
//     samples[3] = 2.5;
//   });
//
// T is any trivially copyable type (Python's ctypes). The values live in
// mpx's shared arena, so fork children share them; copies of a handle share
// one value. value() and assignment take the lock as Python's synchronized
// wrapper does, so each is atomic, but `v = v.value() + 1` is two steps:
// hold get_lock() around it (exactly Python's rule). Raw kinds have no lock.
#pragma once

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "mpx/detail/shared_object.hpp"
#include "mpx/errors.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

namespace detail {
// An untyped run of shared bytes, kept alive by its block.
struct SharedBytes {
  std::shared_ptr<SharedBlock> block;
  std::byte* data = nullptr;
  static SharedBytes make(std::size_t bytes) {
    SharedBytes b;
    b.block = std::make_shared<SharedBlock>(bytes == 0 ? 1 : bytes);
    b.data = static_cast<std::byte*>(b.block->data());
    return b;
  }
};
[[noreturn]] inline void throw_no_lock() {
  throw AttributeError("this object was made with lock=false and has no get_lock()");
}
}  // namespace detail

/// Python: multiprocessing.RawValue(typecode, value) — no lock.
template <class T>
class RawValue {
  static_assert(std::is_trivially_copyable_v<T>, "shared values must be trivially copyable");

 public:
  explicit RawValue(T init = T{}) : mem_(detail::SharedBytes::make(sizeof(T))) {
    std::memcpy(mem_.data, &init, sizeof(T));
  }
  T value() const noexcept {
    T v;
    std::memcpy(&v, mem_.data, sizeof(T));
    return v;
  }
  void set_value(T v) noexcept { std::memcpy(mem_.data, &v, sizeof(T)); }
  RawValue& operator=(T v) noexcept {
    set_value(v);
    return *this;
  }
  /// The shared object itself (Python: get_obj()).
  T* get_obj() const noexcept { return reinterpret_cast<T*>(mem_.data); }

 private:
  detail::SharedBytes mem_;
};

/// Python: multiprocessing.Value(typecode, value, lock=True) — with an RLock
/// (or the given lock); lock=false makes a RawValue-like object whose
/// get_lock() raises AttributeError, as in Python.
template <class T>
class Value {
 public:
  explicit Value(T init = T{}, bool lock = true) : raw_(init) {
    if (lock) lock_.emplace();
  }
  Value(T init, const RLock& lock) : raw_(init), lock_(lock) {}
  /// Python: synchronized(raw) — a Value over an existing RawValue's storage.
  explicit Value(const RawValue<T>& raw, const RLock& lock = RLock()) : raw_(raw), lock_(lock) {}

  /// Python: .value (read under the lock).
  T value() const {
    if (!lock_) return raw_.value();
    std::scoped_lock hold(*lock_);
    return raw_.value();
  }
  /// Python: .value = v (written under the lock).
  void set_value(T v) {
    if (!lock_) return raw_.set_value(v);
    std::scoped_lock hold(*lock_);
    raw_.set_value(v);
  }
  Value& operator=(T v) {
    set_value(v);
    return *this;
  }
  /// Python: get_lock(). Throws: AttributeError if made with lock=false.
  RLock& get_lock() const {
    if (!lock_) detail::throw_no_lock();
    return *lock_;
  }
  T* get_obj() const noexcept { return raw_.get_obj(); }

 private:
  RawValue<T> raw_;
  mutable std::optional<RLock> lock_;
};

/// Python: multiprocessing.RawArray(typecode, size_or_initializer).
template <class T>
class RawArray {
  static_assert(std::is_trivially_copyable_v<T>, "shared arrays hold trivially copyable elements");

 public:
  /// `n` zero-initialised elements.
  explicit RawArray(std::size_t n) : mem_(detail::SharedBytes::make(n * sizeof(T))), n_(n) {}
  RawArray(std::initializer_list<T> init) : RawArray(std::span<const T>(init.begin(), init.size())) {}
  explicit RawArray(std::span<const T> init) : RawArray(init.size()) {
    if (!init.empty()) std::memcpy(mem_.data, init.data(), init.size() * sizeof(T));
  }

  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  /// Bounds-checked: Python's IndexError("invalid index") becomes ValueError.
  T& at(std::size_t i) const {
    if (i >= n_) throw ValueError("invalid index");
    return data()[i];
  }
  std::size_t size() const noexcept { return n_; }
  T* data() const noexcept { return reinterpret_cast<T*>(mem_.data); }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + n_; }
  std::span<T> span() const noexcept { return {data(), n_}; }
  /// Python: a[:] — a copy of every element.
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

  /// c_char arrays only. Python: .value (bytes up to the first NUL) and .raw.
  std::string value() const requires std::is_same_v<T, char> { return std::string(data(), strnlen(data(), n_)); }
  std::string raw() const requires std::is_same_v<T, char> { return std::string(data(), n_); }
  /// Python: arr.value = b"..." — must fit; NUL-terminated if room is left.
  void set_value(const std::string& s) requires std::is_same_v<T, char> {
    if (s.size() > n_) throw ValueError("byte string too long");
    std::memcpy(data(), s.data(), s.size());
    if (s.size() < n_) data()[s.size()] = '\0';
  }

 private:
  detail::SharedBytes mem_;
  std::size_t n_;
};

/// Python: multiprocessing.Array(typecode, size_or_initializer, lock=True).
/// Python's synchronized array takes the lock for each item read or write:
/// get(i) and set(i, v) do the same. operator[] hands out a reference and so
/// cannot lock: hold get_lock() around it, and around any loop that must see
/// a consistent array (Python's rule too).
template <class T>
class Array : public RawArray<T> {
 public:
  explicit Array(std::size_t n, bool lock = true) : RawArray<T>(n) {
    if (lock) lock_.emplace();
  }
  Array(std::initializer_list<T> init, bool lock = true) : RawArray<T>(init) {
    if (lock) lock_.emplace();
  }
  explicit Array(std::span<const T> init, bool lock = true) : RawArray<T>(init) {
    if (lock) lock_.emplace();
  }
  RLock& get_lock() const {
    if (!lock_) detail::throw_no_lock();
    return *lock_;
  }
  /// Python: arr[i] (under the lock). Throws: ValueError past the end.
  T get(std::size_t i) const {
    if (!lock_) return this->at(i);
    std::scoped_lock hold(*lock_);
    return this->at(i);
  }
  /// Python: arr[i] = v (under the lock).
  void set(std::size_t i, T v) {
    if (!lock_) {
      this->at(i) = v;
      return;
    }
    std::scoped_lock hold(*lock_);
    this->at(i) = v;
  }

 private:
  mutable std::optional<RLock> lock_;
};

}  // namespace mpx
