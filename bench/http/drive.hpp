// bench/http/drive.hpp — the HTTP figures and their driver: a server answers
// every GET with the 5-byte body "hello" over keep-alive, and wrk loads it
// from 127.0.0.1 with 2 threads and 50 connections for a bounded time.
//
//   http.hello.c50        requests per second (wrk's Requests/sec)
//   http.hello.c50.p99    99th percentile latency in µs (wrk --latency)
//
// The count of a figure is wrk's duration in seconds (-dNs); one wrk run
// gives both figures. A contender's server runs in a thread of its process
// (the limit's starts nginx); `serve(stop_fd, port_promise)` serves until
// stop_fd is readable. wrk is --wrk PATH (bench/run passes it), else `wrk`.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "bench.hpp"
#include "capture.hpp"
#include "server_thread.hpp"

namespace httpbench {

struct Result {
  double requests_per_s = 0;
  double p99_us = 0;
};

/// wrk's latency text ("812.00us", "1.53ms", "2.01s") in µs; <0 if unreadable.
inline double to_us(const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  std::string unit(end);
  if (end == v.c_str()) return -1;
  if (unit == "us") return x;
  if (unit == "ms") return x * 1e3;
  if (unit == "s") return x * 1e6;
  if (unit == "m") return x * 60e6;
  return -1;
}

/// The text after `key` up to the end of its line (trimmed), or "".
inline std::string field(const std::string& text, const std::string& key) {
  auto at = text.find(key);
  if (at == std::string::npos) return "";
  auto begin = text.find_first_not_of(" \t", at + key.size());
  auto end = text.find('\n', at + key.size());
  if (begin == std::string::npos || begin >= end) return "";
  std::string v = text.substr(begin, end - begin);
  return v.substr(0, v.find_last_not_of(" \t\r") + 1);
}

/// One wrk run against 127.0.0.1:port; exits 1 if wrk saw a non-2xx answer or
/// a failed connect (a broken server must not get a figure).
inline Result run_wrk(const std::string& wrk, std::uint16_t port, long seconds) {
  std::string text = bench::capture({wrk, "-t2", "-c50", "-d" + std::to_string(seconds) + "s", "--latency",
                                     "http://127.0.0.1:" + std::to_string(port) + "/"});
  if (text.find("Non-2xx or 3xx responses") != std::string::npos) bench::fail("wrk saw errors:\n" + text);
  std::string errors = field(text, "Socket errors:");
  if (!errors.empty() && errors.rfind("connect 0,", 0) != 0) bench::fail("wrk could not connect:\n" + text);
  if (!errors.empty()) std::fprintf(stderr, "bench: wrk: socket errors: %s\n", errors.c_str());
  Result r;
  r.requests_per_s = std::strtod(field(text, "Requests/sec:").c_str(), nullptr);
  r.p99_us = to_us(field(text, "\n     99%"));
  if (!(r.requests_per_s > 0) || !(r.p99_us > 0)) bench::fail("cannot read wrk's output:\n" + text);
  return r;
}

/// Both figures come from the same runs: a fresh server, one warm-up wrk
/// run of a second, then --reps measured runs of the count in seconds (the
/// count of http.hello.c50, else of http.hello.c50.p99); both lines are
/// printed whichever figure is named (bench/run takes the p99 along).
template <class Serve>
int drive(int argc, char** argv, Serve serve) {
  bench::Args args(argc, argv);
  if (!args.wants("http.hello.c50") && !args.wants("http.hello.c50.p99")) return 0;
  long seconds = args.count("http.hello.c50", args.count("http.hello.c50.p99", 5));
  std::string wrk = args.text_option("wrk", "wrk");
  std::vector<Result> runs;
  {
    bench::ServerThread server(serve);
    run_wrk(wrk, server.port(), 1);  // warm-up
    for (int r = 0; r < args.reps(); ++r) runs.push_back(run_wrk(wrk, server.port(), seconds));
  }
  std::vector<double> rps, p99;
  for (const Result& r : runs) {
    rps.push_back(r.requests_per_s);
    p99.push_back(r.p99_us);
  }
  bench::emit("http.hello.c50", "req/s", rps);
  bench::emit("http.hello.c50.p99", "us", p99);
  return 0;
}

}  // namespace httpbench
