// tests/support/futures_helper.hpp — what the mpx::futures tests share: a
// bounded one-shot flag, a task that holds its worker until released,
// stderr capture, and running one scenario of futures_exit_helper.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "mpx/detail/futex.hpp"
#include "mpx/threading.hpp"

extern char** environ;

#include "support/thread_support.hpp"

namespace mpx::test {

/// Python's support.SHORT_TIMEOUT: the bound on every wait in these tests.
inline constexpr std::chrono::seconds kShortTimeout{20};

/// A task that holds its worker until released; started says it runs.
struct Gate {
  Flag started;
  Flag release;
  void operator()() {
    started.set();
    release.wait();
  }
};

/// Polls `done` (every millisecond) until it is true, for at most kShortTimeout.
template <class Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + kShortTimeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct HelperResult {
  int status;  // the exit code, or -signal
  std::string out;
  std::string err;
};

#ifdef MPX_FUTURES_HELPER
/// Runs `futures_exit_helper scenario` (posix_spawn: nothing runs between
/// fork and exec, so this is fine under TSan) and collects what it printed.
/// A helper still running after kShortTimeout is killed and fails the test.
inline HelperResult run_futures_helper(const char* scenario, bool* timed_out) {
  int out = temp_fd(), err = temp_fd();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err, STDERR_FILENO);
  const char* argv[] = {MPX_FUTURES_HELPER, scenario, nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  HelperResult r{-1000, "", ""};
  *timed_out = false;
  if (rc == 0) {
    int st = 0;
    auto deadline = std::chrono::steady_clock::now() + kShortTimeout;
    while (::waitpid(pid, &st, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        *timed_out = true;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  }
  r.out = read_back(out);
  r.err = read_back(err);
  ::close(out);
  ::close(err);
  return r;
}
#endif

}  // namespace mpx::test
