// Must NOT compile: Python's Value('i', 5, lock='navalue') raises
// AttributeError ('navalue' has no method 'acquire'); in mpx a string does not
// silently become `lock=true` — it fails to compile, and the diagnostic quotes
// the line that says what lock= takes (tests/CMakeLists.txt checks).
#include <mpx/sharedctypes.hpp>

int main() {
  mpx::Value<int> v(5, "navalue");
  return v.value();
}
