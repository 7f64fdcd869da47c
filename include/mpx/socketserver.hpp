// mpx/socketserver.hpp — Python's socketserver: a server is a transport
// composed with a concurrency policy, serving requests with a handler class.
//
//   namespace ss = mpx::socketserver;
//   struct Upper : ss::BaseRequestHandler {          // Python: class Upper(BaseRequestHandler)
//     void handle() override {
//       char buf[1024];
//       while (std::size_t n = request.recv_into(std::as_writable_bytes(std::span(buf)))) {
//         for (char& c : std::span(buf, n)) c = c >= 'a' && c <= 'z' ? char(c - 32) : c;
//         request.sendall(std::string_view(buf, n));
//       }
//     }
//   };
//   ss::ThreadingTCPServer server({"127.0.0.1", 8080}, ss::handler<Upper>());
//   server.serve_forever();                           // until server.shutdown() from another thread
//
// Strategies, not class forests: Server<Transport, Policy> is one class for
// every pair, and Python's names are aliases of it:
//
//   transport      TCP, UDP, UnixStream, UnixDatagram
//   policy         Sync       one request at a time in serve_forever's thread (Python's default)
//                  Threading  a thread per request (Python's ThreadingMixIn)
//                  Forking    a child process per request (Python's ForkingMixIn, without its stall)
//                  Prefork    N worker processes accept on the one socket; a dead worker is
//                             replaced (nginx's and Apache's master/worker model)
//                  Aio        coroutines on an mpx::aio loop, optionally one loop per worker
//                             process (AioRequestHandler instead of a blocking handler)
//
// Customise as in Python: subclass the server and override verify_request,
// process_request, handle_error, handle_timeout, service_actions...; they are
// virtual. The destructor calls server_close() (Python's `with`). A subclass
// whose overrides run on handler threads (handle_error, finish_request...)
// calls server_close() in its own destructor, so that the threads are joined
// before its members and overrides are gone (and, with daemon_threads,
// join_daemon_threads()):
//   ~MyServer() override { server_close(); }
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/detail/deadline.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/net/selectors.hpp"
#include "mpx/net/socket.hpp"
#include "mpx/process.hpp"
#include "mpx/socketserver/aio_handler.hpp"
#include "mpx/socketserver/files.hpp"
#include "mpx/socketserver/handlers.hpp"

namespace mpx::socketserver {

namespace detail {
/// A transport as BaseServer sees it at run time.
struct TransportInfo {
  int family;
  int type;
};
class ThreadSet;
}  // namespace detail

/// Python's listen backlog is request_queue_size = 5: 50 clients connecting
/// at once overflow it, and the kernel drops their SYNs (each retried after
/// a 1 s timeout). mpx listens with 1024; the kernel clamps it to
/// net.core.somaxconn (4096 on current Linux).
inline constexpr int kDefaultRequestQueueSize = 1024;

/// Python: socketserver.BaseServer with TCPServer's and UDPServer's socket
/// handling (the transport decides at run time which applies). Use it
/// through Server<Transport, Policy> or an alias; it is the type handlers see
/// as `server`.
///
/// Thread safety: shutdown() may be called from any thread; everything else
/// from the thread that serves.
class BaseServer {
 public:
  BaseServer(const BaseServer&) = delete;
  BaseServer& operator=(const BaseServer&) = delete;
  virtual ~BaseServer();
  /// What the constructor of Server<Transport, Policy> takes as its handler.
  using handler_class = HandlerClass;

  // ---- Python's attributes -----------------------------------------------------
  /// Python: server_address — after bind, the address bound (port 0 resolved).
  net::Address server_address;
  /// Python: RequestHandlerClass.
  HandlerClass RequestHandlerClass;
  /// Python: socket.
  net::Socket socket;
  /// Python: timeout — handle_request()'s wait; nullopt waits forever.
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
  /// Python: allow_reuse_address (SO_REUSEADDR); true for stream transports,
  /// as Python 3.11's TCPServer. Read by server_bind().
  bool allow_reuse_address = true;
  /// Python: allow_reuse_port (SO_REUSEPORT). Read by server_bind().
  bool allow_reuse_port = false;
  /// Python: request_queue_size (the listen backlog), see kDefaultRequestQueueSize.
  int request_queue_size = kDefaultRequestQueueSize;
  /// Python: UDPServer.max_packet_size — the largest datagram received whole.
  std::size_t max_packet_size = 8192;

