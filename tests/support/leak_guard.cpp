#include "support/leak_guard.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "os/popen_forkserver.hpp"

namespace mpx::test {

namespace {

std::set<std::string> list_dir(const char* path) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(path)) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.insert(n);
    }
    ::closedir(d);
  }
  return out;
}

}  // namespace

Snapshot take_snapshot() {
  Snapshot s;
  // The forkserver lives as long as the program once started, as the arena
  // does: neither it nor our end of its socket is a test's leak.
  const auto server = mpx::detail::forkserver_ids();
  for (const auto& fd : list_dir("/proc/self/fd")) {
    if (server.fd >= 0 && fd == std::to_string(server.fd)) continue;
    char target[512];
    std::string link = "/proc/self/fd/" + fd;
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    // An fd that cannot be read back is the listing's own directory fd,
    // closed by now; mpx's process-wide arena (made once, kept for the life
    // of the process by design) is not a leak either.
    if (n <= 0) continue;
    std::string t(target, static_cast<std::size_t>(n));
    if (t.find("memfd:mpx-shared") != std::string::npos) continue;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizer runtimes open pipes of their own at times we do not
    // control (seen once under ASan, at a thread's start, on a fresh Debian
    // root). The plain build still checks pipes, so a pipe mpx leaked is caught there.
    if (t.rfind("pipe:", 0) == 0) continue;
#endif
    s.fds.insert(fd + " -> " + t);
  }
  for (const auto& task : list_dir("/proc/self/task")) {
    std::ifstream in("/proc/self/task/" + task + "/children");
    int pid;
    while (in >> pid) {
      if (pid != server.pid) s.children.insert(pid);
    }
  }
  // /dev/shm is machine-wide: another test binary running at the same time
  // may create entries there. Only the tests registered with SHM (which ctest
  // runs one at a time, RESOURCE_LOCK dev_shm) look at it.
  if (const char* check = std::getenv("MPX_TEST_CHECK_SHM"); check && *check == '1') s.shm = list_dir("/dev/shm");
  return s;
}

std::string leaks(const Snapshot& before, const Snapshot& after) {
  std::ostringstream out;
  for (const auto& fd : after.fds) {
    if (!before.fds.count(fd)) out << "  leaked fd " << fd << "\n";
  }
  for (int pid : after.children) {
    if (!before.children.count(pid)) out << "  leaked child process " << pid << " (alive or zombie)\n";
  }
  for (const auto& name : after.shm) {
    if (!before.shm.count(name)) out << "  leaked /dev/shm/" << name << "\n";
  }
  return out.str();
}

}  // namespace mpx::test
