// The resource tracker: named shared memory is unlinked when the program
// that created it is gone, however it went (resource_tracker.hpp).
//
//   the program: P, the process that first created a tracked segment, and
//   everything forked from P afterwards (fork keeps descriptors and mappings)
//
//     P ──fork──► C1 ──fork──► C2 ...      each holds W (and R), maps the table
//     │
//     │ first create: fork ─► intermediate ─fork─► T, then the intermediate
//     │ exits and P reaps it: T is nobody's child in the program (no zombie,
//     │ not in active_children(), not seen by a leak check of P's children)
//     ▼
//   ┌─ table: memfd, MAP_SHARED, in every process of the program ──────────────┐
//   │ restart_mu  robust; serialises "is T alive? else start one"              │
//   │ alive_mu    robust; locked by T for its whole life                       │
//   │ slots[4096] {state, name, dev, ino}  create: CAS free→writing→creating,  │
//   │                                        shm_open, then →live              │
//   │                                      unregister: CAS live→removing→free  │
//   └──────────────────────────────────────────────────────────────────────────┘
//     ▲ at EOF
//     T: own session, ignores SIGINT/SIGTERM/SIGHUP, stdin/stdout on /dev/null,
//        every descriptor closed but stderr and R, every shared mapping but the
//        table unmapped; blocks in read(R). Nobody ever writes to the pipe:
//        read() returns 0 once the last W is closed, i.e. once every process
//        of the program has exited (SIGKILL included). T then unlinks each
//        live slot whose name still names the same inode (a name unlinked and
//        reused by someone else is left alone), warns on stderr as Python's
//        tracker does, and _exits.
//
//   kill -9 of a program process: its W closes; nothing else changes.
//   kill -9 of T: the kernel marks alive_mu owner-dead; the next create in
//        any process of the program sees EOWNERDEAD under restart_mu, starts a
//        new T from that process (which holds R: the same pipe, so the same
//        EOF condition) and the table, hence every registration, survives.
//   kill -9 while creating: the slot is "creating" (name known, object maybe
//        made by shm_open but not yet sized); T unlinks the name if it names
//        an object of size 0. So no moment of a create leaks the segment.
//   kill -9 in the middle of writing a slot or unregistering: the slot stays
//        "writing" (nothing was created yet) or "removing" (already unlinked).
//   exec: W and R are close-on-exec; an exec'd program is a new program.
//
// T's own code (the table layout and what T does) is in tracker_process.cpp.
#include "os/resource_tracker.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "mpx/detail/fd.hpp"
#include "mpx/errors.hpp"
#include "os/children.hpp"
#include "os/tracker_process.hpp"

namespace mpx::detail::resource_tracker {

namespace {

struct Local {
  std::mutex mu;  // guards the three members; never held across a fork
  Table* table = nullptr;
  Fd liveness_r;
  Fd liveness_w;
};

// Leaked on purpose: atfork handlers and exit paths may still use it.
Local* g_local = new Local;

void before_fork() { g_local->mu.lock(); }
void after_fork() { g_local->mu.unlock(); }

void init_robust(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutex_init(m, &attr);
  ::pthread_mutexattr_destroy(&attr);
}

Table* table_or_null() {
  std::lock_guard lock(g_local->mu);
  return g_local->table;
}

Table* table_or_create() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(before_fork, after_fork, after_fork); });
  std::lock_guard lock(g_local->mu);
  if (g_local->table) return g_local->table;
  auto [r, w] = Fd::pipe();
  Fd segment = Fd::memfd("mpx-resource-tracker", sizeof(Table));
  auto* t = reinterpret_cast<Table*>(shm::map(segment.get(), sizeof(Table)));  // zero-filled
  init_robust(&t->restart_mu);
  init_robust(&t->alive_mu);
  g_local->liveness_r = std::move(r);
  g_local->liveness_w = std::move(w);
  g_local->table = t;
  return t;  // the memfd closes here: the mapping keeps the table alive
}

void lock_robust(pthread_mutex_t* m) {
  int rc = ::pthread_mutex_lock(m);
  // Owner died while starting a tracker: the alive_mu check below redoes its work.
  if (rc == EOWNERDEAD) rc = ::pthread_mutex_consistent(m);
  if (rc != 0) throw_os_error("pthread_mutex_lock(resource tracker)", rc);
}

