// Must NOT compile: a type with a std::string member and no serialize() is not
// Encodable, and the error must say so in words (tests/CMakeLists.txt checks).
#include <mpx/codec.hpp>

#include <string>

struct Holder {
  std::string name;  // not trivially copyable, and no serialize()
};

int main() { return static_cast<int>(mpx::encode(Holder{"x"}).size()); }
