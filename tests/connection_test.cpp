// Pipe and Connection: send/recv of values and bytes, framing, limits,
// poll, EOF, bad frames, and wait() over connections and sentinels.
#include "mpx/connection.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "mpx/process.hpp"
#include "os/sys.hpp"

using namespace std::chrono_literals;

namespace {
std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string to_string(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

TEST(Connection, DuplexBothWays) {
  auto [a, b] = mpx::Pipe();
  EXPECT_TRUE(a.readable() && a.writable() && b.readable() && b.writable());
  a.send(std::string("ping"));
  EXPECT_EQ(b.recv<std::string>(), "ping");
  b.send(std::vector<int>{1, 2, 3});
  EXPECT_EQ(a.recv<std::vector<int>>(), (std::vector<int>{1, 2, 3}));
}

TEST(Connection, SimplexDirections) {
  auto [r, w] = mpx::Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  EXPECT_THROW(r.send(1), mpx::OSError);
  EXPECT_THROW((void)w.recv<int>(), mpx::OSError);
  w.send(5);
  EXPECT_EQ(r.recv<int>(), 5);
}

TEST(Connection, AcrossFork) {
  auto [parent, child] = mpx::Pipe();
  mpx::Process p([&] {
    for (;;) {
      auto s = child.recv<std::string>();
      if (s == "stop") break;
      child.send(s + "!");
    }
  });
  p.start();
  for (int i = 0; i < 100; ++i) {
    parent.send(std::to_string(i));
    EXPECT_EQ(parent.recv<std::string>(), std::to_string(i) + "!");
  }
  parent.send(std::string("stop"));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Connection, SendBytesOffsetAndSize) {
  auto [a, b] = mpx::Pipe();
  std::string s = "abcdefgh";
  a.send_bytes(as_bytes(s));
  a.send_bytes(as_bytes(s), 2);
  a.send_bytes(as_bytes(s), 2, 3);
  a.send_bytes(as_bytes(s), 8, 0);
  EXPECT_EQ(to_string(b.recv_bytes()), "abcdefgh");
  EXPECT_EQ(to_string(b.recv_bytes()), "cdefgh");
  EXPECT_EQ(to_string(b.recv_bytes()), "cde");
  EXPECT_EQ(to_string(b.recv_bytes()), "");
  EXPECT_THROW(a.send_bytes(as_bytes(s), 9), mpx::ValueError);
  EXPECT_THROW(a.send_bytes(as_bytes(s), 4, 5), mpx::ValueError);
}

TEST(Connection, WireFormatIsPythons) {
  // struct.pack("!i", len) + payload: a Python Connection can read it.
  auto [a, b] = mpx::Pipe();
  a.send_bytes(std::string_view("hey"));
  unsigned char raw[7];
  ASSERT_EQ(::read(b.fileno(), raw, sizeof raw), 7);
  EXPECT_EQ(raw[0], 0);
  EXPECT_EQ(raw[3], 3);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(raw) + 4, 3), "hey");
  unsigned char frame[] = {0, 0, 0, 2, 'o', 'k'};
  ASSERT_EQ(::write(b.fileno(), frame, sizeof frame), 6);
  EXPECT_EQ(to_string(a.recv_bytes()), "ok");
}

TEST(Connection, RecvBytesMaxlength) {
  auto [a, b] = mpx::Pipe();
  a.send_bytes(std::string_view("0123456789"));
  try {
    (void)b.recv_bytes(5);
    FAIL();
  } catch (const mpx::OSError& e) {
    EXPECT_STREQ(e.what(), "bad message length");
  }
  EXPECT_FALSE(b.readable());  // as Python: the stream position is lost
}

