// The forkserver start method, the parent's side: start the server, send it
// requests, watch the children it forks (diagram: popen_forkserver.hpp).
#include "os/popen_forkserver.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <new>
#include <string>

#include "mpx/codec.hpp"
#include "mpx/detail/arena.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

// One server per process, one request at a time on its socket.
struct Client {
  std::mutex mu;
  int pid = 0;                    // the server, a child of ours; 0: none
  std::atomic<bool> ever{false};  // a server was started: forkserver_stop has work
  Fd sock;
  bool hooks_installed = false;
};
// Leaked: used by the atexit handler and in fork children.
Client* g_client = new Client;

// A fork child must not talk on its parent's socket (the replies would
// interleave), and its copy would keep the server from seeing EOF when the
// parent ends: it forgets the server and starts its own if it needs one.
void before_fork() { g_client->mu.lock(); }
void after_fork_parent() { g_client->mu.unlock(); }
void after_fork_child() {
  new (&g_client->mu) std::mutex;
  g_client->sock.reset();
  g_client->pid = 0;
  g_client->ever = false;
}

// Called with mu held. Reaps a server that exited (or that someone else's
// waitpid(-1) reaped: ECHILD) and forgets it.
bool server_running(Client& c) {
  if (c.pid == 0) return false;
  int r;
  do {
    r = ::waitpid(c.pid, nullptr, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return true;
  if (r < 0 && errno != ECHILD) throw_os_error("waitpid(forkserver)");
  c.pid = 0;
  c.sock.reset();
  return false;
}

// At exit: the children first (they report through the server), then the server.
void stop_at_exit() {
  exit_children();
  forkserver_stop();
}

void check_init() {
  if (!init_called()) {
    throw ProcessError(
        "the forkserver start method needs mpx::init(argc, argv) first thing in main(): the server runs "
        "the program again, and mpx::init is where it serves instead of running main()");
  }
}

void ensure_running_locked(Client& c) {
  if (server_running(c)) return;
  check_init();
  auto [mine, theirs] = Fd::socketpair_stream();
  // Every symbol bound when the server starts, not lazily in each child: a
  // lazy binding writes the GOT, a copy-on-write fault per child (and process
  // start is page-fault bound here). The server unsets it again ("1" in its
  // marker) unless the program had it set itself.
  const bool bind_now = std::getenv("LD_BIND_NOW") == nullptr;
  std::vector<std::string> env{std::string(kForkserverVar) + "=3:" + std::to_string(static_cast<long>(::getpid())) +
                               ":" + (bind_now ? "1" : "0")};
  if (bind_now) env.emplace_back("LD_BIND_NOW=1");
  c.pid = spawn_self({theirs.get()}, env);
  c.sock = std::move(mine);
  c.ever = true;
  if (!c.hooks_installed) {
    c.hooks_installed = true;
    if (int rc = ::pthread_atfork(before_fork, after_fork_parent, after_fork_child); rc != 0) {
      throw_os_error("pthread_atfork", rc);
    }
    std::atexit(stop_at_exit);
  }
}

// False if the server was gone before it read anything (EPIPE on the first
// bytes): the request can be sent again to a new one.
bool send_request(int sock, const ForkRequestHeader& header, const std::vector<std::byte>& body,
                  const std::vector<int>& fds) {
  iovec iov[2] = {{const_cast<ForkRequestHeader*>(&header), sizeof header},
                  {const_cast<std::byte*>(body.data()), body.size()}};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) return false;
  if (n < 0) throw_os_error("sendmsg(forkserver request)");
  // A large request goes in pieces; the descriptors went with the first.
  std::size_t done = static_cast<std::size_t>(n);
  const std::size_t total = sizeof header + body.size();
  while (done < total) {
    std::size_t body_done = done - sizeof header;  // the header (12 bytes) always goes whole
    ssize_t w = ::send(sock, body.data() + body_done, total - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      throw ProcessError("the forkserver exited while it read a request");
    }
    if (w < 0) throw_os_error("send(forkserver request)");
    done += static_cast<std::size_t>(w);
  }
  return true;
}

// The reply, and the child's pidfd that comes with it.
ForkReply receive_reply(int sock, Fd& pidfd) {
  ForkReply reply{};
  iovec iov{&reply, sizeof reply};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != ECONNRESET) throw_os_error("recvmsg(forkserver reply)");
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); n > 0 && cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
      pidfd = Fd(fd);
    }
  }
  if (n != static_cast<ssize_t>(sizeof reply)) {
    throw ProcessError("the forkserver exited before it reported the child it started (was it killed?)");
  }
  return reply;
}