  // ---- serving ---------------------------------------------------------------
  /// Handles requests until shutdown(). poll_interval bounds how long one
  /// select waits, so service_actions() runs at least that often; shutdown()
  /// wakes the loop at once whatever it is.
  /// Python: serve_forever(poll_interval=0.5)
  void serve_forever(std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(500));
  /// Tells serve_forever to stop and waits until it has returned.
  /// Python: shutdown(). Safe from: any thread but serve_forever's (which
  /// would deadlock, as in Python).
  void shutdown();
  /// Waits up to `timeout` for one request and handles it, or calls
  /// handle_timeout(). Python: handle_request().
  void handle_request();
  /// Python: server_close() — closes the socket; policies also wait for
  /// their threads or children (block_on_close). Idempotent.
  virtual void server_close();
  /// Python: fileno().
  int fileno() const noexcept { return socket.fileno(); }

  // ---- the steps, overridable as in Python ---------------------------------
  /// Python: server_bind() — applies the reuse flags, binds, records server_address.
  virtual void server_bind();
  /// Python: server_activate() — listen(request_queue_size) for streams.
  virtual void server_activate();
  /// Python: verify_request(request, client_address) — false drops the request.
  virtual bool verify_request(Request& request, const net::Address& client_address);
  /// Python: process_request(request, client_address) — the policy's hook:
  /// Sync calls finish_request then shutdown_request; others hand the
  /// request (moved out of `request`) to a thread or a child.
  virtual void process_request(Request& request, const net::Address& client_address);
  /// Python: finish_request(request, client_address) — runs the handler.
  virtual void finish_request(Request& request, const net::Address& client_address);
  /// Python: shutdown_request(request) — shutdown(SHUT_WR) and close a connection.
  virtual void shutdown_request(Request& request);
  /// Python: close_request(request).
  virtual void close_request(Request& request);
  /// Python: handle_error(request, client_address) — called inside a catch
  /// (std::current_exception() is the error). Prints the error and the
  /// client to stderr, as Python's traceback; the server goes on.
  virtual void handle_error(Request& request, const net::Address& client_address);
  /// Python: handle_timeout() — handle_request() waited `timeout` in vain.
  virtual void handle_timeout() {}
  /// Python: service_actions() — called on every turn of serve_forever.
  virtual void service_actions() {}

  /// Whether the transport is a stream (TCP, UnixStream).
  bool is_stream() const noexcept { return transport_.type == net::SOCK_STREAM; }

 protected:
  /// Makes the socket; binds and activates it if `bind_and_activate`
  /// (server_bind and server_activate as defined by BaseServer and the
  /// policy: a constructor cannot reach a subclass's overrides, so a
  /// subclass that overrides them passes false and calls them itself).
  BaseServer(detail::TransportInfo transport, net::Address address, HandlerClass handler, bool bind_and_activate);

  /// Python: _handle_request_noblock() — one get_request, verify, process.
  void handle_request_noblock();
  /// A descriptor serve_forever and handle_request also watch; `on_ready`
  /// runs when it is readable. For policies (pidfds of children).
  void watch(int fd, std::function<void()> on_ready);
  void unwatch(int fd);
  /// While paused the loops stop accepting (the backlog holds new clients).
  void pause_accepting(bool paused);
  /// Hooks around serve_forever's loop (Prefork starts and stops workers).
  virtual void serve_starting() {}
  virtual void serve_stopping() {}
  /// serve_forever's loop, until shutdown() (the Aio policy runs a loop of its own).
  virtual void serve_loop(std::chrono::nanoseconds poll_interval);
  /// The eventfd shutdown() writes; drain_wakeup() reads it back to zero.
  int wakeup_fd() const noexcept { return wakeup_.get(); }
  void drain_wakeup() noexcept;
  /// get_request(): the next request, or nullopt if none was waiting.
  std::optional<std::pair<Request, net::Address>> get_request();

