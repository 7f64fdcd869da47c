// src/http/simple_handler.cpp — SimpleHTTPRequestHandler: Python's static
// file handler (send_head, translate_path, list_directory, guess_type).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <memory>
#include <optional>

#include "mpx/detail/fd.hpp"
#include "mpx/errors.hpp"
#include "mpx/http.hpp"
#include "os/sys.hpp"

namespace mpx::http {
namespace {

struct MimeType {
  std::string_view ext, type;
};
// Python's mimetypes defaults for the common files, and
// SimpleHTTPRequestHandler.extensions_map.
constexpr MimeType kTypes[] = {
    {".html", "text/html"},
    {".htm", "text/html"},
    {".txt", "text/plain"},
    {".css", "text/css"},
    {".js", "text/javascript"},
    {".mjs", "text/javascript"},
    {".json", "application/json"},
    {".xml", "text/xml"},
    {".csv", "text/csv"},
    {".md", "text/markdown"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".svg", "image/svg+xml"},
    {".ico", "image/vnd.microsoft.icon"},
    {".webp", "image/webp"},
    {".pdf", "application/pdf"},
    {".wasm", "application/wasm"},
    {".zip", "application/zip"},
    {".tar", "application/x-tar"},
    {".mp4", "video/mp4"},
    {".mp3", "audio/mpeg"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".gz", "application/gzip"},
    {".Z", "application/octet-stream"},
    {".bz2", "application/x-bzip2"},
    {".xz", "application/x-xz"},
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python: urllib.parse.unquote — "%41" -> "A"; a bad escape stays as it is.
std::string unquote(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '%' && i + 2 < s.size() && (hi = hex_digit(s[i + 1])) >= 0 && (lo = hex_digit(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Python: urllib.parse.quote(s) with safe='/'.
std::string quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    bool safe = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '_' || c == '.' ||
                c == '-' || c == '~' || c == '/';
    if (safe) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string_view url_path_of(std::string_view target) {
  return target.substr(0, std::min(target.find('?'), target.find('#')));
}

// Python: email.utils.parsedate_to_datetime for the IMF-fixdate of RFC 9110
// ("Sun, 06 Nov 1994 08:49:37 GMT"); nullopt if it is not one.
std::optional<std::int64_t> parse_http_date(std::string_view text) {
  std::string s(text);
  std::tm tm{};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<std::int64_t>(::timegm(&tm));
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

SimpleHTTPRequestHandler::SimpleHTTPRequestHandler(std::string dir) : directory(dir.empty() ? "." : std::move(dir)) {
  server_version = "SimpleHTTP/0.6";
}

std::string SimpleHTTPRequestHandler::translate_path(std::string_view url_path) const {
  std::string_view p = url_path_of(url_path);
  std::string_view stripped = p;
  while (!stripped.empty() && (stripped.back() == ' ' || stripped.back() == '\t')) stripped.remove_suffix(1);
  bool trailing_slash = !stripped.empty() && stripped.back() == '/';
  std::string decoded = unquote(p);
  // posixpath.normpath, then only plain names: ".." can never climb out of `directory`.
  std::vector<std::string_view> words;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view w = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (w.empty() || w == ".") continue;
    if (w == "..") {
      if (!words.empty()) words.pop_back();
      continue;
    }
    words.push_back(w);
  }
  std::string out = directory;
  for (std::string_view w : words) {
    out += '/';
    out += w;
  }
  if (trailing_slash) out += '/';
  return out;
}

std::string SimpleHTTPRequestHandler::guess_type(std::string_view file_path) const {
  std::size_t slash = file_path.rfind('/');
  std::size_t dot = file_path.rfind('.');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    std::string_view ext = file_path.substr(dot);
    for (const auto& t : kTypes)
      if (t.ext == ext) return std::string(t.type);
    std::string low(ext);
    for (char& c : low)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    for (const auto& t : kTypes)
      if (t.ext == low) return std::string(t.type);
  }
  return "application/octet-stream";
}

void SimpleHTTPRequestHandler::do_GET() {
  mpx::detail::Fd file(send_head());
  if (!file) return;
  auto buf = std::make_unique<char[]>(64 * 1024);
  for (;;) {
    ssize_t n = mpx::detail::sys::read(file.get(), buf.get(), 64 * 1024);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) mpx::detail::throw_os_error("read");
    if (n == 0) break;
    wfile.write(std::string_view(buf.get(), static_cast<std::size_t>(n)));
  }
}

void SimpleHTTPRequestHandler::do_HEAD() { mpx::detail::Fd file(send_head()); }

int SimpleHTTPRequestHandler::send_head() {
  std::string file_path = translate_path(path);
  if (file_path.find('\0') != std::string::npos) {
    send_error(404, "File not found");
    return -1;
  }
  if (is_dir(file_path)) {
    std::string_view url = url_path_of(path);
    if (url.empty() || url.back() != '/') {
      // Python: redirect browser - doing basically what apache does
      std::string location = std::string(url) + "/" + std::string(path.substr(url.size()));
      send_response(301);
      send_header("Location", location);
      send_header("Content-Length", "0");
      end_headers();
      return -1;
    }
    bool found = false;
    for (const auto& index : index_pages) {
      std::string candidate = file_path + (file_path.back() == '/' ? "" : "/") + index;
      if (exists(candidate)) {
        file_path = candidate;
        found = true;
        break;
      }
    }
    if (!found) {
      if (list_directories)
        list_directory(file_path);
      else
        send_error(404, "File not found");
      return -1;
    }
  }
  // Python: check for trailing "/" which should return 404. See Issue17324.
  if (!file_path.empty() && file_path.back() == '/') {
    send_error(404, "File not found");
    return -1;
  }
  mpx::detail::Fd file;
  struct stat st {};
  try {
    file = mpx::detail::Fd::open(file_path.c_str(), O_RDONLY | O_NONBLOCK);
  } catch (const OSError&) {
    send_error(404, "File not found");
    return -1;
  }
  if (::fstat(file.get(), &st) != 0) mpx::detail::throw_os_error("fstat");
  // A FIFO or a device under the directory would block or never end (Python opens it anyway).
  if (!S_ISREG(st.st_mode)) {
    send_error(404, "File not found");
    return -1;
  }
  // Python: a browser's cached copy is still good (If-None-Match, an ETag check, takes precedence).
  if (auto ims = headers.get("If-Modified-Since"); ims && !headers.get("If-None-Match")) {
    if (auto since = parse_http_date(*ims); since && static_cast<std::int64_t>(st.st_mtime) <= *since) {
      send_response(304);
      end_headers();
      return -1;
    }
  }
  send_response(200);
  send_header("Content-type", guess_type(file_path));
  send_header("Content-Length", std::to_string(st.st_size));
  send_header("Last-Modified", date_time_string(static_cast<std::int64_t>(st.st_mtime)));
  end_headers();
  return file.release();
}

bool SimpleHTTPRequestHandler::list_directory(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    send_error(404, "No permission to list directory");
    return false;
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) mpx::detail::throw_os_error("readdir");
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      auto lx = (x >= 'A' && x <= 'Z') ? x - 'A' + 'a' : x;
      auto ly = (y >= 'A' && y <= 'Z') ? y - 'A' + 'a' : y;
      return lx < ly;
    });
  });
  std::string display;
  detail::append_html_escaped(display, unquote(url_path_of(path)));
  std::string title = "Directory listing for " + display;
  std::string body = "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + title +
                     "</title>\n</head>\n<body>\n<h1>" + title + "</h1>\n<hr>\n<ul>\n";
  for (const auto& name : names) {
    std::string full = dir + (dir.back() == '/' ? "" : "/") + name;
    std::string displayname = name, linkname = name;
    struct stat lst {};
    if (is_dir(full)) {
      displayname += "/";
      linkname += "/";
    }
    if (::lstat(full.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) displayname += "@";
    body += "<li><a href=\"" + quote(linkname) + "\">";
    detail::append_html_escaped(body, displayname);
    body += "</a></li>\n";
  }
  body += "</ul>\n<hr>\n</body>\n</html>\n";
  send_response(200);
  send_header("Content-type", "text/html; charset=utf-8");
  send_header("Content-Length", std::to_string(body.size()));
  end_headers();
  if (command != "HEAD") wfile.write(body);
  return true;
}

}  // namespace mpx::http
