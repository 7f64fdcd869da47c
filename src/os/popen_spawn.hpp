// src/os/popen_spawn.hpp — the spawn start method (CPython's popen_spawn_posix.py):
// a fresh run of the program's own binary, told what to run over a pipe.
#pragma once

#include <memory>
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
  template <class Archive>
  void serialize(Archive& ar) {
    ar(build_id, call, name, identity, daemon, parent_pid, parent_name, fd_count, start_method);
  }
};

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

/// Recorded by mpx::init: the program's argv, for spawned children.
void remember_argv(int argc, char** argv);
bool init_called() noexcept;

}  // namespace mpx::detail
