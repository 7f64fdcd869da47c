// tests/conformance/context_conformance.hpp — what the start-method ports share:
// the includes, and helpers every spawned-child test uses. Included by
// context_conformance_test.cpp and, through fresh_method.hpp, the
// spawn_process_*conformance_test.cpp files only.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mpx/codec.hpp"
#include "mpx/connection.hpp"
#include "mpx/context.hpp"
#include "mpx/detail/arena.hpp"
#include "mpx/detail/shared_object.hpp"
#include "mpx/detail/shipping.hpp"
#include "mpx/detail/transfer.hpp"
#include "mpx/process.hpp"
#include "mpx/queues.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/synchronize.hpp"
#include "mpx/threading.hpp"
#include "os/popen_spawn.hpp"
#include "support/child.hpp"

extern char** environ;

using namespace std::chrono_literals;
using mpx::test::block_forever;
using mpx::test::ChildGuard;
using mpx::test::in_active_children;

namespace spawn_helpers {

mpx::Context spawn_ctx() { return mpx::get_context("spawn"); }

// Sets the default start method for a scope, and puts the old one back.
class DefaultMethod {
 public:
  explicit DefaultMethod(const std::string& method) : old_(mpx::get_start_method()) {
    mpx::set_start_method(method, true);
  }
  ~DefaultMethod() { mpx::set_start_method(old_, true); }
  DefaultMethod(const DefaultMethod&) = delete;
  DefaultMethod& operator=(const DefaultMethod&) = delete;

 private:
  std::string old_;
};

// Joins `p` within 20 s, or kills and reaps it and returns false.
bool join_or_kill(mpx::Process& p) {
  if (p.join(20s)) return true;
  p.kill();
  p.join();
  return false;
}

// The entries of /proc/self/fd as "fd -> target", without the listing's own descriptor.
std::vector<std::string> open_fds() {
  std::vector<std::string> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return out;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || std::stoi(name) == own) continue;
    char target[512];
    ssize_t n = ::readlink(("/proc/self/fd/" + name).c_str(), target, sizeof target - 1);
    out.push_back(name + " -> " + (n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "?"));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  return out;
}

std::string read_file(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// A fresh path under /tmp that does not exist yet.
std::string temp_path(const char* stem) {
  std::string path = std::string("/tmp/") + stem + "-XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd >= 0) {
    ::close(fd);
    ::unlink(path.c_str());
  }
  return path;
}

// Points fd 2 at a file until read(): what spawned children write to stderr.
class CaptureStderr {
 public:
  CaptureStderr() {
    std::fflush(stderr);
    path_ = temp_path("mpx-context-stderr");
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    saved_ = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CaptureStderr() { (void)read(); }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;
  std::string read() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
      text_ = read_file(path_);
      ::unlink(path_.c_str());
    }
    return text_;
  }

 private:
  std::string path_;
  std::string text_;
  int saved_ = -1;
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void do_nothing() {}

void exit_with(int code) { mpx::exit(code); }

}  // namespace spawn_helpers
using namespace spawn_helpers;
