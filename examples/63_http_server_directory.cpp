// 63_http_server_directory: a tiny HTTP server serving a directory (python -m http.server).
//
// Seed lesson: socketserver's last step — a protocol on top of the server
// classes. Python's http.server is socketserver plus a request handler that
// speaks HTTP; `python -m http.server` serves the current directory:
//
//   handler = functools.partial(SimpleHTTPRequestHandler, directory=root)
//   with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
//       threading.Thread(target=httpd.serve_forever).start()
//       ... urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt") ...
//       httpd.shutdown()
//
// The same here: a directory with an index page, a text file and a
// sub-directory, served by ThreadingHTTPServer + SimpleHTTPRequestHandler,
// and a client asking for files, a directory without its slash (301), a
// listing, a missing file and a path that tries to climb out (both 404).
// The server's log goes to stderr, as Python's; stdout shows what the
// client got. (For raw speed, mpx::http::serve runs an aio loop per
// worker process instead: see docs/http.md.)
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "mpx/http.hpp"

namespace http = mpx::http;

// One HTTP/1.0 exchange: the server answers and closes.
std::string fetch(std::uint16_t port, const std::string& method, const std::string& target) {
  mpx::net::Socket conn = mpx::net::create_connection("127.0.0.1", port);
  conn.sendall(method + " " + target + " HTTP/1.0\r\n\r\n");
  std::string reply;
  for (;;) {
    auto data = conn.recv(65536);
    if (data.empty()) break;
    reply.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  return reply;
}

std::string header(const std::string& reply, const std::string& name) {
  auto at = reply.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "-";
  at += name.size() + 4;
  return reply.substr(at, reply.find("\r\n", at) - at);
}

void show(std::uint16_t port, const std::string& method, const std::string& target) {
  std::string reply = fetch(port, method, target);
  std::string status = reply.substr(9, reply.find("\r\n") - 9);
  std::string body = reply.substr(reply.find("\r\n\r\n") + 4);
  std::printf("%s %s -> %s | type %s | length %s", method.c_str(), target.c_str(), status.c_str(),
              header(reply, "Content-type").c_str(), header(reply, "Content-Length").c_str());
  if (status.starts_with("301")) std::printf(" | location %s", header(reply, "Location").c_str());
  std::printf("\n");
  if (status.starts_with("200") && header(reply, "Content-type").starts_with("text/html;")) {
    // A listing: its entries.
    for (std::size_t at = body.find("<li>"); at != std::string::npos; at = body.find("<li>", at + 1))
      std::printf("    %s\n", body.substr(at, body.find('\n', at) - at).c_str());
  } else if (status.starts_with("200") && !body.empty()) {  // (an error page is HTML for browsers)
    std::printf("    %s", body.c_str());
  }
}

int main() {
  char templ[] = "/tmp/mpx-example-63-XXXXXX";
  std::string root = ::mkdtemp(templ);
  std::ofstream(root + "/index.html") << "<h1>Welcome to mpx</h1>\n";
  std::ofstream(root + "/hello.txt") << "hello, world\n";
  ::mkdir((root + "/docs").c_str(), 0755);
  std::ofstream(root + "/docs/a.json") << "{\"a\": 1}\n";
  std::ofstream(root + "/docs/b.css") << "p {}\n";

  {
    // Python: ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=root))
    http::ThreadingHTTPServer httpd({"127.0.0.1", 0}, mpx::socketserver::handler<http::SimpleHTTPRequestHandler>(root));
    std::thread serving([&] { httpd.serve_forever(); });
    std::uint16_t port = httpd.server_port;

    show(port, "GET", "/");
    show(port, "GET", "/hello.txt");
    show(port, "HEAD", "/hello.txt");
    show(port, "GET", "/docs");
    show(port, "GET", "/docs/");
    show(port, "GET", "/docs/a.json");
    show(port, "GET", "/missing.txt");
    show(port, "GET", "/../../etc/passwd");

    httpd.shutdown();
    serving.join();
  }
  std::string cleanup = "rm -rf '" + root + "'";
  return std::system(cleanup.c_str());
}
