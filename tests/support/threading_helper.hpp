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

#include "support/thread_support.hpp"

namespace mpx::test {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderTsan = true;  // a fork child of a threaded parent may not start threads
#else
inline constexpr bool kUnderTsan = false;
#endif

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
}  // namespace mpx::test
