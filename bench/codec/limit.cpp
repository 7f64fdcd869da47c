// codec.roundtrip.small, the limit: the cheapest possible "encoding" of an
// object of `--bytes B` bytes (B = mpx's encoded size, passed by bench/run):
// memcpy into a buffer and memcpy back. No mpx here.
#include <cstring>
#include <vector>

#include "bench.hpp"

namespace {

double objects_per_second(long n, std::size_t size) {
  // Heap buffers the size of the encoding: a fixed-size stack copy would let
  // the compiler turn memcpy into a few register moves no real codec gets.
  std::vector<unsigned char> obj(size, 'x'), wire(size), back(size);
  long long t0 = bench::now_ns();
  for (long i = 0; i < n; ++i) {
    obj[0] = static_cast<unsigned char>(i);
    std::memcpy(wire.data(), obj.data(), size);
    bench::clobber(wire.data());
    std::memcpy(back.data(), wire.data(), size);
    bench::clobber(back.data());
  }
  double s = bench::seconds_since(t0);
  if (back[0] != static_cast<unsigned char>(n - 1)) bench::fail("copy lost");
  return static_cast<double>(n) / s;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  const char* name = "codec.roundtrip.small";
  auto size = static_cast<std::size_t>(args.option("bytes", 32));
  if (args.wants(name)) {
    long n = args.count(name, 5000000);
    auto samples = bench::repeat(
        args.reps(), [&] { return objects_per_second(n / 10 + 1, size); }, [&] { return objects_per_second(n, size); });
    bench::emit(name, "objects/s", samples, "\"bytes\": " + std::to_string(size));
  }
  return 0;
}
