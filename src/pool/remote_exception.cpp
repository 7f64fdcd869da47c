// Exceptions across a process boundary (detail/remote_exception.hpp).
#include "mpx/detail/remote_exception.hpp"

#include <cxxabi.h>

#include <new>
#include <stdexcept>
#include <typeinfo>

#include "mpx/detail/future_core.hpp"
#include "mpx/errors.hpp"

namespace mpx::detail {

namespace {

// The types rebuilt as themselves. Matched by exact dynamic type name, so a
// user's subclass of std::runtime_error stays a RemoteError that names it.
template <class E>
std::exception_ptr make(const RemoteException& r) {
  return std::make_exception_ptr(E(r.message));
}

template <class E>
std::exception_ptr make_os(const RemoteException& r) {
  return std::make_exception_ptr(E(r.error_number, r.message));
}

struct Rebuilder {
  const char* name;
  std::exception_ptr (*make)(const RemoteException&);
};

const Rebuilder kRebuilders[] = {
    {"std::runtime_error", make<std::runtime_error>},
    {"std::logic_error", make<std::logic_error>},
    {"std::invalid_argument", make<std::invalid_argument>},
    {"std::domain_error", make<std::domain_error>},
    {"std::length_error", make<std::length_error>},
    {"std::out_of_range", make<std::out_of_range>},
    {"std::range_error", make<std::range_error>},
    {"std::overflow_error", make<std::overflow_error>},
    {"std::underflow_error", make<std::underflow_error>},
    {"mpx::Error", make<Error>},
    {"mpx::ValueError", make<ValueError>},
    {"mpx::IndexError", make<IndexError>},
    {"mpx::AssertionError", make<AssertionError>},
    {"mpx::TimeoutError", make<TimeoutError>},
    {"mpx::EOFError", make<EOFError>},
    {"mpx::ProcessError", make<ProcessError>},
    {"mpx::DecodeError", make<DecodeError>},
    {"mpx::CancelledError", make<CancelledError>},
    {"mpx::AttributeError", make<AttributeError>},
    {"mpx::RuntimeError", make<RuntimeError>},
    {"mpx::Closed", make<Closed>},
    {"mpx::KeyError", make<KeyError>},
    {"mpx::AuthenticationError", make<AuthenticationError>},
    {"mpx::InvalidStateError", make<InvalidStateError>},
    {"mpx::BrokenExecutor", make<BrokenExecutor>},
    {"mpx::BrokenProcessPool", make<BrokenProcessPool>},
    {"mpx::BrokenThreadPool", make<BrokenThreadPool>},
    {"mpx::BrokenBarrierError", make<BrokenBarrierError>},
    {"mpx::queue::ShutDown", make<queue::ShutDown>},
    {"mpx::WorkerLost",
     [](const RemoteException& r) { return std::make_exception_ptr(WorkerLost(r.message, r.error_number)); }},
    {"mpx::queue::Empty", make<queue::Empty>},
    {"mpx::queue::Full", make<queue::Full>},
    {"mpx::OSError", make_os<OSError>},
    {"mpx::BlockingIOError", make_os<BlockingIOError>},
    {"mpx::ConnectionError", make_os<ConnectionError>},
    {"mpx::ConnectionRefusedError", make_os<ConnectionRefusedError>},
    {"mpx::ConnectionAbortedError", make_os<ConnectionAbortedError>},
    {"mpx::BrokenPipeError", make_os<BrokenPipeError>},
    {"mpx::ConnectionResetError", make_os<ConnectionResetError>},
    {"mpx::FileNotFoundError", make_os<FileNotFoundError>},
    {"mpx::FileExistsError", make_os<FileExistsError>},
    {"std::bad_alloc", [](const RemoteException&) { return std::make_exception_ptr(std::bad_alloc()); }},
    {"std::exception",
     [](const RemoteException& r) { return std::make_exception_ptr(RemoteError("std::exception", r.message)); }},
};

}  // namespace

RemoteException capture_exception(const std::exception_ptr& e) noexcept {
  RemoteException r;
  try {
    try {
      std::rethrow_exception(e);
    } catch (const OSError& x) {
      r.type = type_name(typeid(x));
      r.message = x.what();
      r.error_number = x.errno_value();
    } catch (const WorkerLost& x) {
      r.type = type_name(typeid(x));
      r.message = x.what();
      r.error_number = x.exitcode();
    } catch (const RemoteError& x) {
      // Raised again in a second hop: keep the original type.
      r.type = x.type_name();
      r.message = x.message();
    } catch (const std::exception& x) {
      r.type = type_name(typeid(x));
      r.message = x.what();
    } catch (...) {
      const std::type_info* t = abi::__cxa_current_exception_type();
      r.type = t ? type_name(*t) : "unknown exception";
      r.message = "";
    }
  } catch (...) {  // only bad_alloc while copying strings
    r.type = "std::bad_alloc";
    r.message.clear();
  }
  return r;
}

std::exception_ptr rebuild(const RemoteException& r) {
  for (const Rebuilder& b : kRebuilders) {
    if (r.type == b.name) return b.make(r);
  }
  return std::make_exception_ptr(RemoteError(r.type, r.message));
}

}  // namespace mpx::detail
