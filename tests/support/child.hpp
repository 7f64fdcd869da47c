// tests/support/child.hpp — helpers for tests that really fork.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace mpx::test {

/// Runs `fn` in a forked child (through mpx::Process) and returns its exit
/// code: 0 if fn returned, 1 if it threw. Fails the test if the child does not
/// finish within `timeout` (it is then killed).
int run_in_child(std::function<void()> fn, std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// The state letter of /proc/<pid>/stat ('R', 'S', 'Z' ...), or 0 if gone.
char proc_state(int pid);

/// Captures what a callable writes to stdout (fd 1), children included.
std::string capture_stdout(const std::function<void()>& fn);

}  // namespace mpx::test
