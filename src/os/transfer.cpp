// Shared objects and descriptors on their way to a spawned child (detail/transfer.hpp).
#include "mpx/detail/transfer.hpp"

#include <string>

namespace mpx::detail {

namespace {
thread_local Transfer* t_current = nullptr;
}

Transfer::Transfer(Side side) noexcept : side_(side), outer_(t_current) { t_current = this; }

Transfer::~Transfer() {
  t_current = outer_;
  if (side_ == Side::Parent && !committed_) {
    for (auto& b : sent_) b->unshare_with_child();
  }
}

Transfer* Transfer::current() noexcept { return t_current; }

std::uint64_t Transfer::send_block(const std::shared_ptr<SharedBlock>& block) {
  if (!block) throw ValueError("cannot send an empty shared object");
  sent_.push_back(block);
  return block->share_with_child();
}

std::shared_ptr<SharedBlock> Transfer::receive_block(std::uint64_t offset) { return SharedBlock::adopt(offset); }

std::uint32_t Transfer::send_fd(int fd) {
  fds.push_back(fd);
  return static_cast<std::uint32_t>(fds.size() - 1);
}

int Transfer::receive_fd(std::uint32_t index) const {
  if (index >= fds.size()) throw DecodeError("descriptor " + std::to_string(index) + " was not passed down");
  return fds[index];
}

void throw_not_inheritable(const char* what) {
  throw RuntimeError(std::string(what) +
                     " objects should only be shared between processes through inheritance (as a Process "
                     "argument), not sent through a pipe or queue");
}

}  // namespace mpx::detail
