// Ports of CPython's Lib/test/test_asyncio/test_streams.py (StreamTests) to
// mpx::aio, on both backends. Each TEST_P names its source case. Python's
// `stream._buffer` is read here as buffered() and then the bytes themselves
// (rest() consumes them). Python's negative limits/counts have no C++
// counterpart (size_t): those halves are left out.
#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "mpx/aio.hpp"
#include "support/aio_backends.hpp"

namespace aio = mpx::aio;
using namespace std::chrono_literals;

namespace {

using AioStreamsConformance = mpx::test::AioTest;
MPX_AIO_BACKENDS(AioStreamsConformance);

const std::string kData = "line1\nline2\nline3\n";

/// Python's stream._buffer, consumed.
aio::Task<std::string> rest(aio::StreamReader& r) {
  if (r.buffered() == 0) co_return std::string();
  co_return co_await r.read(static_cast<long>(r.buffered()));
}

// test_feed_empty_data, test_feed_nonempty_data.
TEST_P(AioStreamsConformance, FeedData) {
  run([]() -> aio::Task<> {
    aio::StreamReader empty;
    empty.feed_data("");
    EXPECT_EQ(empty.buffered(), 0u);
    aio::StreamReader stream;
    stream.feed_data(kData);
    EXPECT_EQ(co_await rest(stream), kData);
  }());
}

// test_read_zero, test_readexactly_zero_or_less (zero; -1 is not a size_t).
TEST_P(AioStreamsConformance, ReadZero) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data(kData);
    EXPECT_EQ(co_await stream.read(0), "");
    EXPECT_EQ(co_await stream.readexactly(0), "");
    EXPECT_EQ(co_await rest(stream), kData);
  }());
}

/// test_read (`exactly` false: read(30) gets the first feed) and
/// test_readexactly (true: readexactly(36) waits for two of three feeds).
aio::Task<> read_fed(bool exactly) {
  aio::StreamReader stream;
  std::optional<aio::Task<std::string>> read_task;
  if (exactly) {
    read_task = aio::create_task(stream.readexactly(2 * kData.size()));
  } else {
    read_task = aio::create_task(stream.read(30));
  }
  aio::get_running_loop().call_soon([&] {
    stream.feed_data(kData);
    if (!exactly) return;
    stream.feed_data(kData);
    stream.feed_data(kData);
  });
  // Named: g++ 12 destroys a temporary twice when it shares a full-expression with co_await.
  const std::string want = exactly ? kData + kData : kData, left = exactly ? kData : "";
  EXPECT_EQ(co_await *read_task, want);
  EXPECT_EQ(co_await rest(stream), left);
}

// test_read.
TEST_P(AioStreamsConformance, Read) { run(read_fed(false)); }
// test_readexactly.
TEST_P(AioStreamsConformance, Readexactly) { run(read_fed(true)); }

// test_read_line_breaks.
TEST_P(AioStreamsConformance, ReadLineBreaks) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("line1");
    stream.feed_data("line2");
    EXPECT_EQ(co_await stream.read(5), "line1");
    EXPECT_EQ(co_await rest(stream), "line2");
  }());
}

// test_read_eof.
TEST_P(AioStreamsConformance, ReadEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    auto read_task = aio::create_task(stream.read(1024));
    aio::get_running_loop().call_soon([&] { stream.feed_eof(); });
    EXPECT_EQ(co_await read_task, "");
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_read_until_eof.
TEST_P(AioStreamsConformance, ReadUntilEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    auto read_task = aio::create_task(stream.read(-1));
    aio::get_running_loop().call_soon([&] {
      stream.feed_data("chunk1\n");
      stream.feed_data("chunk2");
      stream.feed_eof();
    });
    EXPECT_EQ(co_await read_task, "chunk1\nchunk2");
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_read_exception, test_readexactly_exception, test_readline_exception.
TEST_P(AioStreamsConformance, ReadExceptionIsRaisedByEveryRead) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("line\n");
    EXPECT_EQ(co_await stream.read(2), "li");
    stream.set_exception(std::make_exception_ptr(mpx::ValueError("boom")));
    EXPECT_THROW(co_await stream.read(2), mpx::ValueError);
    EXPECT_THROW(co_await stream.readexactly(2), mpx::ValueError);
    EXPECT_THROW(co_await stream.readline(), mpx::ValueError);
  }());
}

