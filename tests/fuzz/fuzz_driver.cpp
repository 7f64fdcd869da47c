// A small standalone driver for the fuzz targets, so they run under gcc and
// ASan in `make test` (bounded) and `make fuzz` (longer) without clang's
// libFuzzer. It feeds each target its seed inputs, then random mutations of
// them: bit flips, byte overwrites with boundary values, truncations,
// insertions of large length prefixes, splices and plain random bytes.
//
//   codec_fuzz --iterations 100000 --seed 7
//
// The targets use libFuzzer's entry point, so the same files also build
// with -fsanitize=fuzzer for coverage-guided runs.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_u64(Bytes& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8 && at + i < b.size(); ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

Bytes mutate(Bytes b, const std::vector<Bytes>& seeds, std::mt19937_64& rng) {
  static const std::uint64_t kLengths[] = {0,
                                           1,
                                           0x7f,
                                           0x80,
                                           0xff,
                                           0xffff,
                                           0x7fffffff,
                                           0x80000000,
                                           0xffffffff,
                                           std::uint64_t(1) << 32,
                                           std::uint64_t(3) << 30,
                                           ~std::uint64_t(0)};
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!b.empty()) b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // overwrite a byte with a boundary value
        if (!b.empty()) b[rng() % b.size()] = static_cast<std::uint8_t>((rng() % 2) ? 0xff : (rng() % 3));
        break;
      case 2:  // truncate
        if (!b.empty()) b.resize(rng() % b.size());
        break;
      case 3:  // plant a large length prefix
        if (b.size() >= 8) put_u64(b, rng() % (b.size() - 7), kLengths[rng() % std::size(kLengths)]);
        break;
      case 4: {  // splice in part of another seed
        const Bytes& other = seeds[rng() % seeds.size()];
        if (!other.empty()) {
          std::size_t from = rng() % other.size();
          b.insert(b.begin() + static_cast<long>(b.empty() ? 0 : rng() % b.size()),
                   other.begin() + static_cast<long>(from), other.end());
        }
        break;
      }
      case 5:  // insert random bytes
        for (int i = static_cast<int>(rng() % 8); i > 0; --i)
          b.insert(b.begin() + static_cast<long>(b.empty() ? 0 : rng() % b.size()), static_cast<std::uint8_t>(rng()));
        break;
      default:  // start over from random bytes
        b.assign(rng() % 64, 0);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    }
  }
  if (b.size() > 1 << 16) b.resize(1 << 16);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 20000;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--iterations") {
      iterations = std::atol(argv[i + 1]);
    } else if (flag == "--seed") {
      seed = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--iterations N] [--seed S]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Bytes> seeds = mpx_fuzz_seeds();
  if (seeds.empty()) seeds.emplace_back();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
  std::mt19937_64 rng(seed);
  for (long i = 0; i < iterations; ++i) {
    Bytes input = mutate(seeds[rng() % seeds.size()], seeds, rng);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("%ld inputs, no crash\n", iterations + static_cast<long>(seeds.size()));
  return 0;
}
