// mpx::http::RequestParser and the response helpers: framing, keep-alive
// rules, limits and the status each failure maps to.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mpx/errors.hpp"
#include "mpx/http.hpp"

namespace http = mpx::http;

namespace {

// Parses one request fed at once; the parser is left complete or failed.
struct Parsed {
  http::RequestParser parser;
  std::size_t consumed = 0;
  explicit Parsed(std::string_view text, http::Limits limits = {}) : parser(limits) { consumed = parser.feed(text); }
};

int status_of(std::string_view text, http::Limits limits = {}) {
  Parsed p(text, limits);
  EXPECT_TRUE(p.parser.failed()) << text;
  return p.parser.error_status();
}

}  // namespace

TEST(HttpParser, SimpleGet) {
  Parsed p("GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\n\r\n");
  ASSERT_TRUE(p.parser.complete());
  const auto& r = p.parser.request();
  EXPECT_EQ(r.method(), "GET");
  EXPECT_EQ(r.target(), "/index.html?q=1");
  EXPECT_EQ(r.version(), "HTTP/1.1");
  EXPECT_EQ(r.version_minor(), 1);
  ASSERT_EQ(r.header_count(), 2u);
  EXPECT_EQ(r.header_name(1), "Accept");
  EXPECT_EQ(r.header_value(1), "*/*");
  EXPECT_EQ(r.header("HOST"), "example.com");
  EXPECT_FALSE(r.header("Cookie").has_value());
  EXPECT_TRUE(r.keep_alive());
  EXPECT_TRUE(r.body().empty());
}

TEST(HttpParser, ByteByByteGivesTheSameRequest) {
  std::string text = "POST /p HTTP/1.1\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world";
  http::RequestParser parser;
  for (char c : text) {
    ASSERT_FALSE(parser.complete());
    ASSERT_EQ(parser.feed(std::string_view(&c, 1)), 1u);
  }
  ASSERT_TRUE(parser.complete());
  EXPECT_EQ(parser.request().body(), "hello world");
  EXPECT_EQ(parser.request().header("x-a"), "b");
}

TEST(HttpParser, PipelinedRequestsStopAtEachEnd) {
  std::string text = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  http::RequestParser parser;
  std::string_view in = text;
  std::string seen;
  while (!in.empty()) {
    in.remove_prefix(parser.feed(in));
    ASSERT_TRUE(parser.complete());
    seen += parser.request().target();
    seen += parser.request().keep_alive() ? "+" : "-";
    parser.reset();
  }
  EXPECT_EQ(seen, "/a+/b+/c-");
}

