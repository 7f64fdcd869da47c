// The error tree: Python's names, one root, errno text naming the call.
#include "mpx/errors.hpp"

#include <gtest/gtest.h>

#include <cstring>

TEST(Errors, EveryErrorIsAnMpxError) {
  EXPECT_THROW(throw mpx::ValueError("v"), mpx::Error);
  EXPECT_THROW(throw mpx::TimeoutError("t"), mpx::Error);
  EXPECT_THROW(throw mpx::EOFError("e"), mpx::Error);
  EXPECT_THROW(throw mpx::AuthenticationError("a"), mpx::ProcessError);
  EXPECT_THROW(throw mpx::BufferTooShort(mpx::Bytes{}), mpx::ProcessError);
  EXPECT_THROW(throw mpx::DecodeError("d"), mpx::Error);
  EXPECT_THROW(throw mpx::RemoteError("ValueError", "x"), mpx::Error);
  EXPECT_THROW(throw mpx::WorkerLost("lost", -9), mpx::ProcessError);
  EXPECT_THROW(throw mpx::BrokenProcessPool("b"), mpx::BrokenExecutor);
  EXPECT_THROW(throw mpx::CancelledError("c"), mpx::Error);
  EXPECT_THROW(throw mpx::InvalidStateError("i"), mpx::Error);
  EXPECT_THROW(throw mpx::BrokenBarrierError("b"), mpx::Error);
  EXPECT_THROW(throw mpx::RuntimeError("r"), mpx::Error);
  EXPECT_THROW(throw mpx::queue::Empty(""), mpx::Error);
  EXPECT_THROW(throw mpx::queue::Full(""), mpx::Error);
  EXPECT_THROW(throw mpx::queue::ShutDown(""), mpx::Error);
  EXPECT_THROW(throw mpx::Closed(""), mpx::Error);
}

TEST(Errors, WorkerLostKeepsTheExitCode) { EXPECT_EQ(mpx::WorkerLost("worker killed by SIGKILL", -9).exitcode(), -9); }

TEST(Errors, OSErrorNamesTheCallAndErrno) {
  try {
    mpx::detail::throw_os_error("open /nonexistent", ENOENT);
    FAIL();
  } catch (const mpx::OSError& e) {
    EXPECT_EQ(e.errno_value(), ENOENT);
    EXPECT_STREQ(e.what(), (std::string("open /nonexistent: ") + std::strerror(ENOENT)).c_str());
  }
}

TEST(Errors, EpipeIsBrokenPipeError) {
  EXPECT_THROW(mpx::detail::throw_os_error("write", EPIPE), mpx::BrokenPipeError);
  EXPECT_THROW(mpx::detail::throw_os_error("recv", ECONNRESET), mpx::ConnectionResetError);
}

TEST(Errors, RemoteErrorKeepsTypeAndMessage) {
  mpx::RemoteError e("ZeroDivisionError", "division by zero");
  EXPECT_EQ(e.type_name(), "ZeroDivisionError");
  EXPECT_EQ(e.message(), "division by zero");
  EXPECT_STREQ(e.what(), "ZeroDivisionError: division by zero");
}

TEST(Errors, BufferTooShortCarriesTheMessage) {
  mpx::Bytes msg(5, std::byte{7});
  mpx::BufferTooShort e(msg);
  EXPECT_EQ(e.message(), msg);
}

TEST(Errors, SystemExitIsNotAnMpxError) {
  // A catch (const mpx::Error&) in user code must not swallow mpx::exit().
  EXPECT_FALSE((std::is_base_of_v<mpx::Error, mpx::SystemExit>));
}