// test_invalid_limit (limit=0; -1 is not a size_t).
TEST_P(AioStreamsConformance, InvalidLimit) {
  try {
    aio::StreamReader stream(0);
    ADD_FAILURE() << "limit 0 accepted";
  } catch (const mpx::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("imit"), std::string::npos);
  }
}

// test_read_limit, test_readexactly_limit.
TEST_P(AioStreamsConformance, ReadAndReadexactlyIgnoreTheLimit) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream(3);
    stream.feed_data("chunk");
    EXPECT_EQ(co_await stream.read(5), "chunk");
    EXPECT_EQ(stream.buffered(), 0u);
    stream.feed_data("chunk");
    EXPECT_EQ(co_await stream.readexactly(5), "chunk");
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_readline.
TEST_P(AioStreamsConformance, Readline) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("chunk1 ");
    auto read_task = aio::create_task(stream.readline());
    aio::get_running_loop().call_soon([&] {
      stream.feed_data("chunk2 ");
      stream.feed_data("chunk3 ");
      stream.feed_data("\n chunk4");
    });
    EXPECT_EQ(co_await read_task, "chunk1 chunk2 chunk3 \n");
    EXPECT_EQ(co_await rest(stream), " chunk4");
  }());
}

// test_readline_limit_with_existing_data.
TEST_P(AioStreamsConformance, ReadlineLimitWithExistingData) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream(3);
    stream.feed_data("li");
    stream.feed_data("ne1\nline2\n");
    EXPECT_THROW(co_await stream.readline(), mpx::ValueError);
    EXPECT_EQ(co_await rest(stream), "line2\n");  // the remaining data after the exception

    aio::StreamReader stream2(3);
    stream2.feed_data("li");
    stream2.feed_data("ne1");
    stream2.feed_data("li");
    EXPECT_THROW(co_await stream2.readline(), mpx::ValueError);
    EXPECT_EQ(stream2.buffered(), 0u);  // no '\n': the whole buffer was consumed
  }());
}

// test_at_eof.
TEST_P(AioStreamsConformance, AtEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    EXPECT_FALSE(stream.at_eof());
    stream.feed_data("some data\n");
    EXPECT_FALSE(stream.at_eof());
    co_await stream.readline();
    EXPECT_FALSE(stream.at_eof());
    stream.feed_data("some data\n");
    stream.feed_eof();
    co_await stream.readline();
    EXPECT_TRUE(stream.at_eof());
  }());
}

// test_readline_limit.
TEST_P(AioStreamsConformance, ReadlineLimit) {
  run([]() -> aio::Task<> {
    auto& loop = aio::get_running_loop();
    aio::StreamReader stream(7);
    loop.call_soon([&] {
      stream.feed_data("chunk1");
      stream.feed_data("chunk2");
      stream.feed_data("chunk3\n");
      stream.feed_eof();
    });
    EXPECT_THROW(co_await stream.readline(), mpx::ValueError);
    EXPECT_EQ(stream.buffered(), 0u);  // one line, dropped with the error

    aio::StreamReader stream2(7);
    loop.call_soon([&] {
      stream2.feed_data("chunk1");
      stream2.feed_data("chunk2\n");
      stream2.feed_data("chunk3\n");
      stream2.feed_eof();
    });
    EXPECT_THROW(co_await stream2.readline(), mpx::ValueError);
    EXPECT_EQ(co_await rest(stream2), "chunk3\n");

    // The strictness of the limit.
    aio::StreamReader stream3(7);
    stream3.feed_data("1234567\n");
    EXPECT_EQ(co_await stream3.readline(), "1234567\n");
    EXPECT_EQ(stream3.buffered(), 0u);
    stream3.feed_data("12345678\n");
    EXPECT_THROW(co_await stream3.readline(), mpx::ValueError);
    EXPECT_EQ(stream3.buffered(), 0u);
    stream3.feed_data("12345678");
    EXPECT_THROW(co_await stream3.readline(), mpx::ValueError);
    EXPECT_EQ(stream3.buffered(), 0u);
  }());
}

// test_readline_nolimit_nowait.
TEST_P(AioStreamsConformance, ReadlineNolimitNowait) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data(kData.substr(0, 6));
    stream.feed_data(kData.substr(6));
    EXPECT_EQ(co_await stream.readline(), "line1\n");
    EXPECT_EQ(co_await rest(stream), "line2\nline3\n");
  }());
}