TEST(HttpParser, KeepAliveRules) {
  EXPECT_FALSE(Parsed("GET / HTTP/1.0\r\n\r\n").parser.request().keep_alive());
  EXPECT_TRUE(Parsed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").parser.request().keep_alive());
  EXPECT_TRUE(Parsed("GET / HTTP/1.1\r\n\r\n").parser.request().keep_alive());
  EXPECT_FALSE(Parsed("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n").parser.request().keep_alive());
  EXPECT_EQ(Parsed("GET / HTTP/1.0\r\n\r\n").parser.request().version_minor(), 0);
}

TEST(HttpParser, BareLineFeedsAndLeadingBlankLines) {
  Parsed p("\r\n\nGET / HTTP/1.1\nHost: a\n\n");
  ASSERT_TRUE(p.parser.complete());
  EXPECT_EQ(p.parser.request().header("Host"), "a");
}

TEST(HttpParser, ContentLengthBody) {
  Parsed p("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET");
  ASSERT_TRUE(p.parser.complete());
  EXPECT_EQ(p.parser.request().body(), "abc");
  EXPECT_EQ(p.consumed, std::string_view("PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").size());
}

TEST(HttpParser, ChunkedBodyWithExtensionsAndTrailers) {
  Parsed p(
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n1B\r\n, abcdefghijklmnopqrstuvwxy\r\n0\r\nTrailer: dropped\r\n\r\n");
  ASSERT_TRUE(p.parser.complete());
  const auto& r = p.parser.request();
  EXPECT_TRUE(r.chunked());
  EXPECT_EQ(r.body(), "hello, abcdefghijklmnopqrstuvwxy");
  EXPECT_FALSE(r.header("Trailer").has_value());
}

TEST(HttpParser, ExpectContinueIsSeenBeforeTheBody) {
  http::RequestParser parser;
  std::string_view head = "PUT /u HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  EXPECT_EQ(parser.feed(head), head.size());
  EXPECT_TRUE(parser.reading_body());
  EXPECT_TRUE(parser.request().expect_continue());
  parser.feed("data");
  EXPECT_TRUE(parser.complete());
  EXPECT_FALSE(parser.reading_body());
}

TEST(HttpParser, MalformedIs400) {
  EXPECT_EQ(status_of("GET\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /\r\n\r\n"), 400);  // HTTP/0.9
  EXPECT_EQ(status_of("GET / HTTP/1.1 extra\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / FTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\rX\r\n"), 400);
  EXPECT_EQ(status_of("G@T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status_of(std::string_view("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 28)), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX"), 400);
  EXPECT_EQ(status_of(std::string(20, '\n') + "GET / HTTP/1.1\r\n\r\n"), 400);
}

TEST(HttpParser, SameContentLengthTwiceIsAccepted) {
  Parsed p("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab");
  ASSERT_TRUE(p.parser.complete());
  EXPECT_EQ(p.parser.request().body(), "ab");
}

TEST(HttpParser, LimitsMapToTheirStatus) {
  http::Limits limits{.max_request_line = 32, .max_headers = 3, .max_header_bytes = 64, .max_body = 10};
  EXPECT_EQ(status_of("GET /" + std::string(40, 'a') + " HTTP/1.1\r\n\r\n", limits), 414);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits), 431);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nA: " + std::string(80, 'v') + "\r\n\r\n", limits), 431);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits), 413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits), 413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", limits), 413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n", limits), 413);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/0.9\r\n\r\n"), 505);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
}

TEST(HttpParser, AnOversizedLineFailsBeforeItIsStored) {
  http::Limits limits{.max_request_line = 100};
  http::RequestParser parser(limits);
  std::string huge = "GET /" + std::string(1 << 20, 'a');
  parser.feed(huge);
  ASSERT_TRUE(parser.failed());
  EXPECT_EQ(parser.error_status(), 414);
  EXPECT_LE(parser.request().target().size(), 101u);
}

TEST(HttpParser, ResetKeepsNothingOfThePreviousRequest) {
  http::RequestParser parser;
  parser.feed("POST /a HTTP/1.0\r\nA: 1\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_TRUE(parser.complete());
  parser.reset();
  EXPECT_FALSE(parser.started());
  parser.feed("GET /b HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(parser.complete());
  EXPECT_EQ(parser.request().target(), "/b");
  EXPECT_EQ(parser.request().header_count(), 0u);
  EXPECT_TRUE(parser.request().body().empty());
  EXPECT_TRUE(parser.request().keep_alive());
}

TEST(HttpResponse, StatusLineHeadersAndPhrases) {
  std::string out;
  http::detail::append_status_line(out, "HTTP/1.1", 404);
  http::detail::append_header(out, "Content-Type", "text/html");
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n");
  EXPECT_EQ(http::reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(http::reason_phrase(299), "");
  EXPECT_THROW(http::detail::append_header(out, "X", "a\r\nInjected: 1"), mpx::ValueError);
  EXPECT_THROW(http::detail::append_header(out, "Bad Name", "v"), mpx::ValueError);
  EXPECT_THROW(http::detail::append_status_line(out, "HTTP/1.1", 42), mpx::ValueError);
  std::string date;
  http::detail::append_date_header(date);
  EXPECT_EQ(date.rfind("Date: ", 0), 0u);
  EXPECT_EQ(date.substr(date.size() - 5), "GMT\r\n");
}

TEST(HttpResponse, ErrorPageEscapesTheMessage) {
  std::string page = http::detail::error_page(404, "<script>", "Nothing matches the given URI");
  EXPECT_NE(page.find("Error code: 404"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
}
