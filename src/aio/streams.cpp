// src/aio/streams.cpp — StreamReader, StreamWriter and the protocol between
// them and the transport: CPython 3.12's Lib/asyncio/streams.py, with the
// buffer as a string plus a read offset (consumed bytes are dropped in bulk).
#include "mpx/aio/streams.hpp"

#include <deque>

#include "mpx/aio/tasks.hpp"
#include "mpx/detail/future_core.hpp"

namespace mpx::aio {
namespace detail {

struct ReaderState;

/// A reader waiting for data, EOF or an error (Python's _wait_for_data
/// future, as a DirectWait: no allocation per wait). Raises the reader's
/// error, if one was set meanwhile.
class DataWait final : public DirectWait {
 public:
  explicit DataWait(ReaderState* st) noexcept : st_(st) {}
  DataWait(const DataWait& o) noexcept : DirectWait(o), st_(o.st_) {}
  ~DataWait() override { release(); }
  void await_resume();

 private:
  void arm() override;
  void disarm() noexcept override;
  ReaderState* st_;
};

struct ReaderState {
  explicit ReaderState(std::size_t lim) : limit(lim) {
    if (lim == 0) throw ValueError("Limit cannot be <= 0");
  }
  std::size_t limit;
  std::string buf;
  std::size_t head = 0;
  bool eof = false;
  bool paused = false;
  std::exception_ptr exc;
  DataWait* waiter = nullptr;  // the reader suspended in wait_for_data, if any
  Transport* transport = nullptr;

  std::size_t size() const noexcept { return buf.size() - head; }
  std::string take(std::size_t n) {
    std::string out = buf.substr(head, n);
    head += n;
    if (head == buf.size()) {
      buf.clear();
      head = 0;
    } else if (head > 64 * 1024 && head * 2 > buf.size()) {
      buf.erase(0, head);
      head = 0;
    }
    return out;
  }
  void clear() noexcept {
    buf.clear();
    head = 0;
  }
  void wakeup() noexcept {
    if (waiter) waiter->wake();
  }
  void feed_data(std::string_view d) {
    if (d.empty()) return;
    buf.append(d);
    wakeup();
    if (transport && !paused && size() > 2 * limit) {
      transport->pause_reading();
      paused = true;
    }
  }
  void feed_eof() {
    eof = true;
    wakeup();
  }
  void set_exception(std::exception_ptr e) {
    exc = e;
    wakeup();  // the reader raises `e` when it resumes
  }
  void maybe_resume() {
    if (paused && size() <= limit) {
      paused = false;
      if (transport) transport->resume_reading();
    }
  }
  /// What a reader awaits until data, EOF or an error comes.
  DataWait wait_for_data(const char* func) {
    if (waiter)
      throw RuntimeError(std::string(func) + "() called while another coroutine is already waiting for incoming data");
    if (paused) {
      paused = false;
      if (transport) transport->resume_reading();
    }
    return DataWait(this);
  }
  /// One pass of readuntil's search from `*offset`: the length of the chunk
  /// through the separator, or nullopt to wait for more data.
  /// Throws: LimitOverrunError, IncompleteReadError (at EOF) as readuntil.
  std::optional<std::size_t> scan(std::string_view separator, std::size_t* offset) {
    const std::size_t seplen = separator.size();
    const std::size_t buflen = size();
    if (buflen - *offset >= seplen) {
      auto pos = std::string_view(buf).substr(head).find(separator, *offset);
      if (pos != std::string_view::npos) {
        if (pos > limit) throw LimitOverrunError("Separator is found, but chunk is longer than limit", pos);
        return pos + seplen;
      }
      *offset = buflen + 1 - seplen;
      if (*offset > limit) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", *offset);
    }
    if (eof) {
      std::string chunk = take(size());
      throw IncompleteReadError(std::move(chunk), std::nullopt);
    }
    return std::nullopt;
  }
};

void DataWait::arm() {
  // wait_for_data checked that no other reader waits; nothing ran since.
  st_->waiter = this;
}
void DataWait::disarm() noexcept { st_->waiter = nullptr; }
void DataWait::await_resume() {
  DirectWait::await_resume();
  if (st_->exc) std::rethrow_exception(st_->exc);
}

/// FlowControlMixin + StreamReaderProtocol.
std::shared_ptr<Transport> share(Transport& t);  // transport.cpp

class StreamProtocol final : public Protocol {
 public:
  StreamProtocol(std::shared_ptr<ReaderState> reader, std::shared_ptr<ClientConnected> cb, EventLoop& loop)
      : reader_(std::move(reader)), cb_(std::move(cb)), loop_(loop), closed_(loop) {}

