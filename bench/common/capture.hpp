// bench/common/capture.hpp — running a helper program (a load client, wrk)
// and reading what it prints: the echo and HTTP benchmarks measure every
// server with an outside client and read its figure from stdout.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "bench.hpp"

extern char** environ;

namespace bench {

/// Runs argv[0] (looked up in PATH when it has no '/'), waits for it and
/// returns its stdout; exits 1 (bench::fail) if it cannot start or fails.
inline std::string capture(const std::vector<std::string>& args) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    errno = rc;
    die(("posix_spawn " + args[0]).c_str());
  }
  // Read until the child exits, not until EOF: a process the caller forks
  // meanwhile (a prefork server's worker) inherits the pipe's write end and
  // keeps it open. Once the child is gone, what it wrote is in the pipe.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) die("pidfd_open");
  std::string text;
  char buf[4096];
  for (bool exited = false;;) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {pidfd, POLLIN, 0}};
    if (!exited && poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (!exited && fds[1].revents != 0) {
      exited = true;
      if (fcntl(out[0], F_SETFL, O_NONBLOCK) != 0) die("fcntl");
    }
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && (exited || errno != EAGAIN))) {
      break;
    }
  }
  close(pidfd);
  close(out[0]);
  wait_ok(pid);
  return text;
}

}  // namespace bench