 private:
  void dispatch(net::Ready& ready, bool& socket_ready);
  detail::TransportInfo transport_;
  net::DefaultSelector selector_;
  mpx::detail::Fd wakeup_;  // eventfd: shutdown() writes it
  std::map<int, std::function<void()>> watches_;
  bool paused_ = false;
  bool closed_ = false;
  std::atomic<bool> shutdown_request_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool is_shut_down_ = true;
};

// ---- policies ------------------------------------------------------------------

/// One request at a time, in the serving thread (Python: TCPServer as is).
class Sync : public BaseServer {
 protected:
  using BaseServer::BaseServer;
};

/// A thread per request. Python: ThreadingMixIn.
class Threading : public BaseServer {
 public:
  /// Python: daemon_threads — true: server_close() does not wait for them.
  /// Python's exit kills them; a C++ thread cannot be killed, so the
  /// destructor calls join_daemon_threads() (a thread left running would
  /// call into the destroyed server).
  bool daemon_threads = false;
  /// Python: block_on_close — server_close() joins the non-daemon threads.
  bool block_on_close = true;

  void process_request(Request& request, const net::Address& client_address) override;
  void server_close() override;
  /// Shuts down the connection of every daemon thread still serving a
  /// stream (its handler reads end-of-stream; its writes fail) and joins the
  /// daemon threads. A handler blocked elsewhere (a sleep, a lock) is waited
  /// for. Not Python's: there the interpreter's exit kills daemon threads.
  void join_daemon_threads();
  ~Threading() override;

 protected:
  Threading(detail::TransportInfo transport, net::Address address, HandlerClass handler, bool bind_and_activate);

 private:
  std::unique_ptr<detail::ThreadSet> threads_;
};

/// A child process per request. Python: ForkingMixIn — but a child that
/// exits is reaped as soon as its pidfd says so, and at max_children the
/// server stops accepting (new clients wait in the backlog) instead of
/// blocking in waitpid as Python does, where every connection stalls and
/// even shutdown() waits.
class Forking : public BaseServer {
 public:
  /// Python: max_children = 40. 256 here: 40 stalls the 41st of 50 clients.
  std::size_t max_children = 256;
  /// Python: block_on_close — server_close() waits for every child.
  bool block_on_close = true;

  /// Python: active_children — the pids of the children not yet reaped.
  std::vector<int> active_children() const;
  /// Python: collect_children(blocking=False) — reaps what has exited;
  /// blocking: waits for every child.
  void collect_children(bool blocking = false);
  /// A child that exits is reaped when its pidfd turns readable, in the
  /// serving loop (Python reaps in service_actions, which is free here).
  void process_request(Request& request, const net::Address& client_address) override;
  void server_close() override;

 protected:
  using BaseServer::BaseServer;

 private:
  void reaped(int pid);
  std::map<int, Process> children_;
};

/// N worker processes serve the one listening socket; the master only
/// watches them and starts a new one when one dies (kill -9 included).
/// Each worker serves each connection in its own thread (worker_threads) or
/// one at a time. Workers start when serve_forever starts; shutdown() tells
/// them to stop accepting and finish what they serve.
class Prefork : public BaseServer {
 public:
  /// Worker processes (0: cpu_count()).
  int processes = 0;
  /// true: a thread per connection inside each worker; false: one at a time.
  bool worker_threads = true;
  /// server_close() waits for the workers (true) or SIGTERMs them first.
  bool block_on_close = true;

  /// The workers alive now (master side).
  std::vector<int> worker_pids() const;
  /// Workers started to replace one that died.
  std::size_t respawned() const noexcept { return respawned_; }
  void process_request(Request& request, const net::Address& client_address) override;
  void server_close() override;
  ~Prefork() override;

 protected:
  Prefork(detail::TransportInfo transport, net::Address address, HandlerClass handler, bool bind_and_activate);
  void serve_starting() override;
  void serve_stopping() override;

  /// What a worker process runs (in the child): accept and serve until the
  /// lifeline (lifeline_fd) reaches EOF, then finish the connections in hand.
  virtual void worker_main();
  int lifeline_fd() const noexcept { return lifeline_r_.get(); }

 private:
  void spawn_worker();
  void worker_exited(int pid);
  std::map<int, Process> workers_;
  mpx::detail::Fd lifeline_r_, lifeline_w_;  // workers stop when the write end closes
  bool stopping_ = false;
  std::size_t respawned_ = 0;
  std::unique_ptr<detail::ThreadSet> threads_;  // in a worker
};

/// Connections served by coroutines on an mpx::aio loop (Python has no
/// such policy; asyncio.start_server is its nearest). The handler is an
/// AioRequestHandler (aio_handler<H>()), not a blocking one.
///   processes = 0: one loop, run by serve_forever in its thread; shutdown()
///     stops it, and connections still open are closed with it.
///   processes = N: N worker processes, each with its own loop, and for TCP
///     its own SO_REUSEPORT listening socket (the kernel spreads connections
///     over them; each worker also accepts on the server's socket, so none is
///     stranded there). Workers are watched and replaced as Prefork's, and
///     finish their connections after shutdown().
/// verify_request and process_request are not used; handle_error is.
class Aio : public Prefork {
 public:
  using handler_class = AioHandlerClass;
  /// The loops' backend ("epoll", "io_uring", "" for the default).
  aio::LoopOptions loop_options{};

