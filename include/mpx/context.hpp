// mpx/context.hpp — start methods and contexts (multiprocessing.context), and
// mpx::init, the C++ counterpart of Python's `if __name__ == "__main__":`.
//
//   void work(int n) { ... }                          // a function: it can travel
//
//   int main(int argc, char** argv) {
//     mpx::init(argc, argv);                          // first thing: in a spawned
//                                                     // child this runs the call and exits
//     auto ctx = mpx::get_context("spawn");           // multiprocessing.get_context("spawn")
//     auto p = ctx.Process(work, 42);                 // ctx.Process(target=work, args=(42,))
//     p.start();
//     p.join();
//   }
//
// Start methods, as in Python:
//   "fork"   the child is a copy of the parent (the default on Linux): any
//            callable, any state — and any lock another thread held at the
//            fork, which is why a threaded parent can deadlock its child;
//   "spawn"  a fresh run of the program's own binary (exec of /proc/self/exe,
//            so replacing the file on disk meanwhile changes nothing): it
//            inherits nothing but what is shipped to it, so the target must
//            travel (a function with Encodable arguments, detail/shipping.hpp)
//            and main() must call mpx::init(argc, argv) before anything else;
//   "forkserver"  as spawn for the target and mpx::init, but the child is
//            forked by a server process — a fresh, single-threaded run of the
//            binary, started once — so it inherits no thread's locks, and a
//            start costs a fork of a small process, not an exec
//            (docs/context.md: the server, its lifetime, the daemon rules).
//
// A context's Process refuses a target that cannot travel under its method
// when it is made; plain mpx::Process under a spawn default refuses at
// start(). Both raise ProcessError naming what to change.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/connection.hpp"
#include "mpx/errors.hpp"
#include "mpx/process.hpp"
#include "mpx/queues.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/synchronize.hpp"

namespace mpx {

template <class Backend>
class BasicPool;  // mpx/pool.hpp (which includes this header)
namespace detail {
class ProcessBackend;
}

/// Called first thing in main(). In a process started by spawn it runs the
/// shipped call and exits (it never returns there); in the forkserver it
/// serves (and never returns); in the main process it records that the
/// program is ready to spawn, and starts the forkserver if "forkserver" is
/// already the default start method (otherwise the first forkserver start()
/// starts it, as in Python).
/// Throws: OSError if the forkserver cannot be started.
void init(int argc, char** argv);

/// Python: multiprocessing.set_forkserver_preload(module_names). Accepted and
/// ignored: Python imports the modules in the server so its children need
/// not; mpx's server is the program's own binary, in which everything is
/// already loaded and every static initialiser has run.
void set_forkserver_preload(const std::vector<std::string>& module_names);

namespace forkserver {
/// Python: multiprocessing.forkserver.ensure_running() — starts the server
/// now if it is not running (say, before the program starts a thread pool,
/// so the first start() does not pay for it).
/// Throws: ProcessError without mpx::init; OSError if it cannot be started.
void ensure_running();
}  // namespace forkserver

/// Python: multiprocessing.set_start_method(method, force=False).
/// Throws: RuntimeError("context has already been set") if a method was set
/// (or used) before and !force; ValueError for an unknown method.
void set_start_method(std::string_view method, bool force = false);
/// Python: get_start_method(allow_none=False). Fixes the default ("fork")
/// when none was set, unless allow_none (then "" if none was set).
std::string get_start_method(bool allow_none = false);
/// Python: get_all_start_methods() — the default first.
std::vector<std::string> get_all_start_methods();

/// Python: a context from multiprocessing.get_context(method): the same
/// objects, made for one start method.
class Context {
 public:
  /// Python: ctx.get_start_method().
  const std::string& get_start_method() const noexcept { return method_; }

