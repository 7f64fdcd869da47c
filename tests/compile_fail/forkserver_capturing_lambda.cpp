// Must NOT compile: a lambda with captures cannot travel to a forkserver
// child, and mpx::forkserver_context() knows its method at compile time.
#include "mpx/context.hpp"

int main() {
  int captured = 1;
  auto p = mpx::forkserver_context().Process([captured] { (void)captured; });
  (void)p;
}
