// mpx/detail/arena.hpp — shared memory that every cross-process object lives in.
//
//   auto& arena = mpx::detail::Arena::shared();        // this process's default
//   auto off = arena.allocate(sizeof(Word));            // an offset, not a pointer
//   auto* w = arena.at<Word>(off);                      // same bytes in every fork child
//
// An arena is one memfd segment mapped MAP_SHARED: fork children inherit the
// mapping at the same address, and the descriptor can be passed to unrelated
// processes (SCM_RIGHTS) which map it elsewhere — hence offsets. Nothing is
// ever named in /dev/shm, so nothing outlives the last process that maps it,
// even after SIGKILL.
//
// Layout:
//   [Header: magic | capacity | top | free list head per size class]
//   [links: one 32-bit next-free word per 64-byte granule] [blocks ...]
//
// Allocation is lock-free (a bump pointer, then one Treiber stack of freed
// blocks per power-of-two size class, with an ABA tag; the stacks' links are
// kept beside the blocks, never inside them), so a process killed
// in the middle of allocate() or deallocate() can leak at most that block and
// never blocks the others.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "mpx/detail/fd.hpp"

namespace mpx::detail {

class Arena {
 public:
  static constexpr std::size_t kMinBlock = 64;  // one cache line: no false sharing between blocks
  static constexpr int kClasses = 40;           // 64 B .. 32 TiB

  /// A fresh arena of `capacity` bytes (virtual: pages cost only when touched).
  static Arena create(std::size_t capacity, const char* name = "mpx-arena");
  /// Maps an arena created elsewhere from its descriptor; checks the header.
  static Arena attach(Fd fd);
  /// This process's default arena, made on first use (capacity: MPX_ARENA_SIZE
  /// bytes from the environment, else 1 GiB of address space).
  static Arena& shared();
  /// In a spawned child, before anything uses shared(): make `fd` (the
  /// parent's arena) this process's shared arena. False if shared() was
  /// already made (then objects made earlier live in another arena).
  static bool adopt_shared(Fd fd);

  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  /// Returns the offset of a zero-filled block of at least `bytes`, aligned
  /// to 64. Throws mpx::Error when the arena is full.
  std::uint64_t allocate(std::size_t bytes);
  /// Returns a block to the arena; `bytes` must be what allocate() was given.
  void deallocate(std::uint64_t offset, std::size_t bytes) noexcept;

  template <class T>
  T* at(std::uint64_t offset) const noexcept {
    return reinterpret_cast<T*>(base_ + offset);
  }
  std::uint64_t offset_of(const void* p) const noexcept {
    return static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - base_);
  }
  bool contains(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= base_ && b < base_ + capacity_;
  }
  std::size_t capacity() const noexcept { return capacity_; }
  /// Bytes handed out by the bump pointer so far (freed blocks and the
  /// arena's own bookkeeping included).
  std::size_t used() const noexcept;
  int fd() const noexcept { return fd_.get(); }

 private:
  struct Header;
  Arena(Fd fd, std::byte* base, std::size_t capacity) noexcept;
  Header* header() const noexcept { return reinterpret_cast<Header*>(base_); }
  std::atomic<std::uint32_t>& link(std::uint64_t offset) const noexcept;

  Fd fd_;
  std::byte* base_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace mpx::detail
