// T, the resource tracker process (tracker_process.hpp; the design and its
// diagram are in resource_tracker.cpp).
//
// Everything here runs in a grandchild forked from a process that may have
// had other threads, so it keeps to async-signal-safe calls: raw system
// calls, fixed buffers, no allocation, no exceptions, no stdio. That is why
// the few descriptors handled here do not come from Fd's (throwing) factories.
#include "os/tracker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mpx::detail::resource_tracker {

namespace {

// stderr through a fixed buffer.
class Out {
 public:
  void add(const char* s, std::size_t n) {
    while (n > 0) {
      if (pos_ == sizeof buf_) flush();
      std::size_t k = std::min(n, sizeof buf_ - pos_);
      std::memcpy(buf_ + pos_, s, k);
      pos_ += k;
      s += k;
      n -= k;
    }
  }
  void add(const char* s) { add(s, std::strlen(s)); }
  void add(unsigned long v) {
    char digits[24];
    std::size_t i = sizeof digits;
    do {
      digits[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    add(digits + i, sizeof digits - i);
  }
  void flush() {
    std::size_t off = 0;
    while (off < pos_) {
      ssize_t n = ::write(STDERR_FILENO, buf_ + off, pos_ - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    pos_ = 0;
  }

 private:
  char buf_[1024];
  std::size_t pos_ = 0;
};

int above_stdio(int fd) {
  if (fd > STDERR_FILENO) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  return moved >= 0 ? moved : fd;
}

void close_fds(unsigned lo, unsigned hi) {
  if (lo > hi) return;
  if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
  long limit = ::sysconf(_SC_OPEN_MAX);  // kernels before 5.9: one by one
  for (unsigned fd = lo; fd <= hi && fd < static_cast<unsigned long>(limit > 0 ? limit : 65536); ++fd) ::close(fd);
}

// Parses "lo-hi perms ..." from a /proc/self/maps line.
bool parse_range(const char* line, std::uintptr_t& lo, std::uintptr_t& hi, bool& shared) {
  auto hex = [&line](std::uintptr_t& v, char end) {
    v = 0;
    const char* start = line;
    for (; *line != end; ++line) {
      char c = *line;
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + static_cast<std::uintptr_t>(d);
    }
    ++line;
    return line - 1 != start;
  };
  if (!hex(lo, '-') || !hex(hi, ' ')) return false;
  if (std::strlen(line) < 4) return false;
  shared = line[3] == 's';
  return hi > lo;
}

// T is a copy of a program process: it would keep every MAP_SHARED mapping
// of that process, and an unlinked segment's memory is freed only with its
// last mapping. Unmap all of them but the table.
void unmap_shared_except(const void* keep) {
  for (int pass = 0; pass < 64; ++pass) {
    struct Range {
      std::uintptr_t lo, hi;
    } found[128];
    int n = 0;
    int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[4096];
    char line[128];
    std::size_t len = 0;
    for (;;) {
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      for (ssize_t i = 0; i < got; ++i) {
        if (buf[i] != '\n') {
          if (len < sizeof line - 1) line[len++] = buf[i];
          continue;
        }
        line[len] = '\0';
        len = 0;
        std::uintptr_t lo, hi;
        bool shared;
        if (n < 128 && parse_range(line, lo, hi, shared) && shared && lo != reinterpret_cast<std::uintptr_t>(keep)) {
          found[n++] = Range{lo, hi};
        }
      }
    }
    ::close(fd);
    if (n == 0) return;
    for (int i = 0; i < n; ++i) ::munmap(reinterpret_cast<void*>(found[i].lo), found[i].hi - found[i].lo);
  }
}

// Whether the slot's name still names the object that was registered — or,
// for a create cut short, an object created and never sized.
bool still_ours(const Slot& s, bool creating) {
  int fd = ::shm_open(s.name, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return false;
  struct stat st {};
  bool ours = ::fstat(fd, &st) == 0 && (creating ? st.st_size == 0
                                                 : static_cast<std::uint64_t>(st.st_dev) == s.dev &&
                                                       static_cast<std::uint64_t>(st.st_ino) == s.ino);
  ::close(fd);
  return ours;
}

// Unlinks what the program left registered; warns as Python's tracker does.
void reap(Table* t) {
  std::uint32_t limit = std::min<std::uint32_t>(t->high_water.load(), kSlots);
  unsigned long leaked = 0;
  for (std::uint32_t i = 0; i < limit; ++i) {
    Slot& s = t->slots[i];
    std::uint32_t state = s.state.load();
    if ((state != kLive && state != kCreating) || !s.state.compare_exchange_strong(state, kReaping)) continue;
    if (still_ours(s, state == kCreating)) {
      ++leaked;
    } else {
      s.state.store(kFree);
    }
  }
  if (leaked == 0) return;
  Out out;
  out.add("mpx resource_tracker: There appear to be ");
  out.add(leaked);
  out.add(" leaked shared_memory objects to clean up at shutdown: {");
  const char* sep = "";
  for (std::uint32_t i = 0; i < limit; ++i) {
    const Slot& s = t->slots[i];
    if (s.state.load() != kReaping) continue;
    out.add(sep);
    out.add("'");
    out.add(s.name, s.length);
    out.add("'");
    sep = ", ";
  }
  out.add("}\n");
  out.flush();
  for (std::uint32_t i = 0; i < limit; ++i) {
    Slot& s = t->slots[i];
    if (s.state.load() != kReaping) continue;
    ::shm_unlink(s.name);
    s.state.store(kFree);
  }
}

}  // namespace

void tracker_main(Table* t, int liveness_r, int ready_fd) noexcept {
  // Outlive the program's terminal and process group: a Ctrl-C or a killpg
  // meant for the program must not take the cleanup down with it.
  ::setsid();
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2}) ::sigaction(sig, &ignore, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::chdir("/") != 0) {
    // Not fatal: only keeps a mount busy.
  }

  int rc = ::pthread_mutex_lock(&t->alive_mu);
  if (rc == EOWNERDEAD) ::pthread_mutex_consistent(&t->alive_mu);

  // Descriptors: stderr for the warning, the pipe's read end, the ready
  // pipe; stdin and stdout on /dev/null (a reader of the program's stdout
  // must see EOF when the program ends, not when T does); nothing else.
  liveness_r = above_stdio(liveness_r);
  ready_fd = above_stdio(ready_fd);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
  }
  int lo = std::min(liveness_r, ready_fd), hi = std::max(liveness_r, ready_fd);
  close_fds(STDERR_FILENO + 1, static_cast<unsigned>(lo) - 1);
  close_fds(static_cast<unsigned>(lo) + 1, static_cast<unsigned>(hi) - 1);
  close_fds(static_cast<unsigned>(hi) + 1, ~0U);
  unmap_shared_except(t);

  char byte = 1;
  while (::write(ready_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(ready_fd);

  // Nobody writes: read() returns 0 when the last write end closes. Any
  // other failure says nothing about the program, and reaping a live
  // program's segments is worse than a leak: exit, releasing alive_mu, so
  // the program's next create starts a new tracker on the same pipe.
  char buf[64];
  for (;;) {
    ssize_t n = ::read(liveness_r, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 && errno != EINTR) ::_exit(1);
  }
  reap(t);
  ::_exit(0);
}

}  // namespace mpx::detail::resource_tracker