// test_readline_eof, test_readline_empty_eof.
TEST_P(AioStreamsConformance, ReadlineEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("some data");
    stream.feed_eof();
    EXPECT_EQ(co_await stream.readline(), "some data");
    aio::StreamReader empty;
    empty.feed_eof();
    EXPECT_EQ(co_await empty.readline(), "");
  }());
}

// test_readline_read_byte_count.
TEST_P(AioStreamsConformance, ReadlineReadByteCount) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data(kData);
    co_await stream.readline();
    EXPECT_EQ(co_await stream.read(7), "line2\nl");
    EXPECT_EQ(co_await rest(stream), "ine3\n");
  }());
}

// test_readuntil_separator.
TEST_P(AioStreamsConformance, ReaduntilEmptySeparator) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    try {
      co_await stream.readuntil("");
      ADD_FAILURE() << "an empty separator was accepted";
    } catch (const mpx::ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("Separator should be"), std::string::npos);
    }
  }());
}

// test_readuntil_multi_chunks, test_readuntil_multi_chunks_1.
TEST_P(AioStreamsConformance, ReaduntilMultiChunks) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("lineAAA");
    EXPECT_EQ(co_await stream.readuntil("AAA"), "lineAAA");
    EXPECT_EQ(stream.buffered(), 0u);
    stream.feed_data("lineAAAxxx");
    EXPECT_EQ(co_await stream.readuntil("AAA"), "lineAAA");
    EXPECT_EQ(co_await rest(stream), "xxx");

    stream.feed_data("QWEaa");
    stream.feed_data("XYaa");
    stream.feed_data("a");
    EXPECT_EQ(co_await stream.readuntil("aaa"), "QWEaaXYaaa");
    stream.feed_data("QWEaa");
    stream.feed_data("XYa");
    stream.feed_data("aa");
    EXPECT_EQ(co_await stream.readuntil("aaa"), "QWEaaXYaaa");
    stream.feed_data("aaa");
    EXPECT_EQ(co_await stream.readuntil("aaa"), "aaa");
    stream.feed_data("Xaaa");
    EXPECT_EQ(co_await stream.readuntil("aaa"), "Xaaa");
    stream.feed_data("XXX");
    stream.feed_data("a");
    stream.feed_data("a");
    stream.feed_data("a");
    EXPECT_EQ(co_await stream.readuntil("aaa"), "XXXaaa");
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_readuntil_eof.
TEST_P(AioStreamsConformance, ReaduntilEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    stream.feed_data("some dataAA");
    stream.feed_eof();
    try {
      co_await stream.readuntil("AAA");
      ADD_FAILURE() << "no IncompleteReadError";
    } catch (const aio::IncompleteReadError& e) {
      EXPECT_NE(std::string(e.what()).find("undefined expected bytes"), std::string::npos);
      EXPECT_EQ(e.partial(), "some dataAA");
      EXPECT_FALSE(e.expected().has_value());
    }
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_readuntil_limit_found_sep.
TEST_P(AioStreamsConformance, ReaduntilLimitFoundSep) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream(3);
    stream.feed_data("some dataAA");
    try {
      co_await stream.readuntil("AAA");
      ADD_FAILURE() << "no LimitOverrunError";
    } catch (const aio::LimitOverrunError& e) {
      EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos);
    }
    EXPECT_EQ(stream.buffered(), std::string("some dataAA").size());  // nothing consumed
    stream.feed_data("A");
    try {
      co_await stream.readuntil("AAA");
      ADD_FAILURE() << "no LimitOverrunError";
    } catch (const aio::LimitOverrunError& e) {
      EXPECT_NE(std::string(e.what()).find("is found"), std::string::npos);
      EXPECT_EQ(e.consumed(), 9u);  // where the separator starts
    }
    EXPECT_EQ(co_await rest(stream), "some dataAAA");
  }());
}

// test_readexactly_eof.
TEST_P(AioStreamsConformance, ReadexactlyEof) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    auto read_task = aio::create_task(stream.readexactly(2 * kData.size()));
    aio::get_running_loop().call_soon([&] {
      stream.feed_data(kData);
      stream.feed_eof();
    });
    try {
      co_await read_task;
      ADD_FAILURE() << "no IncompleteReadError";
    } catch (const aio::IncompleteReadError& e) {
      EXPECT_EQ(e.partial(), kData);
      EXPECT_EQ(e.expected().value_or(0), 2 * kData.size());
      EXPECT_STREQ(e.what(), "18 bytes read on a total of 36 expected bytes");
    }
    EXPECT_EQ(stream.buffered(), 0u);
  }());
}

