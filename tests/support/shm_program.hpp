// tests/support/shm_program.hpp — helpers for tests of shared memory and its
// resource tracker: watching processes that are not our children, looking
// into /dev/shm, and capturing what a child program (and its tracker) print
// on stderr.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "os/resource_tracker.hpp"

namespace mpx::test {

/// A pidfd on any process (our child or not): pollable for its exit, and a
/// race-free way to signal it.
class Watch {
 public:
  explicit Watch(int pid) : fd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  ~Watch() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool valid() const { return fd_ >= 0; }
  /// Whether the process has exited within `ms` (0: just look).
  bool exited_within(int ms) const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
  }
  void kill(int sig = SIGKILL) const { ::syscall(SYS_pidfd_send_signal, fd_, sig, nullptr, 0); }

 private:
  int fd_;
};

/// Whether /dev/shm has `name` (Python's name: no leading slash).
inline bool shm_exists(const std::string& name) { return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0; }

/// The names in /dev/shm.
inline std::vector<std::string> list_shm() {
  std::vector<std::string> names;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  return names;
}

/// A pipe to collect a child program's stderr, its tracker's included: the
/// child calls into_stderr(); the parent calls parent_side() after start()
/// and read_all() to read until every writer (tracker too) has gone.
class StderrCapture {
 public:
  StderrCapture() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      r_ = fds[0];
      w_ = fds[1];
    }
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  ~StderrCapture() {
    if (r_ >= 0) ::close(r_);
    if (w_ >= 0) ::close(w_);
  }
  /// In the child: stderr becomes the pipe.
  void into_stderr() const { ::dup2(w_, STDERR_FILENO); }
  /// In the parent, once the child is started: only the children write now.
  void parent_side() {
    if (w_ >= 0) ::close(w_);
    w_ = -1;
  }
  /// Everything written until the last writer closed (EOF), or what came
  /// within `ms` (a failure is recorded if EOF did not come in time).
  std::string read_all(int ms = 20000) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{r_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
        ADD_FAILURE() << "stderr of the child program not closed within " << ms << " ms";
        return out;
      }
      char buf[1024];
      ssize_t n = ::read(r_, buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int r_ = -1;
  int w_ = -1;
};

/// Starts this test binary's resource tracker before the first test, so the
/// pipe it keeps open for the life of the process is not taken for a leak.
class TrackerEnvironment : public testing::Environment {
 public:
  void SetUp() override { mpx::detail::resource_tracker::ensure_running(); }
};

}  // namespace mpx::test
