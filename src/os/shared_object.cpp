// The cross-process reference counts of shared objects (detail/shared_object.hpp).
#include "mpx/detail/shared_object.hpp"

#include <pthread.h>

#include <mutex>
#include <string>

#include <unordered_set>
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

struct BlockHeader {
  std::atomic<std::uint32_t> processes;  // processes holding a count
  std::uint32_t magic;                   // kBlockMagic: a spawned child checks an offset it is sent
  std::uint64_t bytes;                   // what allocate() was given, header included
};
constexpr std::uint32_t kBlockMagic = 0x4b4c4253;  // "SBLK"
constexpr std::size_t kHeader = 64;                // keeps the object 64-byte aligned
static_assert(sizeof(BlockHeader) <= kHeader);

struct Registry {
  std::mutex mu;
  std::unordered_set<SharedBlock*> blocks;
};

Registry* g_registry = nullptr;  // leaked: used at fork and from exit paths

BlockHeader* header_at(std::uint64_t offset) { return Arena::shared().at<BlockHeader>(offset); }

// Around every fork (mpx's or the program's own): the counts for the child
// are taken *before* fork, under the registry lock, so no thread of the
// parent can free a block between the fork and the child's count.
void before_fork() {
  g_registry->mu.lock();
  for (auto* b : g_registry->blocks) {
    if (!b->released()) header_at(b->offset())->processes.fetch_add(1, std::memory_order_relaxed);
  }
}
void after_fork_parent() { g_registry->mu.unlock(); }
void after_fork_child() { shared_blocks_after_fork_in_child(); }

Registry& registry() {
  static bool once = [] {
    g_registry = new Registry;
    ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    return true;
  }();
  (void)once;
  return *g_registry;
}

}  // namespace

SharedBlock::SharedBlock(std::size_t bytes) : bytes_(bytes + kHeader) {
  auto& arena = Arena::shared();
  offset_ = arena.allocate(bytes_);
  auto* h = new (arena.at<void>(offset_)) BlockHeader{};
  h->processes.store(1, std::memory_order_relaxed);
  h->magic = kBlockMagic;
  h->bytes = bytes_;
  data_ = arena.at<std::byte>(offset_ + kHeader);
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.blocks.insert(this);
}

SharedBlock::SharedBlock(Adopted, std::uint64_t offset, std::size_t bytes) : offset_(offset), bytes_(bytes) {
  data_ = Arena::shared().at<std::byte>(offset_ + kHeader);
  auto& r = registry();
  std::lock_guard lock(r.mu);
  r.blocks.insert(this);
}

std::size_t SharedBlock::size() const noexcept { return bytes_ - kHeader; }

std::uint64_t SharedBlock::share_with_child() noexcept {
  header_at(offset_)->processes.fetch_add(1, std::memory_order_relaxed);
  return offset_;
}

void SharedBlock::unshare_with_child() noexcept {
  // This process still holds its own count, so this is never the last one.
  header_at(offset_)->processes.fetch_sub(1, std::memory_order_relaxed);
}

std::shared_ptr<SharedBlock> SharedBlock::adopt(std::uint64_t offset) {
  auto& arena = Arena::shared();
  if (offset % Arena::kMinBlock != 0 || offset < Arena::kMinBlock || offset + kHeader > arena.used() ||
      offset + kHeader < offset) {
    throw DecodeError("shared object: offset " + std::to_string(offset) + " is not in the arena");
  }
  auto* h = header_at(offset);
  if (h->magic != kBlockMagic || h->bytes < kHeader || h->bytes > arena.used() - offset) {
    throw DecodeError("shared object: no object at offset " + std::to_string(offset));
  }
  return std::shared_ptr<SharedBlock>(new SharedBlock(Adopted{}, offset, static_cast<std::size_t>(h->bytes)));
}

SharedBlock::~SharedBlock() {
  {
    auto& r = registry();
    std::lock_guard lock(r.mu);
    r.blocks.erase(this);
  }
  give_back();
}

void SharedBlock::give_back() noexcept {
  if (released_) return;
  released_ = true;
  if (header_at(offset_)->processes.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    Arena::shared().deallocate(offset_, bytes_);
  }
}

void release_all_shared_blocks() noexcept {
  if (!g_registry) return;
  std::lock_guard lock(g_registry->mu);
  for (auto* b : g_registry->blocks) b->give_back();
}

void shared_blocks_after_fork_in_child() noexcept {
  // The copied registry mutex is held by the forking thread (before_fork),
  // which is this child's only thread: it unlocks it, the standard atfork
  // pattern (a fresh registry instead left TSan believing the mutex held for
  // ever, and reporting lock-order inversions against it). The blocks'
  // counts for this child were taken before the fork.
  g_registry->mu.unlock();
}

}  // namespace mpx::detail
