// The forkserver process: mpx::init's loop in a fresh run of the program
// (protocol and diagram: popen_forkserver.hpp). CPython: forkserver.main().
//
// Single-threaded: it forks with no lock of another thread to inherit. It
// never decodes a request (the child does, as a spawned child does), so a
// request it cannot read ends only that request's child, not the server.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "mpx/context.hpp"
#include "mpx/detail/shipping.hpp"
#include "mpx/process.hpp"
#include "os/popen_forkserver.hpp"

namespace mpx::detail {

namespace {

// The server's parent died: PR_SET_PDEATHSIG sends this. It also comes when
// only the thread that started the server ended, so the server checks.
constexpr int kParentDeathSignal = SIGUSR1;

[[noreturn]] void server_fail(const char* what) {
  std::fprintf(stderr, "mpx: forkserver: %s: %s\n", what, std::strerror(errno));
  std::fflush(stderr);
  ::_exit(1);
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

struct Server {
  int sock = -1;
  int sigfd = -1;
  int parent_pid = 0;
  int parent_pidfd = -1;  // handed to every child for parent_process(); -1 if it could not be opened
  std::vector<std::pair<int, int>> children;  // pid, server's end of its status socket
};

// In the child, straight after fork: the descriptors where a spawned child
// has them (popen_spawn.hpp), nothing else of the server's, the signal state
// of a fresh program; then the spawn child's code.
[[noreturn]] void become_child(const Server& s, const std::vector<int>& fds, std::span<const std::byte> body,
                               int server_pid) {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGPIPE, SIG_DFL);
  ::close(s.sock);
  ::close(s.sigfd);

  const int nargs = static_cast<int>(fds.size()) - static_cast<int>(kForkFixedFds);
  const bool with_pidfd = s.parent_pidfd >= 0;
  const int pidfd_slot = kSpawnFirstArgFd + nargs;
  const int first_free = pidfd_slot + (with_pidfd ? 1 : 0);
  // Sources above every target first, so no dup2 overwrites one still to be copied.
  auto above = [first_free](int fd) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, first_free);
    if (moved < 0) server_fail("fcntl(F_DUPFD_CLOEXEC) in a child");
    return moved;
  };
  const int arena = above(fds[1]), out = above(fds[2]), err = above(fds[3]);
  std::vector<int> args;
  for (std::size_t i = kForkFixedFds; i < fds.size(); ++i) args.push_back(above(fds[i]));
  const int pidfd = with_pidfd ? above(s.parent_pidfd) : -1;
  bool ok = ::dup2(out, STDOUT_FILENO) >= 0 && ::dup2(err, STDERR_FILENO) >= 0 && ::dup2(arena, kSpawnArenaFd) >= 0;
  for (int i = 0; i < nargs; ++i) ok = ok && ::dup2(args[static_cast<std::size_t>(i)], kSpawnFirstArgFd + i) >= 0;
  if (with_pidfd) ok = ok && ::dup3(pidfd, pidfd_slot, O_CLOEXEC) >= 0;
  if (!ok) server_fail("dup2 in a child");
  // Everything else: the copies above, the other children's status sockets.
  // Below first_free only 0 (stdin, which the child points at /dev/null)
  // and 3 (the socket, closed above) are not targets.
  if (::syscall(SYS_close_range, first_free, ~0U, 0) != 0) server_fail("close_range in a child");
  run_spawn_request(body, server_pid, with_pidfd ? pidfd_slot : -1, "forkserver child");
}

void reply(int sock, ForkReply r, int pidfd) {
  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pidfd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &pidfd, sizeof pidfd);
  }
  // A parent that is gone (EPIPE) is seen as EOF on the next poll.
  while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// One request: receive, fork, answer. False at EOF: the parent is gone.
bool serve_one(Server& s, std::vector<std::byte>& body) {
  ForkRequestHeader header{};
  iovec iov{&header, sizeof header};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kForkMaxFds));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = ::recvmsg(s.sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n == 0 || (n < 0 && errno == ECONNRESET)) return false;
  if (n < 0) server_fail("recvmsg");
  std::vector<int> fds;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  // Only our parent writes here, in this format: anything else is a bug of
  // mpx's, and the stream cannot be trusted past it.
  errno = EPROTO;
  if (n != static_cast<ssize_t>(sizeof header) || (msg.msg_flags & MSG_CTRUNC) || header.magic != kForkRequestMagic ||
      header.fd_count != fds.size() || fds.size() < kForkFixedFds || header.body_size > kMaxSpawnRequest) {
    server_fail("malformed request");
  }
  body.resize(header.body_size);
  if (!read_all(s.sock, body.data(), body.size())) return false;

  const int server_pid = static_cast<int>(::getpid());
  const int pid = ::fork();
  if (pid == 0) become_child(s, fds, body, server_pid);
  const int fork_errno = errno;
  for (std::size_t i = 1; i < fds.size(); ++i) ::close(fds[i]);
  if (pid < 0) {
    ::close(fds[0]);
    reply(s.sock, ForkReply{-1, fork_errno}, -1);
    return true;
  }
  // Opened here, where the child cannot have been reaped yet and so its pid
  // cannot name another process.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int open_errno = errno;
    ::kill(pid, SIGKILL);  // a child its parent cannot watch must not run; reaped below
    ::close(fds[0]);
    reply(s.sock, ForkReply{-1, open_errno}, -1);
    return true;
  }
  reply(s.sock, ForkReply{pid, 0}, pidfd);
  ::close(pidfd);
  s.children.emplace_back(pid, fds[0]);
  return true;
}

