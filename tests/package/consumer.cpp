// Built against the installed tree by `make install-check`.
#include <mpx/mpx.hpp>

#include <cstdio>

int main() {
  auto [a, b] = mpx::Pipe();
  mpx::Process p([&] { b.send(std::string("installed mpx works")); });
  p.start();
  std::puts(a.recv<std::string>().c_str());
  p.join();
  return p.exitcode() == 0 ? 0 : 1;
}
