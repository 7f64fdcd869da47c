// mpx/sharedctypes.hpp — multiprocessing.Value, Array, RawValue, RawArray.
//
//   mpx::Value<long> counter(0);                     // Value('l', 0): with an RLock
//   mpx::Array<double> samples(1000);                // Array('d', 1000)
//   mpx::Process p([&] {
//     std::scoped_lock hold(counter.get_lock());     // with counter.get_lock():
//     counter = counter.value() + 1;                 //     counter.value += 1
//     samples.set(-1, 2.5);                          // samples[-1] = 2.5
//   });
//
// T is any trivially copyable type (Python's ctypes). The values live in
// mpx's shared arena, so fork children share them; copies of a handle share
// one value. Every accessor of a Value or an Array — value(), =, get(i),
// set(i, v), slice(), set_slice(), to_vector(), a char array's value(),
// raw() and set_value() — takes the object's lock, as Python's synchronized
// wrappers do, so each is atomic; `v = v.value() + 1` is two steps: hold
// get_lock() around it (exactly Python's rule). The default lock is an RLock,
// which those accessors re-enter. Given a plain Lock instead (lock=Lock()),
// they wait for the lock the caller already holds: a deadlock, in Python
// too. Under a held plain Lock use get_obj(), the unsynchronized object:
//
//   mpx::Lock lock;
//   mpx::Value<int> v(0, lock);                      // Value('i', 0, lock=lock)
//   { std::scoped_lock hold(v.get_lock());           // with v.get_lock():
//     *v.get_obj() += 1; }                           //     v.get_obj().value += 1
//
// Raw kinds have no lock.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/detail/shared_object.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/errors.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

namespace detail {
// An untyped run of shared bytes, kept alive by its block.
struct SharedBytes {
  std::shared_ptr<SharedBlock> block;
  std::byte* data = nullptr;
  /// Travels to a spawned child as a Process argument (detail/transfer.hpp).
  template <class Archive>
  void save(Archive& ar) const {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Parent) throw_not_inheritable("Value and Array");
    ar(t->send_block(block));
  }
  template <class Archive>
  void load(Archive& ar, std::size_t need) {
    Transfer* t = Transfer::current();
    if (!t || t->side() != Transfer::Side::Child) throw_not_inheritable("Value and Array");
    std::uint64_t offset = 0;
    ar(offset);
    auto b = t->receive_block(offset);
    if (b->size() < need) throw DecodeError("shared value: the block is too small for its type");
    data = static_cast<std::byte*>(b->data());
    block = std::move(b);
  }
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

/// An index as Python takes one: any integer type but bool.
template <class I>
concept PyIndex = std::integral<I> && !std::same_as<std::remove_cv_t<I>, bool>;

/// A range whose elements convert to T (Python: any iterable of numbers).
template <class R, class T>
concept RangeOf = std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, T>;

/// How far from the end a negative index points: -1 -> 1 (no overflow for the minimum).
template <PyIndex I>
constexpr std::uintmax_t from_end(I i) noexcept {
  return static_cast<std::uintmax_t>(-(i + 1)) + 1;
}

/// Python's arr[i]: a negative i counts from the end.
/// Throws: IndexError("invalid index") outside [-n, n).
template <PyIndex I>
std::size_t item_index(I i, std::size_t n) {
  if constexpr (std::is_signed_v<I>) {
    if (i < 0) {
      if (from_end(i) > n) throw IndexError("invalid index");
      return n - static_cast<std::size_t>(from_end(i));
    }
  }
  if (static_cast<std::uintmax_t>(i) >= n) throw IndexError("invalid index");
  return static_cast<std::size_t>(i);
}

/// One bound of Python's arr[start:stop]: negative counts from the end, then
/// clamped to [0, n] (Python's slices never raise for their bounds).
template <PyIndex I>
constexpr std::size_t slice_bound(I i, std::size_t n) noexcept {
  if constexpr (std::is_signed_v<I>) {
    if (i < 0) return from_end(i) >= n ? 0 : n - static_cast<std::size_t>(from_end(i));
  }
  return static_cast<std::uintmax_t>(i) >= n ? n : static_cast<std::size_t>(i);
}

/// The elements of `r` as T, read once (an input range can be read only once).
template <class T, class R>
std::vector<T> collect(R&& r) {
  std::vector<T> out;
  if constexpr (std::ranges::sized_range<R>) out.reserve(static_cast<std::size_t>(std::ranges::size(r)));
  for (auto&& x : r) out.push_back(static_cast<T>(std::forward<decltype(x)>(x)));
  return out;
}

/// Not a lock argument: neither a bool nor a Lock (or RLock), nor the LockArg itself.
template <class U, class Arg>
concept NotALockArgument =
    !std::same_as<std::remove_cvref_t<U>, bool> && !std::derived_from<std::remove_cvref_t<U>, Lock> &&
    !std::same_as<std::remove_cvref_t<U>, Arg>;

class SyncLock;
}  // namespace detail

