// src/os/popen_spawn.hpp — the spawn start method (CPython's popen_spawn_posix.py):
// a fresh run of the program's own binary, told what to run over a pipe.
// The child's side (run_spawn_request) also runs forkserver children.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mpx/detail/shipping.hpp"
#include "os/children.hpp"

namespace mpx::detail {

/// What a spawned child is told: who it is and what to run.
struct SpawnRequest {
  std::string build_id;  // checked before anything else is decoded further
  ShippedCall call;
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  int parent_pid = 0;
  std::string parent_name;
  std::uint32_t fd_count = 0;  // descriptors passed down for the arguments (Connections)
  std::string start_method;    // the child's own default (Python's spawn prepare())
  // Not sent; set in the child. The process whose death must kill a daemon
  // child (PR_SET_PDEATHSIG): the parent under spawn, the forkserver under
  // forkserver.
  int launcher_pid = 0;
  // Not sent; set in the child: a pidfd of the parent when the launcher is
  // not the parent (forkserver), for parent_process(); -1 otherwise.
  int parent_pidfd = -1;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(build_id, call, name, identity, daemon, parent_pid, parent_name, fd_count, start_method);
  }
};

/// Where a child of spawn or forkserver finds what the parent passed down.
inline constexpr int kSpawnArenaFd = 4;     // the parent's shared arena, which the child adopts
inline constexpr int kSpawnFirstArgFd = 5;  // then the descriptors of Connection arguments
/// The most a request may be: a few hundred bytes plus the encoded arguments.
inline constexpr std::uint32_t kMaxSpawnRequest = 256u << 20;

/// posix_spawn of /proc/self/exe (the running binary, even if the file on
/// disk was replaced) with argv as given to mpx::init, `fds[i]` as
/// descriptor 3 + i and no other descriptor but 0, 1 and 2, default signal
/// dispositions, nothing blocked, and `env` ("NAME=value" each) added to the
/// environment (without the parent's mpx markers). Returns the pid.
/// Throws: OSError if the launch fails.
int spawn_self(const std::vector<int>& fds, const std::vector<std::string>& env);

/// Starts `st` as a spawned child running `request`. On return st.pid,
/// st.pidfd are set and the child is registered.
/// Throws: ProcessError if mpx::init was not called; OSError if the launch fails.
/// `fds` are passed down for the arguments, in order (request.fd_count of them).
void popen_spawn(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const SpawnRequest& request,
                 const std::vector<int>& fds);

/// In a spawned child: the descriptors passed down, where they landed.
std::vector<int> spawned_fds(std::uint32_t count);

/// In mpx::init: if this process was spawned, run the request and exit.
void run_if_spawned();

/// In a child of spawn or forkserver, the arena at kSpawnArenaFd and the
/// arguments' descriptors from kSpawnFirstArgFd: decodes `body` (a
/// SpawnRequest), checks the build-id, runs the call and exits with its
/// code. `launcher_pid`: the process that started this one, 0 if that is the
/// parent. `who` names the child in the errors it reports on stderr.
[[noreturn]] void run_spawn_request(std::span<const std::byte> body, int launcher_pid, int parent_pidfd,
                                    const char* who);

/// Recorded by mpx::init: the program's argv, for spawned children.
void remember_argv(int argc, char** argv);
bool init_called() noexcept;

}  // namespace mpx::detail
