// tests/support/child.hpp — helpers for tests that really fork.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "mpx/process.hpp"

namespace mpx::test {

/// Runs `fn` in a forked child (through mpx::Process) and returns its exit
/// code: 0 if fn returned, 1 if it threw. Fails the test if the child does not
/// finish within `timeout` (it is then killed).
int run_in_child(std::function<void()> fn, std::chrono::milliseconds timeout = std::chrono::seconds(20));

/// The state letter of /proc/<pid>/stat ('R', 'S', 'Z' ...), or 0 if gone.
char proc_state(int pid);

/// Captures what a callable writes to stdout (fd 1), children included.
std::string capture_stdout(const std::function<void()>& fn);

/// Kills and reaps, at scope exit, the children a test started and did not
/// join: a failed ASSERT returns early, and nothing may be left behind.
class ChildGuard {
 public:
  void add(const mpx::Process& p) { procs_.push_back(p); }
  ~ChildGuard();

 private:
  std::vector<mpx::Process> procs_;
};

/// Python's `p in active_children()`: the same process (by pid; an unstarted one never is).
bool in_active_children(const mpx::Process& p);

/// Waits until `pid` sleeps in the kernel ('S'): a child blocked in read(2),
/// poll(2) or a full send. The kernel gives no event for "has gone to
/// sleep", so this looks at /proc every millisecond, for up to 20 s.
bool wait_until_sleeping(int pid);

[[noreturn]] void block_forever();

}  // namespace mpx::test
