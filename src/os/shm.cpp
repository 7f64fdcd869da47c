// System calls for named shared memory (shm.hpp).
#include "os/shm.hpp"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "mpx/errors.hpp"

namespace mpx::detail::shm {

Info stat(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_os_error("fstat(shm)");
  return Info{static_cast<std::size_t>(st.st_size),
              Identity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)}};
}

void truncate(int fd, std::size_t size) {
  int rc;
  do {
    rc = ::ftruncate(fd, static_cast<off_t>(size));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw_os_error("ftruncate(shm)");
}

std::byte* map(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_os_error("mmap(shm)");
  return static_cast<std::byte*>(p);
}

void unmap(std::byte* data, std::size_t size) noexcept {
  if (data) ::munmap(data, size);
}

void unlink(const std::string& posix_name) {
  if (::shm_unlink(posix_name.c_str()) != 0) throw_os_error("shm_unlink " + posix_name);
}

std::string random_name(std::string_view prefix) {
  unsigned char bytes[4];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os_error("getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name(prefix);
  for (unsigned char b : bytes) {
    name += kHex[b >> 4];
    name += kHex[b & 15];
  }
  return name;
}

}  // namespace mpx::detail::shm
