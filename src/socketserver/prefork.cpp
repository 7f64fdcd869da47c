// Prefork: N worker processes serve one listening socket; the master watches.
//
//   master (serve_forever)                    worker i (forked at serve_forever's start)
//   ──────────────────────                    ───────────────────────────────────────────
//   stops accepting itself                    selector: listening socket + lifeline
//   watch(pidfd of each worker) ──exit──►     accept (non-blocking: the kernel wakes every
//     reap; respawn unless stopping             worker, one wins, the others get EAGAIN)
//   shutdown ─► close lifeline write end ──►  EOF on lifeline: stop accepting, finish the
//   server_close ─► join the workers            connections in hand, exit 0
//
// A worker killed by kill -9 loses the connections it was serving (their
// clients see a reset); connections still in the backlog belong to the
// listening socket, not to a worker, so the next worker accepts them.
// Workers are not daemons (no PR_SET_PDEATHSIG): like nginx's, they finish
// serving if the master dies.
#include "mpx/context.hpp"
#include "mpx/socketserver.hpp"
#include "socketserver/thread_set.hpp"

namespace mpx::socketserver {

Prefork::Prefork(detail::TransportInfo transport, net::Address address, HandlerClass handler, bool bind_and_activate)
    : BaseServer(transport, std::move(address), std::move(handler), bind_and_activate),
      threads_(std::make_unique<detail::ThreadSet>()) {}

Prefork::~Prefork() { Prefork::server_close(); }

void Prefork::serve_starting() {
  stopping_ = false;
  auto [r, w] = mpx::detail::Fd::pipe();
  lifeline_r_ = std::move(r);
  lifeline_w_ = std::move(w);
  pause_accepting(true);
  int n = processes > 0 ? processes : cpu_count();
  for (int i = static_cast<int>(workers_.size()); i < n; ++i) spawn_worker();
}

void Prefork::serve_stopping() {
  stopping_ = true;
  lifeline_w_.reset();  // every worker sees EOF: stop accepting
}

void Prefork::spawn_worker() {
  Process worker = get_context("fork").Process([this] {
    lifeline_w_.reset();  // this worker's copy: only the master's may keep the pipe open
    worker_main();
  });
  worker.start();
  int pid = worker.pid();
  int sentinel = worker.sentinel();
  workers_.emplace(pid, std::move(worker));
  watch(sentinel, [this, pid] { worker_exited(pid); });
}

void Prefork::worker_exited(int pid) {
  auto it = workers_.find(pid);
  if (it == workers_.end()) return;
  unwatch(it->second.sentinel());
  it->second.join();
  it->second.close();
  workers_.erase(it);
  if (!stopping_) {
    ++respawned_;
    spawn_worker();
  }
}

std::vector<int> Prefork::worker_pids() const {
  std::vector<int> pids;
  for (const auto& [pid, p] : workers_) pids.push_back(pid);
  return pids;
}

void Prefork::worker_main() {
  lifeline_w_.reset();       // this worker's copy: only the master's may keep the pipe open
  net::DefaultSelector sel;  // the master's epoll instance is shared after fork: not ours to change
  sel.register_(socket.fileno(), net::EVENT_READ);
  sel.register_(lifeline_r_.get(), net::EVENT_READ);
  for (bool stop = false; !stop;) {
    bool ready = false;
    for (auto& [key, events] : sel.select()) {
      if (key->fd == lifeline_r_.get())
        stop = true;
      else
        ready = true;
    }
    if (!stop && ready) handle_request_noblock();
    threads_->reap();
  }
  sel.close();
  socket.close();
  threads_->join_all();
}

void Prefork::process_request(Request& request, const net::Address& client_address) {
  if (!worker_threads) {
    BaseServer::process_request(request, client_address);
    return;
  }
  threads_->start([this, request = std::move(request),
                   client_address]() mutable { detail::serve_one(*this, request, client_address); },
                  false);
}

void Prefork::server_close() {
  stopping_ = true;
  lifeline_w_.reset();
  if (!block_on_close) {
    for (auto& [pid, w] : workers_) w.terminate();
  }
  for (auto& [pid, w] : workers_) {
    unwatch(w.sentinel());
    w.join();
    w.close();
  }
  workers_.clear();
  lifeline_r_.reset();
  BaseServer::server_close();
}

}  // namespace mpx::socketserver
