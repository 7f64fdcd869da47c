// A program whose main() does not call mpx::init: a start under spawn or
// forkserver must fail at once with a ProcessError saying so — never run
// main() again in a child, never wait for a server that cannot serve.
// Prints what each start method did; the ctest checks the lines.
#include <cstdio>
#include <string>

#include "mpx/context.hpp"
#include "mpx/process.hpp"

namespace {
void noop() {}
}  // namespace

int main(int argc, char** argv) {
  int refused = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string method = argv[i];
    try {
      auto p = mpx::get_context(method).Process(noop);
      p.start();
      p.join();
      std::printf("%s: started, exit code %d\n", method.c_str(), p.exitcode().value_or(-1));
    } catch (const mpx::ProcessError& e) {
      std::printf("%s: ProcessError: %s\n", method.c_str(), e.what());
      ++refused;
    }
  }
  try {
    mpx::forkserver::ensure_running();
    std::printf("ensure_running: started\n");
  } catch (const mpx::ProcessError& e) {
    std::printf("ensure_running: ProcessError: %s\n", e.what());
    ++refused;
  }
  return refused == argc ? 0 : 1;  // every method named, and ensure_running
}
