// The threads of a Threading server (or of a Prefork worker): started per
// request, joined when finished (so a long-running server does not pile up
// finished threads), joined all at server_close. Daemon threads are
// detached and forgotten, as Python's ThreadingMixIn keeps only the others.
#pragma once

#include <atomic>
#include <list>
#include <mutex>
#include <thread>
#include <utility>

#include "mpx/socketserver.hpp"

namespace mpx::socketserver::detail {

class ThreadSet {
 public:
  ThreadSet() = default;
  ThreadSet(const ThreadSet&) = delete;
  ThreadSet& operator=(const ThreadSet&) = delete;
  ~ThreadSet() { join_all(); }

  /// Runs `fn` (move-only callables welcome) on a new thread.
  /// Throws: std::system_error if no thread can be made (`fn` is dropped).
  template <class F>
  void start(F fn, bool daemon) {
    reap();
    if (daemon) {
      std::thread(std::move(fn)).detach();
      return;
    }
    std::lock_guard lk(mu_);
    Entry& e = entries_.emplace_back();
    try {
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
  /// Joins every thread (they finish their requests first).
  void join_all() {
    std::list<Entry> all;
    {
      std::lock_guard lk(mu_);
      all.swap(entries_);
    }
    for (auto& e : all) e.thread.join();
  }

 private:
  struct Entry {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex mu_;
  std::list<Entry> entries_;
};

/// What a thread (or a forked child) does with one request: Python's
/// process_request_thread — finish_request, handle_error on failure,
/// shutdown_request always. Returns whether the handler succeeded.
bool serve_one(BaseServer& server, Request& request, const net::Address& client_address);

}  // namespace mpx::socketserver::detail
