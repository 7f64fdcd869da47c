// src/os/tracker_process.hpp — the resource tracker's shared table, and the
// code its process T runs (diagram: resource_tracker.cpp).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mpx::detail::resource_tracker {

inline constexpr std::uint32_t kSlots = 4096;
inline constexpr std::size_t kNameCapacity = 264;  // '/' + NAME_MAX (255) + NUL, rounded up to 8

enum SlotState : std::uint32_t {
  kFree = 0,
  kWriting = 1,   // claimed by a registering process
  kLive = 2,      // registered: T unlinks it at the program's end
  kRemoving = 3,  // claimed by an unregistering process
  kReaping = 4,   // claimed by T at the program's end
  kCreating = 5,  // named, the object maybe being created: T unlinks it only if it was never sized
};

struct Slot {
  std::atomic<std::uint32_t> state;
  std::uint32_t length;
  std::uint64_t dev;
  std::uint64_t ino;
  char name[kNameCapacity];
};

/// One per program, in a memfd mapped MAP_SHARED by every process of it and
/// by T. Zero-filled memory is a valid empty table (the mutexes aside).
struct Table {
  pthread_mutex_t restart_mu;  // robust, process-shared
  pthread_mutex_t alive_mu;    // robust, process-shared; held by T while it lives
  std::atomic<std::int32_t> tracker_pid;
  std::atomic<std::uint32_t> high_water;  // slots at or past this index were never used
  Slot slots[kSlots];
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

/// T's whole life, in the grandchild forked by start_tracker: takes
/// alive_mu, writes one byte to `ready_fd`, waits for EOF on `liveness_r`,
/// reaps the table, _exits. Only async-signal-safe calls (the program may
/// have had threads when it forked): no allocation, no exceptions, no stdio.
[[noreturn]] void tracker_main(Table* table, int liveness_r, int ready_fd) noexcept;

}  // namespace mpx::detail::resource_tracker