/// The `lock` argument of Value and Array — Python's lock=True / False / a
/// lock: `true` (the default; Python's None too) makes a new RLock, `false`
/// none (get_lock() then throws AttributeError), and an mpx::Lock or an
/// mpx::RLock is used as given (the Value shares it: what one holds the
/// other sees held). Anything else — a string, a pointer, an int — does not
/// compile, where Python raises AttributeError("... has no method 'acquire'").
class LockArg {
 public:
  LockArg(bool lock) {  // NOLINT(google-explicit-constructor): Python's lock=True/False
    if (lock) lock_.emplace(RLock());
  }
  LockArg(const Lock& lock) : lock_(lock) {}  // NOLINT(google-explicit-constructor): a Lock or an RLock
  template <detail::NotALockArgument<LockArg> U>
  LockArg(U&&) = delete;  // mpx: lock= takes true, false, an mpx::Lock or an mpx::RLock

 private:
  friend class detail::SyncLock;
  std::optional<Lock> lock_;
};

namespace detail {
/// The lock of a Value or an Array, if it has one.
class SyncLock {
 public:
  explicit SyncLock(LockArg&& arg) noexcept : lock_(std::move(arg.lock_)) {}
  template <class Archive>
  void save(Archive& ar) const {
    ar(lock_.has_value());
    if (lock_) lock_->save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    bool has = false;
    ar(has);
    if (!has) {
      lock_.reset();
      return;
    }
    if (!lock_) lock_.emplace();
    lock_->load(ar);
  }
  /// Throws: AttributeError if there is none (lock=false).
  Lock& get() const {
    if (!lock_) throw_no_lock();
    return *lock_;
  }
  /// f() under the lock (Python's `with self:`), or plainly if there is none.
  template <class F>
  auto run(F&& f) const {
    if (!lock_) return std::forward<F>(f)();
    std::scoped_lock hold(*lock_);
    return std::forward<F>(f)();
  }

 private:
  mutable std::optional<Lock> lock_;
};
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

  /// Travels to a spawned child as a Process argument: the same value there.
  template <class Archive>
  void save(Archive& ar) const {
    mem_.save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    mem_.load(ar, sizeof(T));
  }

 private:
  detail::SharedBytes mem_;
};

/// Python: multiprocessing.Value(typecode, value, lock=True) — with a new
/// RLock, no lock (lock=false: get_lock() raises AttributeError, as Python
/// has no such attribute), or the given Lock or RLock (see LockArg).
template <class T>
class Value {
 public:
  explicit Value(T init = T{}) : Value(init, true) {}
  Value(T init, LockArg lock) : raw_(init), lock_(std::move(lock)) {}
  /// Python: synchronized(raw) — a Value over an existing RawValue's
  /// storage, with a new RLock.
  explicit Value(const RawValue<T>& raw) : Value(raw, RLock()) {}
  /// Python: synchronized(raw, lock).
  Value(const RawValue<T>& raw, const Lock& lock) : raw_(raw), lock_(LockArg(lock)) {}

  /// Python: .value (read under the lock: with a plain Lock, do not hold it).
  T value() const {
    return lock_.run([&] { return raw_.value(); });
  }
  /// Python: .value = v (written under the lock).
  void set_value(T v) {
    lock_.run([&] { raw_.set_value(v); });
  }
  Value& operator=(T v) {
    set_value(v);
    return *this;
  }
  /// Python: get_lock() — the lock given, or the RLock made. Throws:
  /// AttributeError if made with lock=false.
  Lock& get_lock() const { return lock_.get(); }
  /// Python: get_obj() — the shared object, read and written without the lock.
  T* get_obj() const noexcept { return raw_.get_obj(); }

  /// Travels to a spawned child as a Process argument: the same value and lock there.
  template <class Archive>
  void save(Archive& ar) const {
    raw_.save(ar);
    lock_.save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    raw_.load(ar);
    lock_.load(ar);
  }

 private:
  RawValue<T> raw_;
  detail::SyncLock lock_;
};

