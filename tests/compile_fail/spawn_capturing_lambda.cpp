// Must NOT compile: a lambda with captures cannot travel to a spawned child,
// and mpx::spawn_context() knows its method at compile time.
#include "mpx/context.hpp"

int main() {
  int captured = 1;
  auto p = mpx::spawn_context().Process([captured] { (void)captured; });
  (void)p;
}