TEST(Connection, RecvBytesIntoAndBufferTooShort) {
  auto [a, b] = mpx::Pipe();
  std::vector<std::byte> buf(16, std::byte{'.'});
  a.send_bytes(std::string_view("hello"));
  EXPECT_EQ(b.recv_bytes_into(buf, 3), 5u);
  EXPECT_EQ(to_string(std::span(buf).first(10)), "...hello..");
  a.send_bytes(std::string_view("this is far too long"));
  try {
    (void)b.recv_bytes_into(buf, 10);
    FAIL();
  } catch (const mpx::BufferTooShort& e) {
    EXPECT_EQ(to_string(e.message()), "this is far too long");
  }
  // The connection is still in step after BufferTooShort.
  a.send(1234);
  EXPECT_EQ(b.recv<int>(), 1234);
  EXPECT_THROW(b.recv_bytes_into(buf, 17), mpx::ValueError);
}

TEST(Connection, LargeMessagesBothPaths) {
  auto [a, b] = mpx::Pipe();
  std::vector<char> big(5 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  mpx::Process p([&] {
    a.send(big);
    a.send_bytes(std::as_bytes(std::span(big)));
  });
  p.start();
  EXPECT_EQ(b.recv<std::vector<char>>(), big);
  auto raw = b.recv_bytes();
  ASSERT_EQ(raw.size(), big.size());
  EXPECT_EQ(std::memcmp(raw.data(), big.data(), big.size()), 0);
  p.join();
}

TEST(Connection, ManySmallMessagesInOneRead) {
  auto [a, b] = mpx::Pipe();
  for (int i = 0; i < 100; ++i) a.send(i);  // well under the socket buffer
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b.recv<int>(), i);
  EXPECT_FALSE(b.poll());
}

