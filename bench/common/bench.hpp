// bench/common/bench.hpp — what every C++ benchmark program shares: the clock,
// the command line, the median, and the one-JSON-line-per-figure output that
// bench/run reads. Used by the mpx and the limit programs alike, so it must
// not include anything from mpx.
//
//   int main(int argc, char** argv) {
//     bench::Args args(argc, argv);                     // prog [--reps R] [NAME=N ...] [--KEY VALUE ...]
//     if (args.wants("pipe.duplex.64B")) {
//       long n = args.count("pipe.duplex.64B", 200000);
//       bench::emit("pipe.duplex.64B", "msg/s", bench::repeat(args.reps(), [&] { return n / seconds(n); }));
//     }
//   }
//
// Output, one line per figure:
//   {"name": "pipe.duplex.64B", "unit": "msg/s", "value": <median>, "samples": [...]}
#pragma once

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process (and the
/// one Python's time.monotonic_ns reads), so stamps compare across contenders.
inline long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

inline double seconds_since(long long t0_ns) { return static_cast<double>(now_ns() - t0_ns) / 1e9; }

/// Prints `what` with errno's text and exits 1: a benchmark that cannot do its
/// work must fail loudly, never print a figure.
[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

/// Waits for a child and exits 1 unless it exited with status 0.
inline void wait_ok(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) die("waitpid");
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail("child " + std::to_string(pid) + " failed, status " + std::to_string(st));
}

/// Keeps the compiler from proving a buffer's contents unused (and the copy
/// that filled it dead) without emitting any instruction.
inline void clobber(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

/// The command line shared by every program: `--reps R`, figures to run as
/// NAME=N (N = operations per repetition), and `--KEY VALUE` options.
/// No figure named means every figure at its default count.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) == 0) {
        if (i + 1 >= argc) fail("option " + a + " needs a value");
        options_[a.substr(2)] = argv[++i];
      } else if (auto eq = a.find('='); eq != std::string::npos) {
        counts_[a.substr(0, eq)] = parse_long(a.substr(eq + 1), a);
      } else {
        fail("unexpected argument " + a + " (usage: [--reps R] [NAME=N ...] [--KEY VALUE ...])");
      }
    }
    reps_ = static_cast<int>(option("reps", 5));
    if (reps_ < 1) fail("--reps must be at least 1");
  }

  int reps() const { return reps_; }
  bool wants(const std::string& name) const { return counts_.empty() || counts_.count(name) != 0; }
  long count(const std::string& name, long dflt) const {
    auto it = counts_.find(name);
    return it == counts_.end() ? dflt : it->second;
  }
  long option(const std::string& key, long dflt) const {
    auto it = options_.find(key);
    return it == options_.end() ? dflt : parse_long(it->second, "--" + key);
  }
  std::string text_option(const std::string& key, const std::string& dflt) const {
    auto it = options_.find(key);
    return it == options_.end() ? dflt : it->second;
  }

 private:
  static long parse_long(const std::string& s, const std::string& where) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 10);
    if (errno != 0 || end == s.c_str() || *end != '\0' || v < 1) fail("bad number in " + where);
    return v;
  }

  int reps_ = 5;
  std::map<std::string, long> counts_;
  std::map<std::string, std::string> options_;
};

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2.0;
}

/// One warm-up call (its result dropped: first-touch page faults, lazy
/// binding and cold caches belong to no repetition), then `reps` measured ones.
inline std::vector<double> repeat(int reps, const std::function<double()>& warmup,
                                  const std::function<double()>& once) {
  warmup();
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(reps));
  for (int r = 0; r < reps; ++r) samples.push_back(once());
  return samples;
}

/// Prints the figure's JSON line; `extra` is appended verbatim as more
/// members (e.g. "\"bytes\": 32") for bench/run to read.
inline void emit(const std::string& name, const std::string& unit, const std::vector<double>& samples,
                 const std::string& extra = "") {
  std::printf("{\"name\": \"%s\", \"unit\": \"%s\", \"value\": %.6g, \"samples\": [", name.c_str(), unit.c_str(),
              median(samples));
  for (std::size_t i = 0; i < samples.size(); ++i) std::printf("%s%.6g", i ? ", " : "", samples[i]);
  std::printf("]%s%s}\n", extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

}  // namespace bench
