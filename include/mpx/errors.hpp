// mpx/errors.hpp — the whole mpx error tree, with Python's names.
//
//   try {
//     auto msg = conn.recv<std::string>();
//   } catch (const mpx::EOFError&) {       // the peer closed its end
//   } catch (const mpx::DecodeError& e) {  // the bytes were not a std::string
//   } catch (const mpx::Error& e) {        // anything else mpx raises
//   }
//
// Every class derives from mpx::Error (a std::runtime_error), so one catch
// takes them all. OS failures are OSError with the errno and the call named
// in what(): "pidfd_open: No such process". Python re-exports some of these
// under other modules (queue.Empty, futures.TimeoutError); mpx does the same
// with using-declarations in those modules' headers.
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mpx/detail/bytes.hpp"

namespace mpx {

/// Root of every exception mpx throws.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Python: OSError. A failed OS call; errno_value() is the C errno, what() names the call.
class OSError : public Error {
 public:
  OSError(int err, const std::string& message) : Error(message), errno_(err) {}
  int errno_value() const noexcept { return errno_; }

 private:
  int errno_;
};

/// Python: BlockingIOError (EAGAIN, EWOULDBLOCK, EINPROGRESS, EALREADY) — a
/// call on a non-blocking socket (timeout 0) that would have to wait.
struct BlockingIOError : OSError {
  using OSError::OSError;
};
/// Python: ConnectionError, base of the four below.
struct ConnectionError : OSError {
  using OSError::OSError;
};
/// Python: BrokenPipeError (EPIPE, ESHUTDOWN) — writing to a pipe or socket whose reader is gone.
struct BrokenPipeError : ConnectionError {
  using ConnectionError::ConnectionError;
};
/// Python: ConnectionResetError (ECONNRESET).
struct ConnectionResetError : ConnectionError {
  using ConnectionError::ConnectionError;
};
/// Python: ConnectionRefusedError (ECONNREFUSED) — nobody listens at the address.
struct ConnectionRefusedError : ConnectionError {
  using ConnectionError::ConnectionError;
};
/// Python: ConnectionAbortedError (ECONNABORTED).
struct ConnectionAbortedError : ConnectionError {
  using ConnectionError::ConnectionError;
};
/// Python: FileNotFoundError (ENOENT) — e.g. attaching to a SharedMemory name that does not exist.
struct FileNotFoundError : OSError {
  using OSError::OSError;
};
/// Python: FileExistsError (EEXIST) — e.g. creating a SharedMemory under a name in use.
struct FileExistsError : OSError {
  using OSError::OSError;
};

/// Python: ValueError — an argument or an object state that is not allowed
/// (closing a running process, releasing an unlocked lock).
struct ValueError : Error {
  using Error::Error;
};
/// Python: IndexError — a sequence index out of range (ShareableList).
struct IndexError : Error {
  using Error::Error;
};
/// Python: KeyError — a mapping has no such key (a selector asked about a
/// file object that is not registered, or registering one twice).
struct KeyError : Error {
  using Error::Error;
};
/// Python: AssertionError — multiprocessing raises it for misuse such as
/// starting a process twice; mpx keeps the type so ported tests read the same.
struct AssertionError : Error {
  using Error::Error;
};
/// Python: TimeoutError.
struct TimeoutError : Error {
  using Error::Error;
};
/// Python: EOFError — the other end of a connection is closed.
struct EOFError : Error {
  using Error::Error;
};
/// Python: multiprocessing.ProcessError, base of the multiprocessing errors.
struct ProcessError : Error {
  using Error::Error;
};
/// Python: multiprocessing.AuthenticationError.
struct AuthenticationError : ProcessError {
  using ProcessError::ProcessError;
};

/// Python: multiprocessing.BufferTooShort — recv_bytes_into() was given a
/// buffer too small for the message. The message is kept in message().
class BufferTooShort : public ProcessError {
 public:
  explicit BufferTooShort(Bytes message);
  const Bytes& message() const noexcept { return message_; }

 private:
  Bytes message_;
};

/// Bytes that cannot be decoded as the requested type: truncated, garbage,
/// or claiming a length larger than what is there. Never UB, never a huge
/// allocation: decoders check before they allocate.
struct DecodeError : Error {
  using Error::Error;
};

/// An exception raised in another process, carried back with the original
/// type's name and message (Python attaches the remote traceback likewise).
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message);
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

/// A worker process died (killed by a signal, or exited) while running a
/// task: the task fails with this instead of hanging, as Python's Pool would.
class WorkerLost : public ProcessError {
 public:
  WorkerLost(const std::string& message, int exitcode) : ProcessError(message), exitcode_(exitcode) {}
  /// The worker's exit code: -signum if a signal killed it.
  int exitcode() const noexcept { return exitcode_; }

 private:
  int exitcode_;
};

/// Python: concurrent.futures.CancelledError (and asyncio's).
struct CancelledError : Error {
  using Error::Error;
};
/// Python: concurrent.futures.InvalidStateError.
struct InvalidStateError : Error {
  using Error::Error;
};
/// Python: concurrent.futures.process.BrokenProcessPool (a BrokenExecutor).
struct BrokenExecutor : Error {
  using Error::Error;
};
struct BrokenProcessPool : BrokenExecutor {
  using BrokenExecutor::BrokenExecutor;
};
/// Python: concurrent.futures.thread.BrokenThreadPool — a worker's initializer failed.
struct BrokenThreadPool : BrokenExecutor {
  using BrokenExecutor::BrokenExecutor;
};
/// Python: threading.BrokenBarrierError.
struct BrokenBarrierError : Error {
  using Error::Error;
};
/// Python: AttributeError — e.g. get_lock() on a Value made with lock=False.
struct AttributeError : Error {
  using Error::Error;
};
/// Python: RuntimeError — threading raises it for misuse (releasing an
/// un-acquired lock, starting a thread twice).
struct RuntimeError : Error {
  using Error::Error;
};

/// Python: queue.Empty, queue.Full, queue.ShutDown (3.13), re-exported by
/// mpx::queue and the process queues. Closed: mpx's Queue::close() seen by a
/// consumer once the queue is drained (Python has no equivalent).
namespace queue {
struct Empty : Error {
  using Error::Error;
};
struct Full : Error {
  using Error::Error;
};
struct ShutDown : Error {
  using Error::Error;
};
}  // namespace queue
struct Closed : Error {
  using Error::Error;
};

/// Thrown by mpx::exit(code) inside a Process to unwind to the process's
/// bootstrap, which exits with `code` — Python's SystemExit. Deliberately not
/// an mpx::Error: `catch (const mpx::Error&)` must not swallow an exit.
struct SystemExit {
  int code;
};

namespace detail {
/// Throws the OSError subclass matching `err` for the failed call `what`.
[[noreturn]] void throw_os_error(std::string_view what, int err = errno);
/// A broken invariant inside mpx: always checked, never compiled away.
[[noreturn]] void internal_error(std::string_view what);
}  // namespace detail

}  // namespace mpx
