// Out-of-line throw sites and constructors of the error tree (errors.hpp).
#include "mpx/errors.hpp"

#include <cstring>
#include <utility>

namespace mpx {

BufferTooShort::BufferTooShort(Bytes message)
    : ProcessError("BufferTooShort: the buffer is too small for a message of " + std::to_string(message.size()) +
                   " bytes"),
      message_(std::move(message)) {}

RemoteError::RemoteError(std::string type_name, std::string message)
    : Error(type_name + ": " + message), type_name_(std::move(type_name)), message_(std::move(message)) {}

namespace detail {

[[noreturn]] void throw_os_error(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  switch (err) {
    case EPIPE:
    case ESHUTDOWN:
      throw BrokenPipeError(err, message);
    case ECONNRESET:
      throw ConnectionResetError(err, message);
    case ECONNREFUSED:
      throw ConnectionRefusedError(err, message);
    case ECONNABORTED:
      throw ConnectionAbortedError(err, message);
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS:
    case EALREADY:
      throw BlockingIOError(err, message);
    case ENOENT:
      throw FileNotFoundError(err, message);
    case EEXIST:
      throw FileExistsError(err, message);
    default:
      throw OSError(err, message);
  }
}

[[noreturn]] void internal_error(std::string_view what) {
  throw Error("mpx internal error: " + std::string(what) + " (please report this)");
}

}  // namespace detail
}  // namespace mpx