  /// Python: ctx.Process(target=f, args=(...)). Under spawn the target must
  /// travel. Throws: ProcessError at once if it cannot (a lambda with
  /// captures, a functor, a non-Encodable argument).
  template <class F, class... Args>
  ::mpx::Process Process(F&& target, Args&&... args) const {
    return Process(ProcessOptions{}, std::forward<F>(target), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  ::mpx::Process Process(ProcessOptions options, F&& target, Args&&... args) const {
    if constexpr (!detail::Shippable<F, Args...>) {
      if (method_ != "fork") throw_cannot_travel(method_);
    }
    ::mpx::Process p(std::move(options), std::forward<F>(target), std::forward<Args>(args)...);
    p.set_start_method(method_);
    return p;
  }

  /// Python: ctx.Pool(processes=None, ...) — a Pool whose workers start
  /// with this context's method: `auto pool = ctx.Pool(4);` or
  /// `ctx.Pool({.processes = 4, .initializer = init})`.
  template <class P = BasicPool<detail::ProcessBackend>>
  P Pool(std::optional<int> processes = {}) const {
    typename P::Options options;
    options.processes = processes;
    return Pool<P>(std::move(options));
  }
  template <class P = BasicPool<detail::ProcessBackend>>
  P Pool(typename P::Options options) const {
    options.context = *this;
    return P(std::move(options));
  }

  // Python: ctx.Queue(), ctx.Lock(), ctx.Value(...)... The shared objects
  // themselves do not depend on the start method (under spawn and forkserver
  // they travel as arguments, detail/transfer.hpp): these make the same
  // objects as mpx::Queue<T>, mpx::Lock... and exist so that code written
  // against a context reads as Python's.
  template <class T, class... A>
  ::mpx::Queue<T> Queue(A&&... a) const {
    return ::mpx::Queue<T>(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::SimpleQueue<T> SimpleQueue(A&&... a) const {
    return ::mpx::SimpleQueue<T>(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::JoinableQueue<T> JoinableQueue(A&&... a) const {
    return ::mpx::JoinableQueue<T>(std::forward<A>(a)...);
  }
  ::mpx::Lock Lock() const { return {}; }
  ::mpx::RLock RLock() const { return {}; }
  ::mpx::Event Event() const { return {}; }
  template <class... A>
  ::mpx::Semaphore Semaphore(A&&... a) const {
    return ::mpx::Semaphore(std::forward<A>(a)...);
  }
  template <class... A>
  ::mpx::BoundedSemaphore BoundedSemaphore(A&&... a) const {
    return ::mpx::BoundedSemaphore(std::forward<A>(a)...);
  }
  template <class... A>
  ::mpx::Condition Condition(A&&... a) const {
    return ::mpx::Condition(std::forward<A>(a)...);
  }
  template <class... A>
  ::mpx::Barrier Barrier(A&&... a) const {
    return ::mpx::Barrier(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::Value<T> Value(A&&... a) const {
    return ::mpx::Value<T>(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::Array<T> Array(A&&... a) const {
    return ::mpx::Array<T>(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::RawValue<T> RawValue(A&&... a) const {
    return ::mpx::RawValue<T>(std::forward<A>(a)...);
  }
  template <class T, class... A>
  ::mpx::RawArray<T> RawArray(A&&... a) const {
    return ::mpx::RawArray<T>(std::forward<A>(a)...);
  }
  std::pair<Connection, Connection> Pipe(bool duplex = true) const { return ::mpx::Pipe(duplex); }

 private:
  friend Context get_context(std::string_view method);
  [[noreturn]] static void throw_cannot_travel(const std::string& method);
  explicit Context(std::string method) : method_(std::move(method)) {}
  std::string method_;
};

/// Python: multiprocessing.get_context(method=None). "" is the default method.
/// Throws: ValueError for an unknown method.
Context get_context(std::string_view method = "");

namespace detail {
struct SpawnMethod {
  static constexpr const char* name = "spawn";
};
struct ForkserverMethod {
  static constexpr const char* name = "forkserver";
};
}  // namespace detail

/// A context with its method known at compile time (spawn or forkserver):
/// its Process() refuses a target that cannot travel when the program is
/// compiled, not when it runs (get_context("spawn") can only tell at run time).
///
///   mpx::spawn_context().Process(work, 42);          // compiles
///   mpx::spawn_context().Process([&] { ... });       // error: the target must travel
///   mpx::forkserver_context().Process([&] { ... });  // error, likewise
template <class Method>
class TravellingContext : public Context {
 public:
  TravellingContext() : Context(get_context(Method::name)) {}

  template <class F, class... Args>
  ::mpx::Process Process(F&& target, Args&&... args) const {
    return Process(ProcessOptions{}, std::forward<F>(target), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  ::mpx::Process Process(ProcessOptions options, F&& target, Args&&... args) const {
    // Two asserts for two messages: a static_assert's text is a literal.
    if constexpr (std::is_same_v<Method, detail::SpawnMethod>) {
      static_assert(detail::Shippable<F, Args...>,
                    "mpx: under spawn the target must travel to a fresh process: a function, a static member "
                    "function or a lambda without captures, with Encodable arguments (mpx/context.hpp)");
    } else {
      static_assert(detail::Shippable<F, Args...>,
                    "mpx: under forkserver the target must travel to a fresh process: a function, a static member "
                    "function or a lambda without captures, with Encodable arguments (mpx/context.hpp)");
    }
    return Context::Process(std::move(options), std::forward<F>(target), std::forward<Args>(args)...);
  }
};

using SpawnContext = TravellingContext<detail::SpawnMethod>;
using ForkserverContext = TravellingContext<detail::ForkserverMethod>;
inline SpawnContext spawn_context() { return SpawnContext{}; }
inline ForkserverContext forkserver_context() { return ForkserverContext{}; }

}  // namespace mpx
