// mpx/shared_memory.hpp — multiprocessing.shared_memory: SharedMemory and ShareableList.
//
//   mpx::SharedMemory shm({.create = true, .size = 512});   // SharedMemory(create=True, size=512)
//   shm.buf()[0] = std::byte{42};
//   mpx::Process p([name = shm.name()] {                     // only the name crosses over
//     mpx::SharedMemory other(name);                         // SharedMemory(name)
//     other.buf()[1] = std::byte{43};
//   });
//   p.start();
//   p.join();
//   shm.close();
//   shm.unlink();                                            // once, by one process
//
//   mpx::ShareableList sl({"howdy", mpx::bytes("HoWdY"), -273.154, 100, mpx::None, true, 42});
//   mpx::ShareableList same(std::nullopt, sl.shm().name());  // ShareableList(name=...)
//   same[3] = 7;                                             // sl[3] is 7 too
//
// Segments are named POSIX shared memory (/dev/shm/<name>), attachable from
// any process that knows the name — Python's included: a ShareableList has
// Python's exact layout, so Python can attach to an mpx list and the reverse.
//
// Nothing leaks. A segment this process creates is registered with the
// program's resource tracker (a small process started at the first create;
// the "program" is that process and everything forked from it). When the
// last process of the program is gone — exit, crash or SIGKILL — the tracker
// unlinks what was never unlink()ed and warns on stderr, as Python's does.
// Unlike Python, attaching does not register by default (Python's attaching
// process unlinks the segment when it exits, gh-82300), and unlink() from any
// handle of the program unregisters, so the tracker never unlinks a name
// twice — nor a name that was unlinked and reused since (it checks the inode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mpx/errors.hpp"

namespace mpx {

/// Python's keyword arguments of SharedMemory(name=None, create=False, size=0, *, track=True).
struct SharedMemoryOptions {
  std::optional<std::string> name{};  ///< unset (None): a fresh random name; create only
  bool create = false;
  std::int64_t size = 0;        ///< the size to create; ignored when attaching
  std::optional<bool> track{};  ///< unset: track what this handle creates, not what it attaches
};

/// A block of named shared memory, mapped into this process.
///
/// Move-only: the handle owns one mapping (Python's object does the same);
/// another handle on the same block is SharedMemory(name()).
class SharedMemory {
 public:
  /// Python: SharedMemory(name=None, create=False, size=0, *, track=True).
  /// Throws: ValueError ("'size' must be a positive integer", "'size' must be a
  ///   positive number different from zero", "'name' can only be None if
  ///   create=True", "embedded null character", "cannot mmap an empty file");
  ///   FileNotFoundError attaching to a name that does not exist;
  ///   FileExistsError creating a name in use; OSError otherwise.
  explicit SharedMemory(SharedMemoryOptions options);
  /// The positional form: SharedMemory(name), SharedMemory(name, true, size),
  /// SharedMemory(std::nullopt, true, size).
  explicit SharedMemory(std::optional<std::string> name, bool create = false, std::int64_t size = 0);

  /// An empty handle (no name, nothing mapped), as a moved-from one: assign to it.
  SharedMemory() noexcept = default;
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;

  /// Travels by name, as Python pickles it: the receiver attaches to the
  /// same block (SharedMemory(name)) — a Process argument under any start
  /// method, or a message through a Queue or Pipe.
  /// Throws (load): FileNotFoundError if the name is gone by then.
  template <class Archive>
  void save(Archive& ar) const {
    if (posix_name_.empty()) throw ValueError("cannot send a SharedMemory handle that has no name");
    ar(name());
  }
  template <class Archive>
  void load(Archive& ar) {
    std::string n;
    ar(n);
    *this = SharedMemory(std::move(n));
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  /// Closes (Python's __del__); never unlinks.
  ~SharedMemory();

  /// The mapped bytes; empty once closed. Python: buf (a memoryview).
  /// Safe from: any thread or process; the bytes have no synchronisation of
  /// their own (use a Lock, or atomics placed in them).
  std::span<std::byte> buf() const noexcept { return {data_, data_ ? size_ : 0}; }
  /// Python: name — without the leading '/' the POSIX name has.
  std::string name() const;
  /// Python: size — in bytes; kept after close().
  std::size_t size() const noexcept { return size_; }

  /// Unmaps this handle's view; the block stays for other handles.
  /// Python: close(). Idempotent.
  void close() noexcept;
  /// Removes the name: no one can attach any more; the memory lives on until
  /// every mapping is closed. Call it once, from one handle of one process.
  /// Python: unlink().
  /// Throws: FileNotFoundError if the name was already unlinked.
  void unlink();

  /// Python: repr() — "SharedMemory('psm_1a2b3c4d', size=512)".
  std::string repr() const;

 private:
  std::string posix_name_;  // with the leading '/'; empty when moved from
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t dev_ = 0;
  std::uint64_t ino_ = 0;
};

/// Python's None in a ShareableList.
inline constexpr std::monostate None{};
/// Python's bytes literal: mpx::bytes("HoWdY") is b'HoWdY'.
inline std::vector<std::byte> bytes(std::string_view s) {
  auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}

/// A fixed-length list of int, float, bool, str, bytes and None values in
/// one shared-memory block, with Python's layout (8-byte slots; str and bytes
/// get their length rounded up to a multiple of 8, plus 8, when created).
///
/// Not synchronised, like Python's: concurrent writers of one item need a Lock.
class ShareableList {
 public:
  /// Python's element types: None, int, float, bool, str (UTF-8), bytes.
  using Value = std::variant<std::monostate, std::int64_t, double, bool, std::string, std::vector<std::byte>>;

