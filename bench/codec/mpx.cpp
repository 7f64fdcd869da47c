// codec.roundtrip.small with mpx: encode + decode of a small struct (an int, a
// double and a 12-character string) with mpx::encode / mpx::decode, the work
// every send<T>/recv<T> does on top of the transfer. Objects per second.
//
// Python pickles and unpickles an equivalent tuple (python.py); the limit
// copies the same number of bytes into a buffer and back (limit.cpp), so the
// encoded size is printed as "bytes" for bench/run to hand to the limit.
#include <mpx/codec.hpp>

#include <string>
#include <vector>

#include "bench.hpp"

namespace {

struct Quote {
  int id = 0;
  double price = 0;
  std::string symbol;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, price, symbol);
  }
};

double objects_per_second(long n) {
  Quote q{7, 101.25, "ACME-INDUSTR"};
  long long check = 0;
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    q.id = static_cast<int>(i);  // a different object each time: nothing to hoist out of the loop
    std::vector<std::byte> bytes = mpx::encode(q);
    Quote back = mpx::decode<Quote>(bytes);
    check += back.id + static_cast<long long>(back.symbol.size());
  }
  double s = bench::seconds_since(t0);
  long long expect = static_cast<long long>(n) * (n - 1) / 2 + 12LL * n;
  if (check != expect) bench::fail("decoded objects differ from the encoded ones");
  return static_cast<double>(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const char* name = "codec.roundtrip.small";
  if (args.wants(name)) {
    long n = args.count(name, 5000000);
    auto samples = bench::repeat(
        args.reps(), [&] { return objects_per_second(n / 10 + 1); }, [&] { return objects_per_second(n); });
    std::size_t bytes = mpx::encode(Quote{1, 1.0, "ACME-INDUSTR"}).size();
    bench::emit(name, "objects/s", samples, "\"bytes\": " + std::to_string(bytes));
  }
  return 0;
}
