// bench/http/limit.cpp -> bench_http_limit: the limit of the http figures is
// nginx (Debian's package), 2 worker processes, `return 200 "hello"`, access
// log off, keep-alive: the baseline's configuration (BASELINES.md B7). Each
// figure starts its own nginx under a temporary prefix, on 127.0.0.1 and a
// port picked free, and stops it afterwards. nginx is --nginx PATH (bench/run
// passes it), else `nginx` in PATH or /usr/sbin/nginx.
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "drive.hpp"

namespace {

namespace fs = std::filesystem;

/// A port the kernel just handed out on 127.0.0.1 and is free again.
std::uint16_t pick_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) bench::die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) bench::die("bind");
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) bench::die("getsockname");
  close(fd);
  return ntohs(addr.sin_port);
}

std::string find_nginx(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    for (std::size_t at = 0; at <= p.size();) {
      std::size_t end = p.find(':', at);
      if (end == std::string::npos) end = p.size();
      fs::path cand = fs::path(p.substr(at, end - at)) / "nginx";
      if (access(cand.c_str(), X_OK) == 0) return cand;
      at = end + 1;
    }
  }
  return "/usr/sbin/nginx";
}

/// nginx in the foreground (daemon off) under a temporary prefix.
class Nginx {
 public:
  explicit Nginx(const std::string& binary) {
    char tmpl[] = "/tmp/mpx-bench-nginx-XXXXXX";
    if (!mkdtemp(tmpl)) bench::die("mkdtemp");
    dir_ = tmpl;
    // Another program may take the picked port before nginx binds it: nginx
    // then exits, and the next attempt picks another port.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = pick_port();
      if (start(binary)) return;
    }
    bench::fail("nginx did not start; its log:\n" + slurp(dir_ / "error.log"));
  }
  ~Nginx() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);  // fast shutdown: the master stops its workers, then exits
      int st;
      while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::uint16_t port() const { return port_; }

 private:
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  bool start(const std::string& binary) {
    fs::path conf = dir_ / "nginx.conf", pidfile = dir_ / "nginx.pid";
    std::string d = dir_.string();
    std::ofstream(conf) << "worker_processes 2;\n"
                        << "pid " << d << "/nginx.pid;\n"
                        << "error_log " << d << "/error.log warn;\n"
                        << "events { worker_connections 4096; }\n"
                        << "http {\n"
                        << "  access_log off;\n"
                        << "  client_body_temp_path " << d << "/body;\n"
                        << "  proxy_temp_path " << d << "/proxy;\n"
                        << "  fastcgi_temp_path " << d << "/fastcgi;\n"
                        << "  uwsgi_temp_path " << d << "/uwsgi;\n"
                        << "  scgi_temp_path " << d << "/scgi;\n"
                        << "  server {\n"
                        << "    listen 127.0.0.1:" << port_ << ";\n"
                        << "    location / { return 200 \"hello\"; }\n"
                        << "  }\n"
                        << "}\n";
    std::string log = (dir_ / "error.log").string();
    const char* argv[] = {binary.c_str(), "-p",        d.c_str(), "-c",          conf.c_str(),
                          "-e",           log.c_str(), "-g",      "daemon off;", nullptr};
    // fork + exec rather than posix_spawn: nginx must die with this program
    // even when it is killed (PR_SET_PDEATHSIG), or it would hold its port.
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) bench::die("fork");
    if (pid_ == 0) {
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
      execv(binary.c_str(), const_cast<char**>(argv));
      _exit(127);
    }
    // nginx writes its pid file only after it has bound its listening socket;
    // if the port was taken it retries the bind for ~2 s and exits.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (fs::exists(pidfile) && fs::file_size(pidfile) > 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    bench::fail("nginx did not start within 10 s; its log:\n" + slurp(dir_ / "error.log"));
  }

  fs::path dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string nginx = find_nginx(bench::Args(argc, argv).text_option("nginx", ""));
  return httpbench::drive(argc, argv, [&](int stop_fd, std::promise<std::uint16_t>& port) {
    Nginx server(nginx);
    port.set_value(server.port());
    char c;
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR) {
    }
  });
}