/// Python: multiprocessing.RawArray(typecode, size_or_initializer).
template <class T>
class RawArray {
  static_assert(std::is_trivially_copyable_v<T>, "shared arrays hold trivially copyable elements");

 public:
  /// `n` zero-initialised elements.
  explicit RawArray(std::size_t n) : mem_(detail::SharedBytes::make(n * sizeof(T))), n_(n) {}
  /// An empty array (what a spawned child decodes an argument into).
  RawArray() : RawArray(std::size_t{0}) {}

  /// Travels to a spawned child as a Process argument: the same array there.
  template <class Archive>
  void save(Archive& ar) const {
    ar(static_cast<std::uint64_t>(n_));
    mem_.save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint64_t n = 0;
    ar(n);
    if (n > (std::uint64_t{1} << 40) / sizeof(T)) throw DecodeError("shared array: absurd length");
    mem_.load(ar, static_cast<std::size_t>(n) * sizeof(T));
    n_ = static_cast<std::size_t>(n);
  }
  RawArray(std::initializer_list<T> init) : RawArray(std::span<const T>(init.begin(), init.size())) {}
  explicit RawArray(std::span<const T> init) : RawArray(init.size()) {
    if (!init.empty()) std::memcpy(mem_.data, init.data(), init.size() * sizeof(T));
  }
  /// Any input range of values convertible to T (Python: any iterable, e.g.
  /// range(10)): std::views::iota(0, 10), a std::list, a vector of another type.
  template <detail::RangeOf<T> R>
  requires(!std::derived_from<std::remove_cvref_t<R>, RawArray>) explicit RawArray(R&& init)
      : RawArray(std::span<const T>(detail::collect<T>(std::forward<R>(init)))) {}

  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  /// Python: arr[i]; a negative i counts from the end.
  /// Throws: IndexError("invalid index") outside [-size(), size()).
  template <detail::PyIndex I>
  T& at(I i) const {
    return data()[detail::item_index(i, n_)];
  }
  std::size_t size() const noexcept { return n_; }
  T* data() const noexcept { return reinterpret_cast<T*>(mem_.data); }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + n_; }
  std::span<T> span() const noexcept { return {data(), n_}; }
  /// Python: arr[:] — a copy of every element.
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }
  /// Python: arr[start:stop] — negative bounds count from the end, and both
  /// are clamped to the array (never an error; stop <= start is empty).
  template <detail::PyIndex I, detail::PyIndex J>
  std::vector<T> slice(I start, J stop) const {
    auto [a, b] = bounds(start, stop);
    return std::vector<T>(data() + a, data() + b);
  }
  /// Python: arr[start:stop] = values (bounds as in slice()).
  /// Throws: ValueError("Can only assign sequence of same size") unless
  ///   `values` has exactly as many elements as the slice.
  template <detail::PyIndex I, detail::PyIndex J, detail::RangeOf<T> R>
  void set_slice(I start, J stop, R&& values) {
    const std::vector<T> v = detail::collect<T>(std::forward<R>(values));
    assign(bounds(start, stop), v);
  }
  template <detail::PyIndex I, detail::PyIndex J>
  void set_slice(I start, J stop, std::initializer_list<T> values) {
    assign(bounds(start, stop), std::span<const T>(values.begin(), values.size()));
  }

  /// c_char arrays only. Python: .value (bytes up to the first NUL) and .raw.
  std::string value() const requires std::is_same_v<T, char> { return std::string(data(), strnlen(data(), n_)); }
  std::string raw() const requires std::is_same_v<T, char> { return std::string(data(), n_); }
  /// Python: arr.value = b"..." — must fit; NUL-terminated if room is left.
  /// Throws: ValueError("byte string too long").
  void set_value(const std::string& s) requires std::is_same_v<T, char> {
    if (s.size() > n_) throw ValueError("byte string too long");
    std::memcpy(data(), s.data(), s.size());
    if (s.size() < n_) data()[s.size()] = '\0';
  }

 protected:
  using Bounds = std::pair<std::size_t, std::size_t>;
  template <class I, class J>
  Bounds bounds(I start, J stop) const noexcept {
    const std::size_t a = detail::slice_bound(start, n_);
    const std::size_t b = detail::slice_bound(stop, n_);
    return {a, b < a ? a : b};
  }
  void assign(Bounds slice, std::span<const T> values) {
    if (values.size() != slice.second - slice.first) throw ValueError("Can only assign sequence of same size");
    if (!values.empty()) std::memmove(data() + slice.first, values.data(), values.size() * sizeof(T));
  }

 private:
  detail::SharedBytes mem_;
  std::size_t n_;
};

