// The spawn start method: posix_spawn of /proc/self/exe, the request over a pipe.
#include "os/popen_spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "mpx/codec.hpp"
#include "mpx/detail/arena.hpp"
#include "mpx/detail/shared_object.hpp"
#include "mpx/errors.hpp"
#include "mpx/process.hpp"

extern char** environ;

namespace mpx::detail {

namespace {

// The descriptor the child reads its request from, and the variable that
// tells mpx::init so.
constexpr int kRequestFd = 3;
constexpr const char* kSpawnVar = "MPX_SPAWN_FD";
// Every variable that tells mpx::init what this process is: a child of ours
// must not inherit one meant for us.
constexpr const char* kMarkers[] = {"MPX_SPAWN_FD=", "MPX_FORKSERVER="};

std::vector<std::string>& saved_argv() {
  static auto* v = new std::vector<std::string>;
  return *v;
}
bool g_init_called = false;

void write_all(int fd, const void* data, std::size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_os_error("write(spawn request)");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

bool read_all(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

const char* g_who = "spawned process";

[[noreturn]] void child_fail(const std::string& what) {
  std::fprintf(stderr, "mpx: %s: %s\n", g_who, what.c_str());
  std::fflush(stderr);
  ::_exit(1);
}

}  // namespace

void remember_argv(int argc, char** argv) {
  auto& v = saved_argv();
  v.clear();
  for (int i = 0; i < argc && argv && argv[i]; ++i) v.emplace_back(argv[i]);
  g_init_called = true;
}

bool init_called() noexcept { return g_init_called; }

int spawn_self(const std::vector<int>& fds, const std::vector<std::string>& env) {
  // Every descriptor goes to a fixed number in the child. dup2 onto its own
  // number would leave FD_CLOEXEC set, and a later dup2 could overwrite a
  // source still to be copied: copy every source above the targets first.
  const int first_free = kRequestFd + static_cast<int>(fds.size());
  std::vector<Fd> sources;
  for (int fd : fds) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, first_free);
    if (moved < 0) throw_os_error("fcntl(F_DUPFD_CLOEXEC)");
    sources.emplace_back(moved);
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  struct Cleanup {
    posix_spawn_file_actions_t* fa;
    posix_spawnattr_t* attr;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(fa);
      posix_spawnattr_destroy(attr);
    }
  } cleanup{&fa, &attr};
  for (std::size_t i = 0; i < sources.size(); ++i) {
    posix_spawn_file_actions_adddup2(&fa, sources[i].get(), kRequestFd + static_cast<int>(i));
  }
  // Python's spawn passes only the descriptors it means to (close_fds):
  // nothing else of the parent's leaks into the fresh program.
  posix_spawn_file_actions_addclosefrom_np(&fa, first_free);
  // A clean signal state: default dispositions for what the parent caught,
  // nothing blocked (posix_spawn keeps ignored signals ignored, as exec does).
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = saved_argv();
  if (args.empty()) args.emplace_back("mpx-spawned");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> vars = env;
  std::vector<char*> envp;
  for (char** e = environ; e && *e; ++e) {
    bool marker = false;
    for (const char* m : kMarkers) marker = marker || std::strncmp(*e, m, std::strlen(m)) == 0;
    if (!marker) envp.push_back(*e);
  }
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  // /proc/self/exe: the binary this process runs, even if the file on disk
  // was replaced or removed since it started.
  int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv.data(), envp.data());
  if (rc != 0) throw_os_error("posix_spawn(/proc/self/exe)", rc);
  return pid;
}

void popen_spawn(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const SpawnRequest& request,
                 const std::vector<int>& fds) {
  if (!g_init_called) {
    throw ProcessError(
        "the spawn start method needs mpx::init(argc, argv) first thing in main(): the child runs the "
        "program again, and mpx::init is where it runs the shipped call instead of main()");
  }
  std::vector<std::byte> body = encode(request);
  if (body.size() > kMaxSpawnRequest) {
    throw ValueError("spawn request too large (its arguments encode to over 256 MiB)");
  }

  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);

  auto [read_end, write_end] = Fd::pipe();
  std::vector<int> passed{read_end.get(), Arena::shared().fd()};
  passed.insert(passed.end(), fds.begin(), fds.end());
  const int pid = spawn_self(passed, {std::string(kSpawnVar) + "=" + std::to_string(kRequestFd)});
  read_end.reset();

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int saved = errno;
    ::kill(pid, SIGKILL);  // a child we cannot watch must not be left behind
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw_os_error("pidfd_open", saved);
  }
  {
    std::lock_guard lock(st.mu);
    st.pid = pid;
    st.pidfd = Fd(pidfd);
  }
  register_child(keep);

  // The child reads the request once it runs: a write that finds it gone
  // (EPIPE) is its exit code's business, not start()'s.
  auto size = static_cast<std::uint32_t>(body.size());
  try {
    write_all(write_end.get(), &size, sizeof size);
    write_all(write_end.get(), body.data(), body.size());
  } catch (const BrokenPipeError&) {
  }
}

std::vector<int> spawned_fds(std::uint32_t count) {
  std::vector<int> fds;
  for (std::uint32_t i = 0; i < count; ++i) {
    int fd = kSpawnFirstArgFd + static_cast<int>(i);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours now, not our children's
    fds.push_back(fd);
  }
  return fds;
}

void run_if_spawned() {
  const char* var = std::getenv(kSpawnVar);
  if (!var) return;
  int fd = std::atoi(var);
  ::unsetenv(kSpawnVar);  // our own children must not think they were spawned
  std::uint32_t size = 0;
  if (fd < 0 || !read_all(fd, &size, sizeof size)) child_fail("no request from the parent");
  if (size > kMaxSpawnRequest) child_fail("request of " + std::to_string(size) + " bytes refused");
  std::vector<std::byte> body(size);
  if (!read_all(fd, body.data(), size)) child_fail("request cut short");
  ::close(fd);
  run_spawn_request(body, 0, -1, "spawned process");
}

void run_spawn_request(std::span<const std::byte> body, int launcher_pid, int parent_pidfd, const char* who) {
  g_who = who;
  // The parent's arena, before anything here makes a shared object.
  if (!Arena::adopt_shared(Fd(kSpawnArenaFd))) child_fail("mpx objects were made before mpx::init in main()");
  SpawnRequest request;
  try {
    request = decode<SpawnRequest>(body);
  } catch (const std::exception& e) {
    child_fail(std::string("malformed request: ") + e.what());
  }
  if (request.build_id != build_id()) {
    child_fail("the parent runs another binary (build-id " + request.build_id + ", this is " + build_id() + ")");
  }
  request.launcher_pid = launcher_pid != 0 ? launcher_pid : request.parent_pid;
  request.parent_pidfd = parent_pidfd;
  int code = spawned_main(request);
  release_all_shared_blocks();  // this process touches no shared object again
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace mpx::detail
