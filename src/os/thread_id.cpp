// Thread ids for lock owners, and whether an owner still lives.
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "mpx/detail/sync_state.hpp"

namespace mpx::detail {

namespace {
thread_local std::uint32_t t_tid = 0;

// A fork child's only thread keeps the forking thread's TLS, whose cached tid
// is the parent's: forget it.
void reset_tid_in_child() { t_tid = 0; }
const bool g_atfork = [] {
  ::pthread_atfork(nullptr, nullptr, reset_tid_in_child);
  return true;
}();
}  // namespace

std::uint32_t this_tid() noexcept {
  if (t_tid == 0) t_tid = static_cast<std::uint32_t>(::syscall(SYS_gettid)) & kTidMask;
  return t_tid;
}

bool tid_alive(std::uint32_t tid) noexcept {
  // /proc/<tid> exists for every live thread of the pid namespace (hidden
  // from listings for non-leaders, but reachable). A process killed but not
  // yet reaped keeps a zombie leader: its state is Z, and it holds nothing.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%u/stat", tid);
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
