// Every aio test runs once per loop backend: a fixture parameterized over
// "epoll" and "io_uring". io_uring is skipped, with the reason, where the
// kernel refuses a ring (io_uring_disabled, seccomp) or mpx was built
// without liburing.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "mpx/aio.hpp"

namespace mpx::test {

class AioTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!mpx::aio::EventLoop::backend_available(GetParam()))
      GTEST_SKIP() << "the " << GetParam() << " backend is not available here (kernel refused a ring, or no liburing)";
  }
  mpx::aio::LoopOptions options() const { return {.backend = GetParam()}; }
  /// asyncio.run(main) on this test's backend.
  template <class T>
  T run(mpx::aio::Task<T> main) {
    return mpx::aio::run(std::move(main), options());
  }
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace mpx::test

/// Instantiates the TEST_P cases of `suite` for both backends.
#define MPX_AIO_BACKENDS(suite)                                                                               \
  INSTANTIATE_TEST_SUITE_P(Backends, suite, ::testing::Values(std::string("epoll"), std::string("io_uring")), \
                           mpx::test::backend_name)