// SIGCHLD: each exited child's code to its parent, as Python's
// os.waitstatus_to_exitcode gives it.
void reap(Server& s) {
  for (;;) {
    int status = 0;
    int pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    for (auto it = s.children.begin(); it != s.children.end(); ++it) {
      if (it->first != pid) continue;
      std::int32_t code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      // The parent may have let go of the process (EPIPE, ignored): it asks no more.
      while (::write(it->second, &code, sizeof code) < 0 && errno == EINTR) {
      }
      ::close(it->second);
      s.children.erase(it);
      break;
    }
  }
}

void warm_up() {
  (void)build_id();                // dl_iterate_phdr and a notes walk, in every child's run_shipped
  (void)::mpx::current_process();  // the static states bootstrap repoints
  (void)::mpx::get_start_method(true);
  std::vector<std::byte> scratch(1);  // malloc's arena set up before the first fork
}

// Returns whether the parent is still there.
bool drain_signals(const Server& s) {
  bool parent_gone = false;
  signalfd_siginfo info[16];
  for (;;) {
    ssize_t n = ::read(s.sigfd, info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof info[0]; ++i) {
      if (static_cast<int>(info[i].ssi_signo) == kParentDeathSignal && ::getppid() != s.parent_pid) {
        parent_gone = true;
      }
    }
  }
  return !parent_gone;
}

[[noreturn]] void serve(int sock, int parent_pid) {
  Server s;
  s.sock = sock;
  s.parent_pid = parent_pid;
  ::prctl(PR_SET_PDEATHSIG, kParentDeathSignal);
  if (::getppid() != parent_pid) ::_exit(0);  // it died before prctl took effect
  s.parent_pidfd = static_cast<int>(::syscall(SYS_pidfd_open, parent_pid, 0));
  if (::getppid() != parent_pid) ::_exit(0);  // the pidfd may name another process

  // Python's server ignores ^C (the parent decides) and has no stdin
  // (util._close_stdin). stdout too: a reader of the program's output must
  // see EOF when the program ends, not when the server does.
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) server_fail("open /dev/null");
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(null_fd, STDOUT_FILENO);
  ::close(null_fd);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);  // a parent that let go of a status socket must not kill us
  sigset_t mask;
  ::sigemptyset(&mask);
  ::sigaddset(&mask, SIGCHLD);
  ::sigaddset(&mask, kParentDeathSignal);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) server_fail("sigprocmask");
  s.sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (s.sigfd < 0) server_fail("signalfd");

  // What every child would otherwise compute or initialise for itself,
  // each time writing pages that are the server's copy-on-write.
  warm_up();

  std::vector<std::byte> body;
  for (;;) {
    pollfd fds[2] = {{s.sock, POLLIN, 0}, {s.sigfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      server_fail("poll");
    }
    if (fds[1].revents) {
      if (!drain_signals(s)) break;
      reap(s);
    }
    if (fds[0].revents && !serve_one(s, body)) break;
  }
  // The parent is gone. Children still running go on (daemons die with us).
  ::_exit(0);
}

}  // namespace

void run_if_forkserver() {
  const char* var = std::getenv(kForkserverVar);
  if (!var) return;
  int sock = -1, parent_pid = 0, bind_now_is_ours = 0;
  if (std::sscanf(var, "%d:%d:%d", &sock, &parent_pid, &bind_now_is_ours) != 3 || sock < 0 || parent_pid <= 0) {
    std::fprintf(stderr, "mpx: forkserver: bad %s=%s\n", kForkserverVar, var);
    ::_exit(1);
  }
  ::unsetenv(kForkserverVar);                       // our children must not think they are servers
  if (bind_now_is_ours) ::unsetenv("LD_BIND_NOW");  // set for us only (popen_forkserver.cpp)
  serve(sock, parent_pid);
}

}  // namespace mpx::detail