  void connection_made(Transport& t) override;
  void data_received(std::span<const std::byte> data) override {
    reader_->feed_data(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  }
  bool eof_received() override {
    reader_->feed_eof();
    return true;  // half-close: the writer may still write
  }
  void connection_lost(std::exception_ptr exc) override {
    if (exc) {
      reader_->set_exception(exc);
    } else {
      reader_->feed_eof();
    }
    reader_->transport = nullptr;
    if (!closed_.done()) {
      if (exc) {
        closed_.set_exception(exc);
      } else {
        closed_.set_result();
      }
    }
    lost_ = true;
    lost_exc_ = exc;
    wake_drainers();
  }
  void pause_writing() override { paused_ = true; }
  void resume_writing() override {
    paused_ = false;
    wake_drainers();
  }

  /// FlowControlMixin._drain_helper without the coroutine: the future to
  /// await while writing is paused, or nullopt (nothing to wait for).
  /// Throws: ConnectionResetError once the connection is lost.
  std::optional<Future<>> drain_waiter() {
    if (lost_) throw ConnectionResetError(ECONNRESET, "Connection lost");
    if (!paused_) return std::nullopt;
    Future<> w(loop_);
    drainers_.push_back(w);
    return w;
  }
  Future<> closed() const { return closed_; }
  const std::shared_ptr<ReaderState>& reader() const noexcept { return reader_; }
  std::weak_ptr<Transport> transport_ref;

 private:
  void wake_drainers() {
    auto ws = std::move(drainers_);
    drainers_.clear();
    for (auto& w : ws) {
      if (w.done()) continue;
      if (!lost_) {
        w.set_result();
      } else if (lost_exc_) {
        w.set_exception(lost_exc_);
      } else {
        w.set_exception(ConnectionResetError(ECONNRESET, "Connection lost"));
      }
    }
  }

  std::shared_ptr<ReaderState> reader_;
  std::shared_ptr<ClientConnected> cb_;
  EventLoop& loop_;
  Future<> closed_;
  std::deque<Future<>> drainers_;
  std::exception_ptr lost_exc_;
  bool paused_ = false, lost_ = false;
};

struct WriterState {
  WriterState(std::shared_ptr<Transport> t, StreamProtocol* p) noexcept : transport(std::move(t)), protocol(p) {}
  WriterState(const WriterState&) = delete;
  WriterState& operator=(const WriterState&) = delete;
  std::shared_ptr<Transport> transport;
  StreamProtocol* protocol;
  ~WriterState() {
    if (transport && !transport->is_closing()) transport->close();
  }
};

namespace {
// The handler runs inside this frame, which owns the callable: a lambda
// coroutine's frame refers to its closure, and the protocol (which could
// hold it otherwise) is freed with the transport, possibly while the
// handler's frame is still being destroyed.
Task<> run_handler(std::shared_ptr<ClientConnected> cb, StreamReader reader, StreamWriter writer) {
  co_await (*cb)(std::move(reader), std::move(writer));
}
}  // namespace

void StreamProtocol::connection_made(Transport& t) {
  reader_->transport = &t;
  if (!cb_) return;
  // The server side: a task per connection running the user's handler.
  auto ws = std::make_shared<WriterState>(share(t), this);
  Task<> handler = run_handler(cb_, StreamReader(reader_), StreamWriter(std::move(ws)));
  handler.core()->start(loop_);
  std::weak_ptr<Transport> weak = share(t);
  handler.add_done_callback([ref = handler.ref(), weak] {
    if (ref.cancelled() || !ref.exception()) return;
    mpx::detail::log_exception("Unhandled exception in client_connected_cb", ref.exception());
    if (auto tr = weak.lock()) tr->close();
  });
}

}  // namespace detail

// ---- errors ---------------------------------------------------------------------

IncompleteReadError::IncompleteReadError(std::string partial, std::optional<std::size_t> expected)
    : EOFError(std::to_string(partial.size()) + " bytes read on a total of " +
               (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

// ---- StreamReader -----------------------------------------------------------------

StreamReader::StreamReader(std::size_t limit) : st_(std::make_shared<detail::ReaderState>(limit)) {}

bool StreamReader::at_eof() const noexcept { return st_->eof && st_->size() == 0; }
void StreamReader::feed_data(std::string_view data) { st_->feed_data(data); }
void StreamReader::feed_eof() { st_->feed_eof(); }
std::exception_ptr StreamReader::exception() const noexcept { return st_->exc; }
void StreamReader::set_exception(std::exception_ptr e) { st_->set_exception(std::move(e)); }
std::size_t StreamReader::limit() const noexcept { return st_->limit; }
std::size_t StreamReader::buffered() const noexcept { return st_->size(); }

Task<std::string> StreamReader::read(long n) {
  auto st = st_;
  if (st->exc) std::rethrow_exception(st->exc);
  if (n == 0) co_return std::string();
  if (n < 0) {
    std::string all;
    for (;;) {
      std::string block = co_await StreamReader(st).read(static_cast<long>(st->limit));
      if (block.empty()) break;
      all += block;
    }
    co_return all;
  }
  if (st->size() == 0 && !st->eof) co_await st->wait_for_data("read");
  std::string data = st->take(std::min(static_cast<std::size_t>(n), st->size()));
  st->maybe_resume();
  co_return data;
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  auto st = st_;
  if (st->exc) std::rethrow_exception(st->exc);
  if (n == 0) co_return std::string();
  while (st->size() < n) {
    if (st->eof) {
      std::string partial = st->take(st->size());
      throw IncompleteReadError(std::move(partial), n);
    }
    co_await st->wait_for_data("readexactly");
  }
  std::string data = st->take(n);
  st->maybe_resume();
  co_return data;
}

Task<std::string> StreamReader::readuntil(std::string separator) {
  auto st = st_;
  if (separator.empty()) throw ValueError("Separator should be at least one-byte string");
  if (st->exc) std::rethrow_exception(st->exc);
  std::size_t offset = 0;
  std::optional<std::size_t> end;
  while (!(end = st->scan(separator, &offset))) co_await st->wait_for_data("readuntil");
  std::string chunk = st->take(*end);
  st->maybe_resume();
  co_return chunk;
}

Task<std::string> StreamReader::readline() {
  auto st = st_;
  if (st->exc) std::rethrow_exception(st->exc);
  // readuntil("\n") inline (no nested task per line), its errors turned into readline's.
  std::optional<LimitOverrunError> overrun;
  std::size_t offset = 0;
  for (;;) {
    std::optional<std::size_t> end;
    try {
      end = st->scan("\n", &offset);
    } catch (const IncompleteReadError& e) {
      co_return e.partial();
    } catch (const LimitOverrunError& e) {
      overrun.emplace(e);
      break;
    }
    if (end) {
      std::string line = st->take(*end);
      st->maybe_resume();
      co_return line;
    }
    co_await st->wait_for_data("readline");
  }
  std::string_view rest = std::string_view(st->buf).substr(st->head);
  if (rest.substr(std::min(overrun->consumed(), rest.size())).starts_with('\n')) {
    st->take(overrun->consumed() + 1);
  } else {
    st->clear();
  }
  st->maybe_resume();
  throw ValueError(overrun->what());
}

// ---- StreamWriter -----------------------------------------------------------------

void StreamWriter::write(std::string_view data) { st_->transport->write(data); }
void StreamWriter::write(std::span<const std::byte> data) { st_->transport->write(data); }
void StreamWriter::write_eof() { st_->transport->write_eof(); }
void StreamWriter::close() { st_->transport->close(); }
bool StreamWriter::is_closing() const noexcept { return st_->transport->is_closing(); }
net::Address StreamWriter::get_peername() const { return st_->transport->get_peername(); }
net::Address StreamWriter::get_sockname() const { return st_->transport->get_sockname(); }
Transport& StreamWriter::transport() const noexcept { return *st_->transport; }

Task<> StreamWriter::drain() {
  auto st = st_;
  if (auto e = st->protocol->reader()->exc) std::rethrow_exception(e);
  if (st->transport->is_closing()) co_await sleep(std::chrono::seconds(0));  // let connection_lost run
  if (auto w = st->protocol->drain_waiter()) co_await *w;
}

Task<> StreamWriter::wait_closed() {
  auto st = st_;
  Future<> closed = st->protocol->closed();
  co_await closed;
}

// ---- connecting and serving -----------------------------------------------------------

namespace {

Task<std::pair<StreamReader, StreamWriter>> open(std::optional<std::pair<std::string, std::uint16_t>> inet,
                                                 std::string path, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  auto reader = std::make_shared<detail::ReaderState>(options.limit);
  ProtocolFactory factory = [&loop, reader] { return std::make_unique<detail::StreamProtocol>(reader, nullptr, loop); };
  // (Two statements: g++ 12 mishandles co_await in both arms of ?:.)
  Connection c;
  if (inet) {
    c = co_await create_connection(factory, inet->first, inet->second);
  } else {
    c = co_await create_unix_connection(factory, path);
  }
  auto* protocol = static_cast<detail::StreamProtocol*>(c.protocol);
  auto ws = std::make_shared<detail::WriterState>(std::move(c.transport), protocol);
  co_return std::pair<StreamReader, StreamWriter>(StreamReader(reader), StreamWriter(std::move(ws)));
}

ProtocolFactory stream_factory(ClientConnected callback, StreamOptions options) {
  EventLoop& loop = get_running_loop();
  auto cb = std::make_shared<ClientConnected>(std::move(callback));
  return [cb, options, &loop] {
    return std::make_unique<detail::StreamProtocol>(std::make_shared<detail::ReaderState>(options.limit), cb, loop);
  };
}

}  // namespace

Task<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, std::uint16_t port,
                                                            StreamOptions options) {
  return open(std::make_pair(std::move(host), port), {}, options);
}

Task<std::pair<StreamReader, StreamWriter>> open_unix_connection(std::string path, StreamOptions options) {
  return open(std::nullopt, std::move(path), options);
}

Task<Server> start_server(ClientConnected cb, std::string host, std::uint16_t port, StreamOptions options,
                          ServerOptions server) {
  return create_server(stream_factory(std::move(cb), options), std::move(host), port, server);
}

Task<Server> start_unix_server(ClientConnected cb, std::string path, StreamOptions options, ServerOptions server) {
  return create_unix_server(stream_factory(std::move(cb), options), std::move(path), server);
}

Task<Server> start_server(ClientConnected cb, net::Socket sock, StreamOptions options, ServerOptions server) {
  return create_server(stream_factory(std::move(cb), options), std::move(sock), server);
}

}  // namespace mpx::aio
