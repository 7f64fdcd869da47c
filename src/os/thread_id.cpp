// Thread ids for lock owners, and whether an owner still lives.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "mpx/detail/sync_state.hpp"

namespace mpx::detail {

constinit __attribute__((tls_model("initial-exec"))) thread_local std::uint32_t t_this_tid = 0;
constinit std::atomic<std::uint32_t> g_this_pid{0};

namespace {
// A fork child's only thread keeps the forking thread's TLS, whose cached tid
// is the parent's, and the parent's cached pid: forget both.
void reset_ids_in_child() {
  t_this_tid = 0;
  g_this_pid.store(0, std::memory_order_relaxed);
}
const bool g_atfork = [] {
  ::pthread_atfork(nullptr, nullptr, reset_ids_in_child);
  return true;
}();
}  // namespace

std::uint32_t this_tid_slow() noexcept {
  t_this_tid = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  return t_this_tid;
}

std::uint32_t this_pid_slow() noexcept {
  std::uint32_t pid = static_cast<std::uint32_t>(::getpid()) & kPidMask;
  g_this_pid.store(pid, std::memory_order_relaxed);
  return pid;
}

bool process_alive(std::uint32_t pid) noexcept {
  // A process killed but not yet reaped is a zombie: state Z, and it holds
  // nothing any more.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", pid);
  std::FILE* f = std::fopen(path, "re");
  if (!f) return false;
  char buf[512];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* close = nullptr;
  for (const char* p = buf; *p; ++p)
    if (*p == ')') close = p;
  if (!close || !close[1] || !close[2]) return true;
  char state = close[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

}  // namespace mpx::detail
