// tests/support/thread_support.hpp — what the threading and futures test
// helpers share: a one-shot Flag, stderr capture, membership in enumerate().
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "mpx/detail/futex.hpp"
#include "mpx/threading.hpp"

namespace mpx::test {

/// A one-shot event between threads: an atomic word and the futex wait.
struct Flag {
  std::atomic<std::uint32_t> word{0};
  void set() {
    word.store(1, std::memory_order_release);
    detail::futex_wake(word);
  }
  bool is_set() const { return word.load(std::memory_order_acquire) != 0; }
  /// Waits at most `timeout` (20 s: a test never hangs); returns whether it was set.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    return detail::wait_until(
        word, [](std::uint32_t v) { return v != 0; }, detail::Deadline::after(timeout));
  }
};

/// An unlinked temporary file, for capturing output.
inline int temp_fd() {
  char path[] = "/tmp/mpx-test-XXXXXX";
  int fd = ::mkostemp(path, O_CLOEXEC);
  ::unlink(path);
  return fd;
}

inline std::string read_back(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

/// What `fn` (and any thread it waits for) writes to stderr (fd 2).
inline std::string capture_stderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  int fd = temp_fd();
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  fn();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out = read_back(fd);
  ::close(fd);
  return out;
}

/// Whether `t` is among `all` (Python's `t in threading.enumerate()`).
inline bool contains(const std::vector<threading::Thread>& all, const threading::Thread& t) {
  return std::find(all.begin(), all.end(), t) != all.end();
}

}  // namespace mpx::test
