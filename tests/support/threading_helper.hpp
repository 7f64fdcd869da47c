// tests/support/threading_helper.hpp — helpers for the mpx::threading tests:
// a bounded one-shot flag, stderr capture, and running one scenario of
// threading_exit_helper (a program that ends by returning from main) in a child.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mpx/detail/futex.hpp"
#include "mpx/process.hpp"
#include "mpx/threading.hpp"

namespace mpx::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderTsan = true;  // a fork child of a threaded parent may not start threads
#else
inline constexpr bool kUnderTsan = false;
#endif

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

inline int temp_fd() {
  char path[] = "/tmp/mpx-thr-XXXXXX";
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

/// What `fn` (and any thread it joins) writes to stderr (fd 2).
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

struct HelperResult {
  int exitcode;
  std::string out;
  std::string err;
};

/// Runs `threading_exit_helper scenario` in a child process and collects its
/// exit code, stdout and stderr. Fails the test (and kills the child) if it
/// does not end within 20 s: a process that waits for a thread forever.
inline HelperResult run_exit_helper(const char* scenario) {
  int out = temp_fd(), err = temp_fd();
  mpx::Process p([&] {
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    const char* argv[] = {MPX_THREADING_HELPER, scenario, nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  });
  p.start();
  if (!p.join(std::chrono::seconds(20))) {
    ADD_FAILURE() << "threading_exit_helper " << scenario << " did not exit within 20 s";
    p.kill();
    p.join();
  }
  HelperResult r{p.exitcode().value_or(-1000), read_back(out), read_back(err)};
  ::close(out);
  ::close(err);
  return r;
}

/// A check inside a fork child: the child exits 1 and reports on stderr.
inline void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("check failed: ") + what);
}

/// Whether `t` is among `all` (Python's `t in threading.enumerate()`).
inline bool contains(const std::vector<mpx::threading::Thread>& all, const mpx::threading::Thread& t) {
  return std::find(all.begin(), all.end(), t) != all.end();
}

}  // namespace mpx::test
