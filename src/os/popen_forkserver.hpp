// src/os/popen_forkserver.hpp — the forkserver start method (CPython's
// forkserver.py and popen_forkserver.py).
//
// The server S is a fresh run of the program's own binary (posix_spawn of
// /proc/self/exe, as spawn does), which mpx::init turns into a small
// single-threaded loop instead of main(). It forks one child per request, so
// a child never inherits the parent's threads or the locks they held, and
// pays a fork of a small process instead of an exec.
//
//   parent P                          server S (single-threaded)        child C
//   start():                          poll(socket, signalfd)
//     socketpair -> status_r, status_w
//     sendmsg(header, SpawnRequest, ─►  recvmsg, read body
//        SCM_RIGHTS: status_w, arena,   fork() ──────────────────────► place fds (arena 4,
//        stdout, stderr, arg fds)       pidfd_open(C)                    args 5.., stdout, stderr),
//     recvmsg(pid, SCM_RIGHTS: pidfd) ◄─ sendmsg(pid, pidfd)              run_spawn_request():
//     close status_w                    keep status_w for C               build-id, decode, run, _exit
//   join()/is_alive()/sentinel:        SIGCHLD: waitpid(-1, WNOHANG) ◄── exit
//     poll + peek status_r      ◄────── write(status_w, exitcode or -signum); close
//   terminate()/kill():
//     pidfd_send_signal(pidfd) ─────────────────────────────────────► C
//
// Lifetime: S ends when P does. P's end of the socket closes with P (a fork
// child of P closes its copy, pthread_atfork), so S reads EOF and exits;
// PR_SET_PDEATHSIG backs this up. A daemon C has PR_SET_PDEATHSIG(SIGKILL)
// towards S, so it dies with S, hence with P. At P's normal exit the atexit
// handler (or, in a child process, the end of its bootstrap) joins P's
// children (daemons terminated first) while S still serves, then stops S
// and reaps it. S killed while P lives: its children
// run on, their exit codes are lost (255, as in Python), and the next start
// launches a new server.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "os/children.hpp"
#include "os/popen_spawn.hpp"

namespace mpx::detail {

/// What P sends before the SpawnRequest bytes. The descriptors travel with
/// it (SCM_RIGHTS), in this order: one end of the status socket, the shared
/// arena, stdout, stderr, then the descriptors of the arguments.
struct ForkRequestHeader {
  std::uint32_t magic;
  std::uint32_t body_size;
  std::uint32_t fd_count;
};
inline constexpr std::uint32_t kForkRequestMagic = 0x6d707866;  // "fxpm"
inline constexpr std::uint32_t kForkFixedFds = 4;
inline constexpr std::uint32_t kForkMaxFds = 253;  // the kernel's SCM_MAX_FD

/// S's answer: the child's pid and, with it, a pidfd of the child opened by
/// S (race-free: only S could have reaped it). pid <= 0: fork failed with `error`.
struct ForkReply {
  std::int32_t pid;
  std::int32_t error;
};

/// Starts `st` as a child of the forkserver running `request`, starting the
/// server first if it is not running. On return st.pid, st.pidfd and
/// st.status are set and the child is registered.
/// Throws: ProcessError if mpx::init was not called or the server died
/// during the request; ValueError for too many descriptors or too large a
/// request; OSError if the server could not be started or fork failed there.
void popen_forkserver(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const SpawnRequest& request,
                      const std::vector<int>& fds);

/// Starts the server unless it runs. Python: forkserver.ensure_running().
/// Throws: as popen_forkserver.
void forkserver_ensure_running();

/// At the end of a process that started a server (atexit, or the end of a
/// child's bootstrap), after its children were joined: stops and reaps the
/// server, so it is no zombie left to an init that reaps late.
void forkserver_stop() noexcept;

/// The running server's pid and the descriptor of this process's end of its
/// socket ({0, -1} if none): for tests, which kill it or must not count it
/// as a leak (it lives as long as the program, like the shared arena).
struct ForkserverIds {
  int pid = 0;
  int fd = -1;
};
ForkserverIds forkserver_ids() noexcept;

/// In mpx::init: if this process is a forkserver, serve and exit
/// (forkserver_main.cpp).
void run_if_forkserver();

/// The environment variable that makes mpx::init serve: "fd:parent_pid".
inline constexpr const char* kForkserverVar = "MPX_FORKSERVER";

}  // namespace mpx::detail
