// src/os/shm.hpp — the system calls behind mpx::SharedMemory: named POSIX
// shared-memory objects (/dev/shm) and their mappings.
//
// Descriptors come from Fd::shm_open (fd.hpp); everything else a segment
// needs from the kernel is here, each call's failure an OSError naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mpx::detail::shm {

/// What identifies one shared-memory object, whatever name it has now: a
/// name can be unlinked and reused, an inode number on its device cannot
/// while the object lives.
struct Identity {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  bool operator==(const Identity&) const = default;
};

struct Info {
  std::size_t size = 0;
  Identity id;
};

/// fstat(2) of an open segment.
Info stat(int fd);
/// ftruncate(2): gives a new segment its size.
void truncate(int fd, std::size_t size);
/// mmap(2) MAP_SHARED, read-write, of the whole segment.
std::byte* map(int fd, std::size_t size);
/// munmap(2); errors are ignored (the mapping is gone either way).
void unmap(std::byte* data, std::size_t size) noexcept;
/// shm_unlink(2). Throws FileNotFoundError if the name does not exist.
void unlink(const std::string& posix_name);
/// `prefix` followed by 8 random hex digits (Python's _make_filename:
/// "/psm_" + secrets.token_hex(4), 13 characters, under FreeBSD's 14).
std::string random_name(std::string_view prefix);

}  // namespace mpx::detail::shm
