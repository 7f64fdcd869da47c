// src/os/popen_fork.hpp — the fork start method (CPython's popen_fork.py).
// Later start methods (forkserver, spawn) get a file each behind the same call.
#pragma once

#include <functional>

#include "os/children.hpp"

namespace mpx::detail {

/// Starts `st` as a forked child that runs `child_main` and exits with its
/// result. On return (parent only) st.pid, st.pidfd and st.started are set and
/// the child is registered.
void popen_fork(ProcessState& st, const std::shared_ptr<ProcessState>& keep, const std::function<int()>& child_main);

}  // namespace mpx::detail
