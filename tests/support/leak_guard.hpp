// tests/support/leak_guard.hpp — fails any test that leaves something behind.
//
// Installed for every test binary by tests/support/main.cpp: before each test
// it records this process's open descriptors, its children (zombies
// included) and, for tests registered with SHM, the entries of /dev/shm;
// after the test, anything new is a
// failure naming what leaked.
#pragma once

#include <set>
#include <string>

namespace mpx::test {

struct Snapshot {
  std::set<std::string> fds;  // "fd -> target"
  std::set<int> children;     // pids, zombies included
  std::set<std::string> shm;  // /dev/shm names
};

Snapshot take_snapshot();
/// Human-readable list of what `after` has that `before` had not; empty if nothing.
std::string leaks(const Snapshot& before, const Snapshot& after);

}  // namespace mpx::test