/// Python: multiprocessing.Array(typecode, size_or_initializer, lock=True) —
/// the lock as for Value (see LockArg). Like Python's synchronized array,
/// every access through the Array's own members takes the lock: get(i),
/// set(i, v), slice(), set_slice(), to_vector(), and for char arrays value(),
/// raw() and set_value(). operator[], begin()/end(), data() and span() hand
/// out the shared elements and cannot lock: hold get_lock() around them, and
/// around any loop that must see a consistent array (Python's rule too).
/// get_obj() is the unsynchronized RawArray underneath.
template <class T>
class Array : public RawArray<T> {
 public:
  explicit Array(std::size_t n, LockArg lock = true) : RawArray<T>(n), lock_(std::move(lock)) {}
  /// An empty array (what a spawned child decodes an argument into).
  Array() : Array(std::size_t{0}) {}
  template <class Archive>
  void save(Archive& ar) const {
    RawArray<T>::save(ar);
    lock_.save(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    RawArray<T>::load(ar);
    lock_.load(ar);
  }
  Array(std::initializer_list<T> init, LockArg lock = true) : RawArray<T>(init), lock_(std::move(lock)) {}
  explicit Array(std::span<const T> init, LockArg lock = true) : RawArray<T>(init), lock_(std::move(lock)) {}
  /// Any input range of values convertible to T (Python: any iterable).
  template <detail::RangeOf<T> R>
  requires(!std::derived_from<std::remove_cvref_t<R>, RawArray<T>>) explicit Array(R&& init, LockArg lock = true)
      : RawArray<T>(std::forward<R>(init)), lock_(std::move(lock)) {}

  /// Python: get_lock() — the lock given, or the RLock made.
  /// Throws: AttributeError if made with lock=false.
  Lock& get_lock() const { return lock_.get(); }
  /// Python: get_obj() — the shared array without its lock (the same
  /// elements: what one writes the other reads).
  RawArray<T>& get_obj() noexcept { return *this; }
  const RawArray<T>& get_obj() const noexcept { return *this; }

  /// Python: arr[i] (under the lock); a negative i counts from the end.
  /// Throws: IndexError("invalid index") outside [-size(), size()).
  template <detail::PyIndex I>
  T get(I i) const {
    return lock_.run([&] { return this->at(i); });
  }
  /// Python: arr[i] = v (under the lock). Throws: IndexError as get().
  template <detail::PyIndex I>
  void set(I i, T v) {
    lock_.run([&] { this->at(i) = v; });
  }
  /// Python: arr[:] (under the lock).
  std::vector<T> to_vector() const {
    return lock_.run([&] { return RawArray<T>::to_vector(); });
  }
  /// Python: arr[start:stop] (under the lock); bounds as RawArray::slice.
  template <detail::PyIndex I, detail::PyIndex J>
  std::vector<T> slice(I start, J stop) const {
    return lock_.run([&] { return RawArray<T>::slice(start, stop); });
  }
  /// Python: arr[start:stop] = values (under the lock; `values` is read
  /// before the lock is taken). Throws: ValueError("Can only assign sequence
  /// of same size") unless the lengths match.
  template <detail::PyIndex I, detail::PyIndex J, detail::RangeOf<T> R>
  void set_slice(I start, J stop, R&& values) {
    const std::vector<T> v = detail::collect<T>(std::forward<R>(values));
    lock_.run([&] { this->assign(this->bounds(start, stop), v); });
  }
  template <detail::PyIndex I, detail::PyIndex J>
  void set_slice(I start, J stop, std::initializer_list<T> values) {
    lock_.run([&] { this->assign(this->bounds(start, stop), std::span<const T>(values.begin(), values.size())); });
  }

  /// c_char arrays only, under the lock (Python's SynchronizedString).
  std::string value() const requires std::is_same_v<T, char> {
    return lock_.run([&] { return RawArray<T>::value(); });
  }
  std::string raw() const requires std::is_same_v<T, char> {
    return lock_.run([&] { return RawArray<T>::raw(); });
  }
  /// Throws: ValueError("byte string too long").
  void set_value(const std::string& s) requires std::is_same_v<T, char> {
    lock_.run([&] { RawArray<T>::set_value(s); });
  }

 private:
  detail::SyncLock lock_;
};

}  // namespace mpx
