// mpx/detail/transfer.hpp — how shared objects travel to a spawned child.
//
// A Lock, a Value or a Queue handed to a spawned process as an argument must
// be the *same* object there, not a copy: the child adopts the parent's
// shared arena (its memfd is passed down), and an object travels as the
// offset of its block, for which the parent takes a count on the child's
// behalf. A Connection travels as a descriptor passed down. Outside a
// Transfer — sending a Lock through a Pipe, say — the encoding is refused
// with Python's words: such objects are shared by inheritance only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mpx/detail/shared_object.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

class Transfer {
 public:
  enum class Side { Parent, Child };
  /// Becomes the calling thread's current transfer until destroyed.
  explicit Transfer(Side side) noexcept;
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  static Transfer* current() noexcept;
  Side side() const noexcept { return side_; }

  /// Parent: the child will hold a count on `block`; returns its name there.
  std::uint64_t send_block(const std::shared_ptr<SharedBlock>& block);
  /// Child: the block the parent sent.
  std::shared_ptr<SharedBlock> receive_block(std::uint64_t offset);
  /// Parent: `fd` will be passed down; returns its index. Child: the
  /// descriptor passed as `index`.
  std::uint32_t send_fd(int fd);
  int receive_fd(std::uint32_t index) const;

  /// Parent: the child was started and holds the counts taken for it.
  /// Without this, the destructor gives them back (a start that failed).
  void commit() noexcept { committed_ = true; }

  /// Parent: the descriptors to pass, in index order. Child: where they landed.
  std::vector<int> fds;

 private:
  Side side_;
  Transfer* outer_;
  bool committed_ = false;
  std::vector<std::shared_ptr<SharedBlock>> sent_;
};

/// What Python says when a Lock is pickled outside of spawning.
[[noreturn]] void throw_not_inheritable(const char* what);

template <class Archive, class T>
void save_shared(Archive& ar, const Shared<T>& s, const char* what) {
  Transfer* t = Transfer::current();
  if (!t || t->side() != Transfer::Side::Parent) throw_not_inheritable(what);
  ar(t->send_block(s.block()));
}

template <class Archive, class T>
void load_shared(Archive& ar, Shared<T>& s, const char* what) {
  Transfer* t = Transfer::current();
  if (!t || t->side() != Transfer::Side::Child) throw_not_inheritable(what);
  std::uint64_t offset = 0;
  ar(offset);
  s = Shared<T>::adopt(t->receive_block(offset));
}

}  // namespace mpx::detail