// The intermediate exits at once; under SIGCHLD=SIG_IGN the kernel reaps it
// and waitpid fails with ECHILD, which is as good.
void reap_intermediate(int pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Forks T through an intermediate process (the double fork of a daemon) and
// waits until T holds alive_mu. Called with restart_mu held.
void start_tracker(Table* t, int liveness_r) {
  auto [ready_r, ready_w] = Fd::pipe();
  t->tracker_pid.store(0);
  int ready_fd = ready_w.get();
  int intermediate = fork_and_run([t, liveness_r, ready_fd] {
    int pid = ::fork();
    if (pid == 0) tracker_main(t, liveness_r, ready_fd);
    if (pid < 0) return 1;
    t->tracker_pid.store(pid);
    return 0;
  });
  ready_w.reset();
  reap_intermediate(intermediate);
  int pid = t->tracker_pid.load();
  if (pid <= 0) throw_os_error("fork(resource tracker)", EAGAIN);
  // Another thread's fork may also hold ready_w, so EOF cannot mean "T is
  // ready or dead": wait for T's byte, or for T itself to exit.
  Fd tracker = Fd::pidfd_open(pid);
  pollfd fds[2] = {{ready_r.get(), POLLIN, 0}, {tracker.get(), POLLIN, 0}};
  for (;;) {
    int n = ::poll(fds, 2, -1);
    if (n > 0) break;
    if (n < 0 && errno != EINTR) throw_os_error("poll(resource tracker)");
  }
  if (!(fds[0].revents & POLLIN)) throw_os_error("resource tracker exited at start", ECHILD);
}

bool matches(const Slot& s, std::string_view name, shm::Identity id) {
  return s.length == name.size() && std::memcmp(s.name, name.data(), name.size()) == 0 && s.dev == id.dev &&
         s.ino == id.ino;
}

std::uint32_t scan_limit(const Table* t) { return std::min<std::uint32_t>(t->high_water.load(), kSlots); }

}  // namespace

void ensure_running() {
  Table* t = table_or_create();
  int liveness_r;
  {
    std::lock_guard lock(g_local->mu);
    liveness_r = g_local->liveness_r.get();
  }
  lock_robust(&t->restart_mu);
  struct Unlock {
    pthread_mutex_t* m;
    ~Unlock() { ::pthread_mutex_unlock(m); }
  } unlock{&t->restart_mu};
  int rc = ::pthread_mutex_trylock(&t->alive_mu);
  if (rc == EBUSY) return;  // T holds it: alive
  bool died = rc == EOWNERDEAD;
  if (died) rc = ::pthread_mutex_consistent(&t->alive_mu);
  if (rc != 0) throw_os_error("pthread_mutex_trylock(resource tracker)", rc);
  ::pthread_mutex_unlock(&t->alive_mu);
  if (died) {
    static constexpr char kMsg[] =
        "mpx resource_tracker: the tracker process died unexpectedly, relaunching; "
        "registered segments are kept\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  }
  start_tracker(t, liveness_r);
}

std::uint32_t reserve(std::string_view name) {
  if (name.size() >= kNameCapacity) throw_os_error("resource_tracker: register", ENAMETOOLONG);
  Table* t = table_or_create();
  for (std::uint32_t i = 0; i < kSlots; ++i) {
    Slot& s = t->slots[i];
    std::uint32_t expected = kFree;
    if (s.state.load(std::memory_order_relaxed) != kFree ||
        !s.state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) {
      continue;
    }
    // Raise the scan limit before publishing: a reaper never misses a slot.
    auto limit = t->high_water.load();
    while (limit < i + 1 && !t->high_water.compare_exchange_weak(limit, i + 1)) {
    }
    std::memcpy(s.name, name.data(), name.size());
    s.name[name.size()] = '\0';
    s.length = static_cast<std::uint32_t>(name.size());
    s.dev = 0;
    s.ino = 0;
    s.state.store(kCreating, std::memory_order_release);
    return i;
  }
  throw_os_error("resource_tracker: register " + std::string(name), ENOSPC);
}

void publish(std::uint32_t slot, shm::Identity id) noexcept {
  Table* t = table_or_null();
  if (!t || slot >= kSlots) return;
  Slot& s = t->slots[slot];
  s.dev = id.dev;
  s.ino = id.ino;
  s.state.store(kLive, std::memory_order_release);
}

void cancel(std::uint32_t slot) noexcept {
  Table* t = table_or_null();
  if (t && slot < kSlots) t->slots[slot].state.store(kFree, std::memory_order_release);
}

void register_segment(std::string_view name, shm::Identity id) { publish(reserve(name), id); }

void unregister_segment(std::string_view name, shm::Identity id) noexcept {
  Table* t = table_or_null();
  if (!t) return;
  for (std::uint32_t i = 0, n = scan_limit(t); i < n; ++i) {
    Slot& s = t->slots[i];
    if (s.state.load(std::memory_order_acquire) != kLive || !matches(s, name, id)) continue;
    std::uint32_t expected = kLive;
    if (!s.state.compare_exchange_strong(expected, kRemoving, std::memory_order_acquire)) continue;
    if (!matches(s, name, id)) {  // the slot was freed and reused meanwhile: not ours
      s.state.store(kLive, std::memory_order_release);
      continue;
    }
    s.state.store(kFree, std::memory_order_release);
  }
}

int tracker_pid() noexcept {
  Table* t = table_or_null();
  return t ? t->tracker_pid.load() : 0;
}

std::vector<std::string> registered() {
  std::vector<std::string> names;
  Table* t = table_or_null();
  if (!t) return names;
  for (std::uint32_t i = 0, n = scan_limit(t); i < n; ++i) {
    const Slot& s = t->slots[i];
    if (s.state.load(std::memory_order_acquire) == kLive) names.emplace_back(s.name, s.length);
  }
  return names;
}

void leave_program() noexcept {
  std::lock_guard lock(g_local->mu);
  if (!g_local->table) return;
  shm::unmap(reinterpret_cast<std::byte*>(g_local->table), sizeof(Table));
  g_local->table = nullptr;
  g_local->liveness_r.reset();
  g_local->liveness_w.reset();
}

}  // namespace mpx::detail::resource_tracker