  /// Python: ShareableList(sequence, *, name=None) — creates a block holding
  /// `sequence` (an empty list is allowed), named `name` or a random name.
  /// Throws: as SharedMemory({.name, .create = true}); ValueError if a str or
  ///   bytes item is too long for a slot format ("%ds" with 7 digits at most).
  explicit ShareableList(std::vector<Value> sequence = {}, std::optional<std::string> name = std::nullopt);
  /// Python: ShareableList(name=name) — attaches to an existing list.
  /// Throws: FileNotFoundError; ValueError if the block is not a ShareableList.
  ShareableList(std::nullopt_t, std::string name);

  /// sl[i] = value, and reading through the same expression.
  class Reference {
   public:
    operator Value() const { return list_->get(index_); }
    Value value() const { return list_->get(index_); }
    Reference& operator=(const Value& v) {
      list_->set(index_, v);
      return *this;
    }
    Reference& operator=(const Reference& other) { return *this = other.value(); }
    friend bool operator==(const Reference& r, const Value& v) { return r.value() == v; }

   private:
    friend class ShareableList;
    Reference(ShareableList* list, std::ptrdiff_t index) : list_(list), index_(index) {}
    ShareableList* list_;
    std::ptrdiff_t index_;
  };

  /// Python: sl[i]; negative i counts from the end.
  /// Throws: IndexError("index out of range").
  Value get(std::ptrdiff_t index) const;
  Value operator[](std::ptrdiff_t index) const { return get(index); }
  Reference operator[](std::ptrdiff_t index) { return Reference(this, index); }
  /// Python: sl[i] = value. A str or bytes must fit the slot's storage; other
  /// values fit any slot. The item's type may change, as in Python.
  /// Throws: IndexError("assignment index out of range");
  ///   ValueError("bytes/str item exceeds available storage").
  void set(std::ptrdiff_t index, const Value& value);

  /// Python: len(sl).
  std::size_t size() const noexcept { return static_cast<std::size_t>(length_); }
  /// Python: count(value) — with Python's ==, so 1, 1.0 and True are equal.
  std::size_t count(const Value& value) const;
  /// Python: index(value). Throws: ValueError("<repr> not in this container").
  std::size_t index(const Value& value) const;
  /// Python: format — the struct formats of the items, e.g. "8s8sdqxxxxxx?x".
  std::string format() const;
  /// Python: list(sl).
  std::vector<Value> tolist() const;
  /// Python: shm — the block; shm().close() and shm().unlink() as in Python.
  SharedMemory& shm() noexcept { return shm_; }
  const SharedMemory& shm() const noexcept { return shm_; }
  /// Python: repr() — "ShareableList(['howdy', 42], name='psm_1a2b3c4d')".
  std::string repr() const;

  /// Iteration yields values (Python: for x in sl).
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using reference = Value;
    using pointer = void;
    const_iterator() = default;
    Value operator*() const { return list_->get(index_); }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++index_;
      return old;
    }
    bool operator==(const const_iterator&) const = default;

   private:
    friend class ShareableList;
    const_iterator(const ShareableList* list, std::ptrdiff_t index) : list_(list), index_(index) {}
    const ShareableList* list_ = nullptr;
    std::ptrdiff_t index_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, length_}; }

 private:
  void attach_layout();
  std::size_t slot(std::ptrdiff_t index, const char* what) const;
  std::string packing_format(std::size_t i) const;

  SharedMemory shm_;
  std::ptrdiff_t length_ = 0;
  std::vector<std::int64_t> offsets_;  // allocated offsets of items in the data area, length_ + 1 of them
};

/// Python's repr() of a value: 'howdy', b'HoWdY', -273.154, 100, None, True.
std::string repr(const ShareableList::Value& value);

}  // namespace mpx
