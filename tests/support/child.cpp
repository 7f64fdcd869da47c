#include "support/child.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <signal.h>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "mpx/process.hpp"

namespace mpx::test {

int run_in_child(std::function<void()> fn, std::chrono::milliseconds timeout) {
  mpx::Process p(std::move(fn));
  p.start();
  if (!p.join(timeout)) {
    ADD_FAILURE() << "child did not finish within " << timeout.count() << " ms; killing it";
    p.kill();
    p.join();
  }
  return p.exitcode().value_or(-1000);
}

char proc_state(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return 0;
  return line[close + 2];
}

std::string capture_stdout(const std::function<void()>& fn) {
  std::fflush(stdout);
  char path[] = "/tmp/mpx-capture-XXXXXX";
  int fd = ::mkstemp(path);
  ::unlink(path);
  int saved = ::dup(STDOUT_FILENO);
  ::dup2(fd, STDOUT_FILENO);
  try {
    fn();
  } catch (...) {
    std::fflush(stdout);
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
    ::close(fd);
    throw;
  }
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

ChildGuard::~ChildGuard() {
  for (auto& p : procs_) {
    if (p.closed() || p.pid() == 0) continue;
    if (p.is_alive()) {
      p.kill();
      p.join();
    }
  }
}

bool in_active_children(const mpx::Process& p) {
  if (p.pid() == 0) return false;
  auto kids = mpx::active_children();
  return std::any_of(kids.begin(), kids.end(), [&](const mpx::Process& c) { return c.pid() == p.pid(); });
}

bool wait_until_sleeping(int pid) {
  using namespace std::chrono_literals;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (proc_state(pid) == 'S') return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

void block_forever() {
  for (;;) ::pause();
}

}  // namespace mpx::test
