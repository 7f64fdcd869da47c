// src/os/resource_tracker.hpp — reclaims the named shared memory a program
// leaves behind (Python's multiprocessing.resource_tracker, shared_memory part).
//
// A "program" is the process that first created a tracked segment plus every
// process forked from it afterwards (they inherit the tracker's pipe and
// table). When the last of them is gone, by exit or by SIGKILL, the tracker
// unlinks whatever is still registered and warns on stderr. The design and
// its diagram are at the top of resource_tracker.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "os/shm.hpp"

namespace mpx::detail::resource_tracker {

/// Makes sure this process's program has a live tracker: starts one the
/// first time, and again if the previous one was killed (registrations are
/// kept: they live in shared memory, not in the tracker). Call it before
/// creating a segment, so that registering right after is only a few stores.
/// Throws: OSError if the tracker cannot be started.
void ensure_running();

/// Records `posix_name` (with its leading '/') as owned by this program.
/// Throws: OSError(ENOSPC) if the table is full.
void register_segment(std::string_view posix_name, shm::Identity id);

/// Registering a segment being created, without a window for SIGKILL:
/// reserve() before shm_open(O_CREAT | O_EXCL), publish() once it succeeded,
/// cancel() if it failed. A process killed between the two leaves a
/// "creating" slot, which the tracker reaps only if the name then names an
/// object of size 0 — created, never sized: ours.
/// Throws: OSError(ENOSPC) if the table is full.
std::uint32_t reserve(std::string_view posix_name);
void publish(std::uint32_t slot, shm::Identity id) noexcept;
void cancel(std::uint32_t slot) noexcept;

/// Forgets every registration of `posix_name` with identity `id` in this
/// program (no-op if none). Called after every successful unlink: the name
/// is gone, and the tracker must not unlink it again when it names another
/// block.
void unregister_segment(std::string_view posix_name, shm::Identity id) noexcept;

// Seams for tests and tools.

/// The current tracker's pid, 0 if this process has no tracker.
int tracker_pid() noexcept;
/// The names registered in this program's table.
std::vector<std::string> registered();
/// Detaches this process from the program's tracker (closes the pipe,
/// unmaps the table) as exec would: the next tracked create starts a new
/// program with its own tracker. For tests that model an unrelated program.
void leave_program() noexcept;

}  // namespace mpx::detail::resource_tracker
