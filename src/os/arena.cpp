// The shared-memory arena (detail/arena.hpp): memfd segment, lock-free
// size-class allocator.
#include "mpx/detail/arena.hpp"

#include <sys/mman.h>
#include <sys/stat.h>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {
constexpr std::uint64_t kMagic = 0x316e657261'78706dULL;  // "mpxarena1"-ish
constexpr std::uint32_t kGranuleShift = 6;                // offsets stored in 64-byte units

// A free-list head: high 32 bits an ABA tag, low 32 bits the block's offset
// in 64-byte units (0 = empty list; offset 0 is the header, never a block).
constexpr std::uint64_t pack(std::uint32_t tag, std::uint64_t offset) {
  return (std::uint64_t(tag) << 32) | (offset >> kGranuleShift);
}
constexpr std::uint64_t unpack_offset(std::uint64_t head) { return (head & 0xffffffffULL) << kGranuleShift; }
constexpr std::uint32_t unpack_tag(std::uint64_t head) { return std::uint32_t(head >> 32); }

int size_class(std::size_t bytes) {
  std::size_t block = bytes <= Arena::kMinBlock ? Arena::kMinBlock : std::bit_ceil(bytes);
  return std::countr_zero(block) - std::countr_zero(Arena::kMinBlock);
}
std::size_t class_bytes(int cls) { return Arena::kMinBlock << cls; }

std::byte* map_segment(int fd, std::size_t capacity) {
  void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_os_error("mmap(arena)");
  return static_cast<std::byte*>(p);
}
}  // namespace

struct Arena::Header {
  std::uint64_t magic;
  std::uint64_t capacity;
  std::atomic<std::uint64_t> top;  // next unused byte
  std::atomic<std::uint64_t> free_head[kClasses];
};

// The free lists' links live in a side table (one 32-bit word per 64-byte
// granule, after the header), not inside the freed blocks: a stale popper may
// read a link after the block has been handed out again, and that read must
// never touch memory its new owner writes to.
using Link = std::atomic<std::uint32_t>;

std::size_t links_bytes(std::size_t capacity) {
  return ((capacity >> kGranuleShift) * sizeof(Link) + 4095) & ~std::size_t(4095);
}

Arena::Arena(Fd fd, std::byte* base, std::size_t capacity) noexcept
    : fd_(std::move(fd)), base_(base), capacity_(capacity) {}

Arena::Arena(Arena&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this != &other) {
    if (base_) ::munmap(base_, capacity_);
    fd_ = std::move(other.fd_);
    base_ = std::exchange(other.base_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Arena::~Arena() {
  if (base_) ::munmap(base_, capacity_);
}

Arena Arena::create(std::size_t capacity, const char* name) {
  constexpr std::size_t kHeaderBytes = 8 * kMinBlock;
  static_assert(sizeof(Header) <= kHeaderBytes);
  if (capacity < kHeaderBytes + links_bytes(capacity) + kMinBlock) throw ValueError("arena capacity too small");
  if ((capacity >> kGranuleShift) > 0xffffffffULL) throw ValueError("arena capacity over 256 GiB");
  Fd fd = Fd::memfd(name, capacity);
  std::byte* base = map_segment(fd.get(), capacity);
  auto* h = new (base) Header{};
  h->magic = kMagic;
  h->capacity = capacity;
  h->top.store(kHeaderBytes + links_bytes(capacity), std::memory_order_release);
  return Arena(std::move(fd), base, capacity);
}

Arena Arena::attach(Fd fd) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_os_error("fstat(arena)");
  auto size = static_cast<std::size_t>(st.st_size);
  if (size < sizeof(Header)) throw ValueError("not an mpx arena: segment too small");
  std::byte* base = map_segment(fd.get(), size);
  auto* h = reinterpret_cast<Header*>(base);
  if (h->magic != kMagic || h->capacity != size) {
    ::munmap(base, size);
    throw ValueError("not an mpx arena: bad header");
  }
  return Arena(std::move(fd), base, size);
}

namespace {
// Set by a spawned child before its first use of the shared arena: the
// parent's arena, so objects passed to it are the parent's objects.
int g_adopt_fd = -1;
bool g_shared_made = false;
}  // namespace

bool Arena::adopt_shared(Fd fd) {
  if (g_shared_made) return false;
  g_adopt_fd = fd.release();
  return true;
}

Arena& Arena::shared() {
  // Deliberately leaked: objects in it may be used from atexit handlers and
  // destructors of statics, so it must outlive every one of them.
  static Arena* arena = [] {
    g_shared_made = true;
    if (g_adopt_fd >= 0) return new Arena(attach(Fd(g_adopt_fd)));
    std::size_t capacity = std::size_t(1) << 30;
    if (const char* env = std::getenv("MPX_ARENA_SIZE")) {
      char* end = nullptr;
      auto v = std::strtoull(env, &end, 10);
      if (end != env && v > 0) capacity = static_cast<std::size_t>(v);
    }
    return new Arena(create(capacity, "mpx-shared"));
  }();
  return *arena;
}

std::atomic<std::uint32_t>& Arena::link(std::uint64_t offset) const noexcept {
  return at<Link>(8 * kMinBlock)[offset >> kGranuleShift];
}

std::size_t Arena::used() const noexcept { return header()->top.load(std::memory_order_relaxed); }

std::uint64_t Arena::allocate(std::size_t bytes) {
  int cls = size_class(bytes);
  if (cls >= kClasses) throw Error("arena: allocation of " + std::to_string(bytes) + " bytes is too large");
  std::size_t size = class_bytes(cls);
  auto& head = header()->free_head[cls];
  // Pop a freed block of this class.
  std::uint64_t old = head.load(std::memory_order_acquire);
  while (unpack_offset(old) != 0) {
    std::uint64_t offset = unpack_offset(old);
    std::uint64_t next = std::uint64_t(link(offset).load(std::memory_order_relaxed)) << kGranuleShift;
    if (head.compare_exchange_weak(old, pack(unpack_tag(old) + 1, next), std::memory_order_acq_rel,
                                   std::memory_order_acquire)) {
      std::memset(base_ + offset, 0, size);
      return offset;
    }
  }
  // Else bump. Every size is a multiple of 64 and the bump starts 64-aligned,
  // so every block is 64-aligned. The bump pointer never moves back, so a
  // block is never handed out twice; a bump past the end only leaves `top`
  // past capacity, which means the arena is full.
  std::uint64_t offset = header()->top.fetch_add(size, std::memory_order_relaxed);
  if (offset + size > capacity_) {
    throw Error("arena full: " + std::to_string(capacity_) + " bytes (set MPX_ARENA_SIZE for a larger one)");
  }
  return offset;  // fresh pages of a memfd are already zero
}

void Arena::deallocate(std::uint64_t offset, std::size_t bytes) noexcept {
  int cls = size_class(bytes);
  auto& head = header()->free_head[cls];
  auto& next = link(offset);
  std::uint64_t old = head.load(std::memory_order_relaxed);
  do {
    next.store(static_cast<std::uint32_t>(unpack_offset(old) >> kGranuleShift), std::memory_order_relaxed);
  } while (!head.compare_exchange_weak(old, pack(unpack_tag(old) + 1, offset), std::memory_order_release,
                                       std::memory_order_relaxed));
}

}  // namespace mpx::detail
