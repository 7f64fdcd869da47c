// tests/conformance/pool_conformance.hpp — what the ports of CPython's
// Lib/test/_test_multiprocessing.py pool cases share: the bound on waits,
// Python's range() and sqr(), a type that cannot be encoded at run time,
// and the name of an exception's type. Included by pool_conformance_test.cpp
// (_TestPool) and pool_worker_conformance_test.cpp (the workers' errors,
// lifetime and initializers, and the module-level cases).
#pragma once

#include <cxxabi.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "mpx/errors.hpp"

namespace mpx::test::pool_conformance {

using namespace std::chrono_literals;

// Every wait that should not time out (Python: support.SHORT_TIMEOUT, or no timeout).
inline constexpr auto kLong = 20s;

inline std::vector<int> range(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// ---- the module's task functions ------------------------------------------------

// Python: sqr(x, wait=0.0) — one function per arity (a default argument does
// not travel with a function pointer).
inline int sqr(int x) { return x * x; }
inline int sqr_wait(int x, double wait) {
  std::this_thread::sleep_for(std::chrono::duration<double>(wait));  // the task's work
  return x * x;
}

// Python's class A with a __reduce__ that raises: encodable by type, but its
// serialize() fails at run time (in the parent for an argument, in the
// worker for a result).
struct Unpicklable {
  int value = 0;
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("cannot pickle");
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value);
  }
};

inline std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  return out;
}

// The dynamic type of what `e` holds, and RemoteError's type_name().
inline std::string type_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const mpx::RemoteError& x) {
    return "mpx::RemoteError(" + x.type_name() + ")";
  } catch (const std::exception& x) {
    return demangle(typeid(x).name());
  } catch (...) {
    return "?";
  }
}

}  // namespace mpx::test::pool_conformance