TEST(Connection, PollTimeouts) {
  auto [a, b] = mpx::Pipe();
  EXPECT_FALSE(b.poll());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.poll(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  a.send(1);
  a.send(2);
  EXPECT_TRUE(b.poll(mpx::forever));
  EXPECT_EQ(b.recv<int>(), 1);
  EXPECT_TRUE(b.poll());  // the second is already buffered
  EXPECT_EQ(b.recv<int>(), 2);
}

TEST(Connection, EOFErrorWhenPeerCloses) {
  auto [a, b] = mpx::Pipe();
  a.send(1);
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(b.recv<int>(), 1);
  EXPECT_TRUE(b.poll());  // EOF counts as readable, as in Python
  EXPECT_THROW((void)b.recv<int>(), mpx::EOFError);
  EXPECT_THROW((void)b.recv_bytes(), mpx::EOFError);
}

TEST(Connection, BrokenPipeWhenReaderIsGone) {
  {
    auto [a, b] = mpx::Pipe();
    b.close();
    EXPECT_THROW(a.send(1), mpx::BrokenPipeError);
  }
  {
    auto [r, w] = mpx::Pipe(false);
    r.close();
    EXPECT_THROW(w.send_bytes(std::string_view("x")), mpx::BrokenPipeError);  // not a SIGPIPE death
  }
}

TEST(Connection, ClosedConnectionRaises) {
  auto [a, b] = mpx::Pipe();
  a.close();
  a.close();
  EXPECT_THROW(a.fileno(), mpx::OSError);
  EXPECT_THROW(a.send(1), mpx::OSError);
  EXPECT_THROW((void)a.recv<int>(), mpx::OSError);
  EXPECT_THROW(a.poll(), mpx::OSError);
}

TEST(Connection, OversizedFrameIsRefusedBeforeAllocating) {
  auto [a, b] = mpx::Pipe(true, {.max_message_size = 1024});
  unsigned char huge[] = {0x7f, 0xff, 0xff, 0xf0};  // claims ~2 GiB
  ASSERT_EQ(::write(a.fileno(), huge, 4), 4);
  EXPECT_THROW((void)b.recv_bytes(), mpx::DecodeError);
  EXPECT_FALSE(b.readable());
  auto [c, d] = mpx::Pipe(true, {.max_message_size = 1024});
  unsigned char longform[] = {0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0};  // -1 then 2^60
  ASSERT_EQ(::write(c.fileno(), longform, sizeof longform), 12);
  EXPECT_THROW((void)d.recv<std::string>(), mpx::DecodeError);
  auto [e, f] = mpx::Pipe();
  unsigned char negative[] = {0x80, 0, 0, 1};
  ASSERT_EQ(::write(e.fileno(), negative, 4), 4);
  EXPECT_THROW((void)f.recv_bytes(), mpx::DecodeError);
}

TEST(Connection, GarbagePayloadIsADecodeErrorAndTheStreamGoesOn) {
  auto [a, b] = mpx::Pipe();
  unsigned char frame[] = {0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'x'};
  ASSERT_EQ(::write(a.fileno(), frame, sizeof frame), static_cast<ssize_t>(sizeof frame));
  EXPECT_THROW((void)b.recv<std::string>(), mpx::DecodeError);
  a.send(std::string("next"));
  EXPECT_EQ(b.recv<std::string>(), "next");
}

TEST(Connection, TornFrameIsReportedNotHung) {
  auto [a, b] = mpx::Pipe();
  unsigned char part[] = {0, 0, 0, 100, 'a', 'b'};
  ASSERT_EQ(::write(a.fileno(), part, sizeof part), 6);
  a.close();
  try {
    (void)b.recv_bytes();
    FAIL();
  } catch (const mpx::OSError& e) {
    EXPECT_STREQ(e.what(), "got end of file during message");
  }
}

namespace {
int short_writes = 0;
ssize_t short_send(int fd, const void* p, size_t n, int flags) {
  ++short_writes;
  return ::send(fd, p, n > 3 ? 3 : n, flags);  // at most 3 bytes per call
}
int eintr_reads = 0;
ssize_t eintr_read(int fd, void* p, size_t n) {
  if (eintr_reads++ % 2 == 0) {
    errno = EINTR;
    return -1;
  }
  return ::read(fd, p, n > 5 ? 5 : n);
}
}  // namespace

TEST(Connection, ShortWritesAndEintrAreHandled) {
  auto& t = mpx::detail::sys::table();
  auto saved = t;
  t.send = short_send;
  t.read = eintr_read;
  auto [a, b] = mpx::Pipe();
  a.send(std::string("through a keyhole"));
  auto got = b.recv<std::string>();
  t = saved;
  EXPECT_EQ(got, "through a keyhole");
  EXPECT_GT(short_writes, 5);
  EXPECT_GT(eintr_reads, 5);
}

TEST(Connection, WaitOverConnectionsAndSentinels) {
  auto [a, b] = mpx::Pipe();
  auto [c, d] = mpx::Pipe();
  EXPECT_TRUE(mpx::connection::wait({&b, &d}, 10ms).empty());
  a.send(1);
  auto ready = mpx::connection::wait({&b, &d}, 10s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(std::get<mpx::Connection*>(ready[0]), &b);
  EXPECT_EQ(b.recv<int>(), 1);

  mpx::Process p([] {});
  p.start();
  ready = mpx::connection::wait({&b, p.sentinel()}, 20s);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(std::get<int>(ready[0]), p.sentinel());
  p.join();
}

TEST(Connection, MoveKeepsBufferedMessages) {
  auto [a, b] = mpx::Pipe();
  a.send(1);
  a.send(2);
  EXPECT_EQ(b.recv<int>(), 1);
  mpx::Connection moved = std::move(b);
  EXPECT_TRUE(b.closed());
  EXPECT_EQ(moved.recv<int>(), 2);
}

namespace {
ssize_t enospc_write(int, const void*, size_t) {
  errno = ENOSPC;
  return -1;
}
}  // namespace

TEST(Connection, WriteErrorsBecomeOSErrorWithErrno) {
  auto& t = mpx::detail::sys::table();
  auto saved = t;
  t.write = enospc_write;
  auto [r, w] = mpx::Pipe(false);
  try {
    w.send(1);
    t = saved;
    FAIL();
  } catch (const mpx::OSError& e) {
    t = saved;
    EXPECT_EQ(e.errno_value(), ENOSPC);
    EXPECT_NE(std::string(e.what()).find("write"), std::string::npos);
  }
}
