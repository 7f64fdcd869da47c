// mpx/detail/remote_exception.hpp — an exception thrown in another process,
// carried back as bytes (DESIGN.md: "An exception thrown by a task in another
// process arrives as mpx::RemoteError carrying the original type name and
// message, or as the original type for the standard ones").
//
//   try { run_task(); } catch (...) { out = encode(capture_exception(std::current_exception())); }
//   ...                                                     // in the parent:
//   std::rethrow_exception(rebuild(decode<RemoteException>(bytes)));
//
// The types rebuilt as themselves are the std:: exceptions of <stdexcept>
// and <new>, and mpx's own errors that take a message (errors.hpp); any
// other type becomes RemoteError(type name, what()). An OSError keeps its errno.
#pragma once

#include <exception>
#include <string>

namespace mpx::detail {

struct RemoteException {
  std::string type;      // demangled: "std::invalid_argument", "Bad::Thing"
  std::string message;   // what()
  int error_number = 0;  // OSError's errno
  template <class Archive>
  void serialize(Archive& ar) {
    ar(type, message, error_number);
  }
};

/// Describes `e` (usually std::current_exception()). Never throws.
RemoteException capture_exception(const std::exception_ptr& e) noexcept;

/// The exception to raise for `r` in this process.
std::exception_ptr rebuild(const RemoteException& r);

}  // namespace mpx::detail