// test_exception.
TEST_P(AioStreamsConformance, Exception) {
  aio::StreamReader stream;
  EXPECT_EQ(stream.exception(), nullptr);
  auto exc = std::make_exception_ptr(mpx::ValueError("x"));
  stream.set_exception(exc);
  EXPECT_EQ(stream.exception(), exc);
}

// test_exception_waiter.
TEST_P(AioStreamsConformance, ExceptionWakesTheWaiter) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    auto t1 = aio::create_task(stream.readline());
    auto t2 = aio::create_task([](aio::StreamReader s) -> aio::Task<> {
      s.set_exception(std::make_exception_ptr(mpx::ValueError("from set_err")));
      co_return;
    }(stream));
    co_await aio::gather(aio::GatherOptions{.return_exceptions = true}, aio::Task<std::string>(t1), aio::Task<>(t2));
    EXPECT_THROW(t1.result(), mpx::ValueError);
  }());
}

// test_exception_cancel: set_exception after the waiting readline was
// cancelled must not trip over the cancelled waiter.
TEST_P(AioStreamsConformance, ExceptionAfterACancelledWait) {
  run([]() -> aio::Task<> {
    aio::StreamReader stream;
    auto t = aio::create_task(stream.readline());
    co_await aio::sleep(0s);  // test_utils.run_briefly
    t.cancel();
    co_await aio::sleep(0s);
    stream.set_exception(std::make_exception_ptr(mpx::RuntimeError("message")));
    co_await aio::sleep(0s);
    EXPECT_TRUE(t.cancelled());
    EXPECT_THROW(co_await stream.readline(), mpx::RuntimeError);
  }());
}

aio::Task<> echo_line(aio::StreamReader reader, aio::StreamWriter writer) {
  std::string data = co_await reader.readline();
  writer.write(data);
  co_await writer.drain();
  writer.close();
  co_await writer.wait_closed();
}

/// test_start_server / test_start_unix_server (the coroutine-handler
/// variant; a C++ handler is always a coroutine): one line echoed over TCP,
/// or over the Unix socket at `path`.
aio::Task<> start_server_round_trip(std::string path) {
  std::optional<aio::Server> server;
  std::optional<std::pair<aio::StreamReader, aio::StreamWriter>> conn;
  if (path.empty()) {
    server = co_await aio::start_server(echo_line, "127.0.0.1", 0);
    conn = co_await aio::open_connection("127.0.0.1", server->port());
  } else {
    server = co_await aio::start_unix_server(echo_line, path);
    conn = co_await aio::open_unix_connection(path);
  }
  auto& [reader, writer] = *conn;
  writer.write("hello world!\n");
  EXPECT_EQ(co_await reader.readline(), "hello world!\n");
  writer.close();
  co_await writer.wait_closed();
  server->close();
  co_await server->wait_closed();
}

// test_start_server.
TEST_P(AioStreamsConformance, StartServer) { run(start_server_round_trip("")); }

// test_start_unix_server.
TEST_P(AioStreamsConformance, StartUnixServer) {
  std::string path = "/tmp/mpx-aio-streams-conf-" + std::to_string(::getpid()) + "-" + GetParam();
  ::unlink(path.c_str());
  run(start_server_round_trip(path));
  ::unlink(path.c_str());
}

/// CPython's test_utils.run_test_server, as a stream handler: answers any
/// request with a fixed HTTP/1.0 reply and closes.
aio::Task<> http_reply(aio::StreamReader reader, aio::StreamWriter writer) {
  std::string line;
  do {
    line = co_await reader.readline();
  } while (!line.empty() && line != "\r\n");
  writer.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nTest message");
  writer.close();
  co_await writer.wait_closed();
}

// test_open_connection (and _basetest_open_connection).
TEST_P(AioStreamsConformance, OpenConnection) {
  run([]() -> aio::Task<> {
    auto server = co_await aio::start_server(http_reply, "127.0.0.1", 0);
    auto [reader, writer] = co_await aio::open_connection("127.0.0.1", server.port());
    writer.write("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(co_await reader.readline(), "HTTP/1.0 200 OK\r\n");
    std::string data = co_await reader.read();
    EXPECT_TRUE(data.ends_with("\r\n\r\nTest message")) << data;
    writer.close();
    server.close();
    co_await server.wait_closed();
  }());
}

}  // namespace
