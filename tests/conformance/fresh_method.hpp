// tests/conformance/fresh_method.hpp — the fixture of the start-method ports
// whose child is not a copy of the parent: each case is a TEST_P over spawn
// and forkserver, as test_multiprocessing_spawn and
// test_multiprocessing_forkserver run CPython's cases. Included by
// spawn_process_conformance_test.cpp and spawn_process_io_conformance_test.cpp.
#pragma once

#include <string>

#include "conformance/context_conformance.hpp"

namespace fresh_method {

// The method of the running case; read by the helpers of the tests, which
// are free functions as Python's are.
inline std::string g_method = "spawn";
inline mpx::Context fresh_ctx() { return mpx::get_context(g_method); }

class FreshMethod : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { g_method = GetParam(); }
  void TearDown() override { g_method = "spawn"; }
};

inline std::string method_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace fresh_method
using namespace fresh_method;

#define MPX_FRESH_SUITE(suite)         \
  class suite : public FreshMethod {}; \
  INSTANTIATE_TEST_SUITE_P(Method, suite, ::testing::Values("spawn", "forkserver"), method_name)
