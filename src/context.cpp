// Start methods, contexts and mpx::init (mpx/context.hpp).
#include "mpx/context.hpp"

#include <mutex>

#include "os/popen_forkserver.hpp"
#include "os/popen_spawn.hpp"

namespace mpx {

namespace {

const std::vector<std::string>& methods() {
  static const std::vector<std::string> all{"fork", "spawn", "forkserver"};  // Python's order on Linux
  return all;
}

struct Default {
  std::mutex mu;
  std::string method;  // empty: not set yet
};
Default& default_method() {
  static auto* d = new Default;  // leaked: asked for from exit paths too
  return *d;
}

void check_known(std::string_view method) {
  for (const auto& m : methods()) {
    if (m == method) return;
  }
  throw ValueError("cannot find context for '" + std::string(method) + "'");
}

}  // namespace

void init(int argc, char** argv) {
  detail::remember_argv(argc, argv);
  detail::run_if_spawned();     // in a spawned child: never returns
  detail::run_if_forkserver();  // in the forkserver: never returns
  // Already chosen: start the server now rather than in the first start().
  if (get_start_method(true) == "forkserver") detail::forkserver_ensure_running();
}

void set_forkserver_preload(const std::vector<std::string>&) {}

namespace forkserver {
void ensure_running() { detail::forkserver_ensure_running(); }
}  // namespace forkserver

void set_start_method(std::string_view method, bool force) {
  check_known(method);
  auto& d = default_method();
  std::lock_guard lock(d.mu);
  if (!d.method.empty() && !force) throw RuntimeError("context has already been set");
  d.method = method;
}

std::string get_start_method(bool allow_none) {
  auto& d = default_method();
  std::lock_guard lock(d.mu);
  if (d.method.empty()) {
    if (allow_none) return {};
    d.method = "fork";  // Python fixes the default the first time it is asked for
  }
  return d.method;
}

std::vector<std::string> get_all_start_methods() { return methods(); }

Context get_context(std::string_view method) {
  if (method.empty()) return Context(get_start_method());
  check_known(method);
  return Context(std::string(method));
}

void Context::throw_cannot_travel(const std::string& method) {
  throw ProcessError("under the " + method +
                     " start method the target must travel to a fresh process: pass a function, a static "
                     "member function or a lambda without captures, with Encodable arguments");
}

}  // namespace mpx
