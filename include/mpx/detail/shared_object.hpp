// mpx/detail/shared_object.hpp — a handle to an object living in the shared arena.
//
//   struct EventState { std::atomic<uint32_t> flag; };
//   detail::Shared<EventState> st = detail::Shared<EventState>::make();
//   st->flag.store(1);                      // seen by every fork child
//
// Who frees the block: each process that can reach the object holds one
// count in the block's header. The creator starts with one; every fork takes
// one more for each object the parent has (pthread_atfork prepare handler,
// through a per-process registry); a process gives its count back when its
// last handle goes, or when an mpx child ends (children.cpp). The last count
// frees the block. A process killed by SIGKILL never gives its count back:
// the block then lives until the arena itself goes, with the last process —
// a bounded leak, never a use-after-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "mpx/detail/arena.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

/// The untyped part: one registered block of the shared arena.
class SharedBlock {
 public:
  /// Allocates `bytes` plus a header in Arena::shared() and registers it.
  explicit SharedBlock(std::size_t bytes);
  ~SharedBlock();
  SharedBlock(const SharedBlock&) = delete;
  SharedBlock& operator=(const SharedBlock&) = delete;

  void* data() const noexcept { return data_; }
  /// The bytes asked for at construction (or found in an adopted block's header).
  std::size_t size() const noexcept;
  std::uint64_t offset() const noexcept { return offset_; }
  bool released() const noexcept { return released_; }
  /// Gives this process's count back (once); frees the block if it was the last.
  void give_back() noexcept;

  /// Takes a count for a process about to be started with this block (spawn,
  /// forkserver): the child adopts it instead of taking its own. Returns the
  /// block's offset, which names it in the child.
  std::uint64_t share_with_child() noexcept;
  /// Gives back a count share_with_child() took, when the child was not started.
  void unshare_with_child() noexcept;
  /// In such a child: the block the parent shared. Throws DecodeError if no
  /// block lives at `offset` (the bytes came from somewhere else).
  static std::shared_ptr<SharedBlock> adopt(std::uint64_t offset);
  /// The bytes of the block at `offset`, which another process of the arena
  /// keeps alive meanwhile: no count is taken. Throws DecodeError as adopt().
  static std::span<const std::byte> view(std::uint64_t offset);

 private:
  struct Adopted {};
  SharedBlock(Adopted, std::uint64_t offset, std::size_t bytes);
  friend void shared_blocks_after_fork_in_child() noexcept;
  std::uint64_t offset_;
  std::size_t bytes_;
  void* data_;
  bool released_ = false;
  std::int64_t ledger_entry_ = -1;  // in a fork child: this block's entry in the fork's ledger
};

/// Gives back this process's count on every registered block: an mpx child
/// that has finished run() uses none of them again.
void release_all_shared_blocks() noexcept;

// The fork ledger: what a fork child killed by a signal never gave back.
// The counts the parent takes for a fork child (before_fork) are listed in a
// ledger in the arena; the child ticks an entry off before it gives that
// count back itself. Once the child is reaped, the parent gives back every
// count still unticked — so a SIGKILLed worker leaks nothing. A child killed
// between its tick and its give-back leaks that one count (never a double free).
//
//   request_fork_ledger();                 // right before fork(), forking thread
//   pid = fork();
//   ledger = take_fork_ledger();           // parent: 0 if none was made
//   ... reap the child ...
//   settle_fork_ledger(ledger);

/// The next fork from this thread keeps a ledger.
void request_fork_ledger() noexcept;
/// Parent, after fork: the ledger made for that fork (0 if none).
std::uint64_t take_fork_ledger() noexcept;
/// Parent, once the child is reaped: gives back what it did not, frees the ledger.
void settle_fork_ledger(std::uint64_t ledger) noexcept;
/// Called in a fork child (by the atfork handler).
void shared_blocks_after_fork_in_child() noexcept;

/// A typed, copyable handle: copies in one process share one count.
template <class T>
class Shared {
 public:
  Shared() = default;
  template <class... Args>
  static Shared make(Args&&... args) {
    static_assert(std::is_standard_layout_v<T>, "shared state must be standard layout");
    Shared s;
    s.block_ = std::make_shared<SharedBlock>(sizeof(T));
    s.ptr_ = new (s.block_->data()) T(std::forward<Args>(args)...);
    return s;
  }
  /// The handle of an adopted block (see SharedBlock::adopt).
  static Shared adopt(std::shared_ptr<SharedBlock> block) {
    if (block->size() < sizeof(T)) throw DecodeError("shared object: the block is too small for its type");
    Shared s;
    s.ptr_ = static_cast<T*>(block->data());
    s.block_ = std::move(block);
    return s;
  }
  const std::shared_ptr<SharedBlock>& block() const noexcept { return block_; }
  T* get() const noexcept { return ptr_; }
  T* operator->() const noexcept { return ptr_; }
  T& operator*() const noexcept { return *ptr_; }
  explicit operator bool() const noexcept { return ptr_ != nullptr; }

 private:
  std::shared_ptr<SharedBlock> block_;
  T* ptr_ = nullptr;
};

}  // namespace mpx::detail
