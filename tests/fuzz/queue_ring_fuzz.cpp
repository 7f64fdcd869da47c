// Fuzz target: a process queue whose shared memory holds hostile bytes (a
// stray writer, or a peer that was never mpx). The input becomes the ring's
// records and the producers' position; get() must give items, Empty or
// DecodeError — never a crash, a hang, an out-of-bounds read or a huge
// allocation — and a put() afterwards must not write out of bounds either.
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "mpx/queues.hpp"

namespace {
constexpr std::size_t kRing = 4096;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mpx::Queue<std::vector<std::string>> q(0, {.ring_bytes = kRing, .max_message_size = 1 << 16});
  auto& ring = q.ring();
  // The first 16 bytes pick the producers' and consumers' positions, the
  // rest are the records.
  std::uint64_t pos[2] = {0, 0};
  std::size_t take = std::min<std::size_t>(size, sizeof pos);
  std::memcpy(pos, data, take);
  data += take;
  size -= take;
  std::memcpy(ring.shared_records_for_tests(), data, std::min(size, kRing));
  // Mostly plausible positions (aligned, head within a ring of tail), sometimes raw.
  std::uint64_t head = pos[0], tail = pos[1];
  if ((head & 1) == 0) {
    tail = (tail % (1u << 20)) & ~std::uint64_t{15};
    head = tail + ((head % (kRing + 1)) & ~std::uint64_t{15});
  }
  ring.tail_for_tests().store(tail);
  ring.head_for_tests().store(head);
  for (int i = 0; i < 64; ++i) {
    try {
      if (!q.try_get()) break;
    } catch (const mpx::DecodeError&) {
    }
  }
  try {
    q.put({std::string(100, 'x')}, std::chrono::milliseconds(0));
  } catch (const mpx::DecodeError&) {
  } catch (const mpx::queue::Full&) {
  }
  return 0;
}

namespace {
// A real ring's bytes: what put() leaves in shared memory.
std::vector<std::uint8_t> snapshot(mpx::detail::MessageRing& ring) {
  std::uint64_t pos[2] = {ring.head_for_tests().load(), ring.tail_for_tests().load()};
  std::vector<std::uint8_t> seed(sizeof pos + kRing);
  std::memcpy(seed.data(), pos, sizeof pos);
  std::memcpy(seed.data() + sizeof pos, ring.shared_records_for_tests(), kRing);
  return seed;
}
}  // namespace

std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds() {
  std::vector<std::vector<std::uint8_t>> seeds;
  for (std::size_t n : {1u, 3u, 40u}) {
    mpx::Queue<std::vector<std::string>> q(0, {.ring_bytes = kRing});
    for (std::size_t i = 0; i < n; ++i) q.put({std::string(i % 50, 'a'), "b"});
    seeds.push_back(snapshot(q.ring()));
  }
  // A message in fragments (larger than a quarter of the ring).
  mpx::Queue<std::vector<std::string>> q(0, {.ring_bytes = kRing});
  q.put({std::string(1500, 'f')});
  seeds.push_back(snapshot(q.ring()));
  return seeds;
}
