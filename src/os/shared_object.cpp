// The cross-process reference counts of shared objects (detail/shared_object.hpp).
#include "mpx/detail/shared_object.hpp"

#include <pthread.h>

#include <mutex>
#include <string>
#include <utility>

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

// A fork's ledger, in the arena: a header, then one entry per count taken.
struct LedgerEntry {
  std::uint64_t offset;              // the block
  std::atomic<std::uint32_t> given;  // set by the child before it gives the count back
  std::uint32_t pad;
};
struct LedgerHeader {
  std::uint64_t entries;
  std::uint64_t bytes;  // what allocate() was given
};

thread_local bool t_ledger_wanted = false;     // request_fork_ledger() → before_fork
thread_local std::uint64_t t_ledger_made = 0;  // before_fork → take_fork_ledger() / the child
LedgerEntry* g_child_ledger = nullptr;         // in a fork child: its ledger (inherited, same address)

LedgerEntry* ledger_entries(std::uint64_t ledger) {
  return Arena::shared().at<LedgerEntry>(ledger + sizeof(LedgerHeader));
}

BlockHeader* header_at(std::uint64_t offset) { return Arena::shared().at<BlockHeader>(offset); }

// Around every fork (mpx's or the program's own): the counts for the child
// are taken *before* fork, under the registry lock, so no thread of the
// parent can free a block between the fork and the child's count.
void before_fork() {
  g_registry->mu.lock();
  t_ledger_made = 0;
  std::uint64_t n = 0;
  for (auto* b : g_registry->blocks) n += !b->released();
  LedgerEntry* entries = nullptr;
  if (t_ledger_wanted && n > 0) {
    t_ledger_wanted = false;
    try {
      const std::uint64_t bytes = sizeof(LedgerHeader) + n * sizeof(LedgerEntry);
      t_ledger_made = Arena::shared().allocate(bytes);
      *Arena::shared().at<LedgerHeader>(t_ledger_made) = LedgerHeader{n, bytes};
      entries = ledger_entries(t_ledger_made);
    } catch (...) {
      t_ledger_made = 0;  // arena full: this child keeps the old behaviour
    }
  }
  std::uint64_t i = 0;
  for (auto* b : g_registry->blocks) {
    if (b->released()) continue;
    header_at(b->offset())->processes.fetch_add(1, std::memory_order_relaxed);
    if (entries) {
      entries[i].offset = b->offset();
      entries[i].given.store(0, std::memory_order_relaxed);
    }
    ++i;
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

namespace {
// The block header at `offset`, checked: bytes from another process name it.
BlockHeader* checked_header(std::uint64_t offset) {
  auto& arena = Arena::shared();
  if (offset % Arena::kMinBlock != 0 || offset < Arena::kMinBlock || offset + kHeader > arena.used() ||
      offset + kHeader < offset) {
    throw DecodeError("shared object: offset " + std::to_string(offset) + " is not in the arena");
  }
  auto* h = header_at(offset);
  if (h->magic != kBlockMagic || h->bytes < kHeader || h->bytes > arena.used() - offset) {
    throw DecodeError("shared object: no object at offset " + std::to_string(offset));
  }
  return h;
}
}  // namespace

std::span<const std::byte> SharedBlock::view(std::uint64_t offset) {
  BlockHeader* h = checked_header(offset);
  return {Arena::shared().at<const std::byte>(offset + kHeader), static_cast<std::size_t>(h->bytes - kHeader)};
}

std::shared_ptr<SharedBlock> SharedBlock::adopt(std::uint64_t offset) {
  BlockHeader* h = checked_header(offset);
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
  // Ticked off first: a kill between the two leaks this count, never frees twice.
  if (ledger_entry_ >= 0 && g_child_ledger) g_child_ledger[ledger_entry_].given.store(1, std::memory_order_seq_cst);
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
  //
  // Its ledger (if the fork made one) lists them in the registry's order,
  // which is the parent's: the same set, in the same memory.
  g_child_ledger = t_ledger_made ? ledger_entries(t_ledger_made) : nullptr;
  std::int64_t i = 0;
  for (auto* b : g_registry->blocks) {
    if (b->released()) {
      b->ledger_entry_ = -1;
      continue;
    }
    b->ledger_entry_ = g_child_ledger ? i++ : -1;
  }
  t_ledger_made = 0;
  g_registry->mu.unlock();
}

void request_fork_ledger() noexcept {
  registry();
  t_ledger_wanted = true;
}

std::uint64_t take_fork_ledger() noexcept {
  t_ledger_wanted = false;
  return std::exchange(t_ledger_made, 0);
}

void settle_fork_ledger(std::uint64_t ledger) noexcept {
  if (ledger == 0) return;
  auto& arena = Arena::shared();
  const LedgerHeader h = *arena.at<LedgerHeader>(ledger);
  LedgerEntry* entries = ledger_entries(ledger);
  for (std::uint64_t i = 0; i < h.entries; ++i) {
    if (entries[i].given.load(std::memory_order_seq_cst)) continue;
    BlockHeader* b = header_at(entries[i].offset);
    if (b->processes.fetch_sub(1, std::memory_order_acq_rel) == 1) arena.deallocate(entries[i].offset, b->bytes);
  }
  arena.deallocate(ledger, h.bytes);
}

}  // namespace mpx::detail