// A closed stdout or stderr cannot travel: the child gets /dev/null there.
int stdio_or_devnull(int fd, Fd& devnull) {
  if (::fcntl(fd, F_GETFD) >= 0) return fd;
  if (!devnull) devnull = Fd::open("/dev/null", O_RDWR);
  return devnull.get();
}

}  // namespace

void forkserver_stop() noexcept {
  Client& c = *g_client;
  // Read without the lock first: a fork child that never used a server ends
  // without writing to this page (process start is page-fault bound here).
  if (!c.ever.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(c.mu);
  if (c.pid == 0) return;
  c.sock.reset();
  ::kill(c.pid, SIGKILL);  // no need to wait for its EOF: nothing is left for it to do
  while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  c.pid = 0;
}

void forkserver_ensure_running() {
  Client& c = *g_client;
  std::lock_guard lock(c.mu);
  ensure_running_locked(c);
}

ForkserverIds forkserver_ids() noexcept {
  Client& c = *g_client;
  std::lock_guard lock(c.mu);
  return c.pid != 0 ? ForkserverIds{c.pid, c.sock.get()} : ForkserverIds{};
}

void popen_forkserver(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const SpawnRequest& request,
                      const std::vector<int>& fds) {
  check_init();
  if (fds.size() > kForkMaxFds - kForkFixedFds) {
    throw ValueError("too many descriptors for one forkserver child (" + std::to_string(fds.size()) +
                     " Connections; at most " + std::to_string(kForkMaxFds - kForkFixedFds) + ")");
  }
  std::vector<std::byte> body = encode(request);
  if (body.size() > kMaxSpawnRequest) {
    throw ValueError("forkserver request too large (its arguments encode to over 256 MiB)");
  }
  // The child writes to the same stdout: what the parent printed comes first.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);

  // A socket, not a pipe: the code can be peeked, so the sentinel stays readable.
  auto [status_r, status_w] = Fd::socketpair_stream();
  Fd devnull;
  std::vector<int> passed{status_w.get(), Arena::shared().fd(), stdio_or_devnull(STDOUT_FILENO, devnull),
                          stdio_or_devnull(STDERR_FILENO, devnull)};
  passed.insert(passed.end(), fds.begin(), fds.end());
  const ForkRequestHeader header{kForkRequestMagic, static_cast<std::uint32_t>(body.size()),
                                 static_cast<std::uint32_t>(passed.size())};

  Fd pidfd;
  ForkReply reply{};
  {
    Client& c = *g_client;
    std::lock_guard lock(c.mu);
    ensure_running_locked(c);
    if (!send_request(c.sock.get(), header, body, passed)) {
      // Killed since the last request: Python starts a new server (bpo-31308).
      server_running(c);
      ensure_running_locked(c);
      if (!send_request(c.sock.get(), header, body, passed)) {
        throw ProcessError("the forkserver exited at start (see its message on stderr)");
      }
    }
    status_w.reset();  // the server holds it now: EOF here means the server is gone
    reply = receive_reply(c.sock.get(), pidfd);
  }
  if (reply.pid <= 0) throw_os_error("fork (in the forkserver)", reply.error);
  if (!pidfd) throw ProcessError("the forkserver sent no pidfd for its child " + std::to_string(reply.pid));
  {
    std::lock_guard lock(st.mu);
    st.pid = reply.pid;
    st.pidfd = std::move(pidfd);
    st.status = std::move(status_r);
    st.started = true;
  }
  register_child(keep);
}

}  // namespace mpx::detail
