// The threads of a Threading server (or of a Prefork worker): started per
// request, joined when finished (so a long-running server does not pile up
// finished threads), joined at server_close.
//
// Daemon threads: Python's server_close() does not wait for them and the
// interpreter's exit kills them. A C++ thread cannot be killed, and one left
// running would call into a destroyed server, so each daemon thread of a
// stream request keeps a duplicate of its connection: stop_daemons() shuts
// those connections down (the handler reads end-of-stream, its writes fail)
// and joins the threads. The server's destructor calls it.
#pragma once

#include <atomic>
#include <list>
#include <mutex>
#include <thread>
#include <utility>

#include "mpx/detail/fd.hpp"
#include "mpx/socketserver.hpp"

namespace mpx::socketserver::detail {

class ThreadSet {
 public:
  ThreadSet() = default;
  ThreadSet(const ThreadSet&) = delete;
  ThreadSet& operator=(const ThreadSet&) = delete;
  ~ThreadSet() {
    stop_daemons();
    join_all();
  }

  /// Runs `fn` (move-only callables welcome) on a new thread. A daemon
  /// serving a stream passes its connection's descriptor as `connection_fd`
  /// (duplicated here, so that stop_daemons() can wake it; -1: nothing to wake).
  /// Throws: std::system_error if no thread can be made, OSError if the
  /// descriptor cannot be duplicated (`fn` is dropped either way).
  template <class F>
  void start(F fn, bool daemon, int connection_fd = -1) {
    reap();
    std::lock_guard lk(mu_);
    Entry& e = entries_.emplace_back();
    try {
      e.daemon = daemon;
      if (daemon && connection_fd >= 0) e.connection = duplicate(connection_fd);
      e.thread = std::thread([fn = std::move(fn), &e]() mutable {
        struct Done {
          Entry& e;
          ~Done() { e.done.store(true, std::memory_order_release); }
        } done{e};
        fn();
      });
    } catch (...) {
      entries_.pop_back();
      throw;
    }
  }
  /// Joins the threads that have finished.
  void reap() {
    std::lock_guard lk(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->done.load(std::memory_order_acquire)) {
        it->thread.join();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
  /// Joins every non-daemon thread (they finish their requests first).
  void join_all() { join(false); }
  /// Shuts down the connections of the daemon threads still serving and
  /// joins them. A daemon blocked on something other than its connection
  /// (a sleep, a lock) is still waited for.
  void stop_daemons() {
    {
      std::lock_guard lk(mu_);
      for (auto& e : entries_)
        if (e.daemon && e.connection && !e.done.load(std::memory_order_acquire)) shutdown_connection(e.connection);
    }
    join(true);
  }

 private:
  struct Entry {
    std::thread thread;
    bool daemon = false;
    mpx::detail::Fd connection;  // a daemon's duplicate of its stream connection
    std::atomic<bool> done{false};
  };
  void join(bool daemons) {
    std::list<Entry> taken;
    {
      std::lock_guard lk(mu_);
      for (auto it = entries_.begin(); it != entries_.end();) {
        auto next = std::next(it);
        if (it->daemon == daemons) taken.splice(taken.end(), entries_, it);
        it = next;
      }
    }
    for (auto& e : taken) e.thread.join();
  }
  /// A CLOEXEC duplicate of `fd`. Throws: OSError.
  static mpx::detail::Fd duplicate(int fd);
  /// shutdown(SHUT_RDWR); a peer already gone (ENOTCONN) is not an error.
  static void shutdown_connection(const mpx::detail::Fd& connection) noexcept;

  std::mutex mu_;
  std::list<Entry> entries_;
};

/// What a thread (or a forked child) does with one request: Python's
/// process_request_thread — finish_request, handle_error on failure,
/// shutdown_request always. Returns whether the handler succeeded.
bool serve_one(BaseServer& server, Request& request, const net::Address& client_address);

}  // namespace mpx::socketserver::detail