 protected:
  Aio(detail::TransportInfo transport, net::Address address, AioHandlerClass handler, bool bind_and_activate);
  void serve_starting() override;
  void serve_stopping() override;
  void serve_loop(std::chrono::nanoseconds poll_interval) override;
  void worker_main() override;

 private:
  aio::Task<> run(int stop_fd, bool own_socket, bool graceful);
  AioHandlerClass aio_handler_;
};

/// Python's mixin names.
using ThreadingMixIn = Threading;
using ForkingMixIn = Forking;

// ---- transports -----------------------------------------------------------------
// Families as numbers: a user's <sys/socket.h> turns the names into macros
// (base_server.cpp checks the values).
namespace detail {
inline constexpr int kAfUnix = 1, kAfInet = 2;
}

/// Python: TCPServer's transport — IPv4 stream, address (host, port).
struct TCP {
  using address_type = net::InetAddress;
  static constexpr detail::TransportInfo info{detail::kAfInet, net::SOCK_STREAM};
};
/// Python: UDPServer's transport.
struct UDP {
  using address_type = net::InetAddress;
  static constexpr detail::TransportInfo info{detail::kAfInet, net::SOCK_DGRAM};
};
/// Python: UnixStreamServer's transport — address: a path.
struct UnixStream {
  using address_type = net::UnixAddress;
  static constexpr detail::TransportInfo info{detail::kAfUnix, net::SOCK_STREAM};
};
/// Python: UnixDatagramServer's transport.
struct UnixDatagram {
  using address_type = net::UnixAddress;
  static constexpr detail::TransportInfo info{detail::kAfUnix, net::SOCK_DGRAM};
};

/// A server: Transport × Policy. Python: class X(PolicyMixIn, TransportServer).
template <class Transport, class Policy = Sync>
class Server : public Policy {
  static_assert(!std::is_base_of_v<Aio, Policy> || Transport::info.type == net::SOCK_STREAM,
                "the Aio policy serves stream transports (TCP, UnixStream)");

 public:
  using address_type = typename Transport::address_type;
  /// Python: Server(server_address, RequestHandlerClass, bind_and_activate=True).
  /// Throws: OSError (EADDRINUSE...) from bind or listen.
  Server(address_type address, typename Policy::handler_class handler, bool bind_and_activate = true)
      : Policy(Transport::info, net::Address(std::move(address)), std::move(handler), bind_and_activate) {}
  /// Python's `with server:` — server_close() (the policy's; a subclass's
  /// override is already gone when a base destructor runs), then, for
  /// Threading, join_daemon_threads(): no handler thread outlives the server.
  ~Server() override {
    this->server_close();
    if constexpr (std::is_base_of_v<Threading, Policy>) this->join_daemon_threads();
  }
};

using TCPServer = Server<TCP, Sync>;
using UDPServer = Server<UDP, Sync>;
using UnixStreamServer = Server<UnixStream, Sync>;
using UnixDatagramServer = Server<UnixDatagram, Sync>;
using ThreadingTCPServer = Server<TCP, Threading>;
using ThreadingUDPServer = Server<UDP, Threading>;
using ThreadingUnixStreamServer = Server<UnixStream, Threading>;
using ThreadingUnixDatagramServer = Server<UnixDatagram, Threading>;
using ForkingTCPServer = Server<TCP, Forking>;
using ForkingUDPServer = Server<UDP, Forking>;
using ForkingUnixStreamServer = Server<UnixStream, Forking>;
using ForkingUnixDatagramServer = Server<UnixDatagram, Forking>;
using PreforkTCPServer = Server<TCP, Prefork>;
using PreforkUDPServer = Server<UDP, Prefork>;
using PreforkUnixStreamServer = Server<UnixStream, Prefork>;
using PreforkUnixDatagramServer = Server<UnixDatagram, Prefork>;
using AioTCPServer = Server<TCP, Aio>;
using AioUnixStreamServer = Server<UnixStream, Aio>;

}  // namespace mpx::socketserver
