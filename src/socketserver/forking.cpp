// Forking: Python's ForkingMixIn — a child process per request.
//
//   process_request ──fork──► child: finish_request, shutdown_request, exit 0 (1 if it failed)
//        │
//        ├─ close_request (the parent's copy of the connection)
//        └─ watch(pidfd) ──readable──► reaped(pid): waitid, unwatch, resume accepting
//
// Python reaps in service_actions with waitpid(WNOHANG), and once
// max_children are alive blocks in waitpid(-1) inside process_request until
// one exits: the server then serves nobody, and shutdown() waits too. Here
// each child's pidfd sits in the server's selector, so a child is reaped as
// soon as it exits, and at max_children the loop merely stops accepting —
// it still wakes for shutdown() and for children exiting.
#include "mpx/context.hpp"
#include "mpx/socketserver.hpp"
#include "socketserver/thread_set.hpp"

namespace mpx::socketserver {

void Forking::process_request(Request& request, const net::Address& client_address) {
  // fork whatever the default start method: the child serves with the
  // parent's memory (the request, the handler class, the server).
  Process child = get_context("fork").Process([this, &request, &client_address] {
    if (!detail::serve_one(*this, request, client_address)) mpx::exit(1);
  });
  child.start();
  int pid = child.pid();
  int sentinel = child.sentinel();
  children_.emplace(pid, std::move(child));
  watch(sentinel, [this, pid] { reaped(pid); });
  close_request(request);
  if (children_.size() >= max_children) pause_accepting(true);
}

void Forking::reaped(int pid) {
  auto it = children_.find(pid);
  if (it == children_.end()) return;
  unwatch(it->second.sentinel());
  it->second.join();
  it->second.close();
  children_.erase(it);
  if (children_.size() < max_children) pause_accepting(false);
}

std::vector<int> Forking::active_children() const {
  std::vector<int> pids;
  pids.reserve(children_.size());
  for (const auto& [pid, p] : children_) pids.push_back(pid);
  return pids;
}

void Forking::collect_children(bool blocking) {
  for (int pid : active_children()) {
    if (blocking || !children_.at(pid).is_alive()) reaped(pid);
  }
}

void Forking::server_close() {
  BaseServer::server_close();
  collect_children(block_on_close);
}

}  // namespace mpx::socketserver
