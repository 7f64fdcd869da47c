// queue.threads.64B with mpx: mpx::queue::Queue<Item>, put() and get() (item.hpp).
#include <mpx/queue.hpp>

#include "item.hpp"

namespace {

double rate(long n) {
  mpx::queue::Queue<tqueue::Item> q;
  return tqueue::one_to_one(
      n,
      [&](long count) {
        for (long i = 0; i < count; ++i) q.put(tqueue::make_item(i));
      },
      [&](long count) {
        long bad = 0;
        for (long i = 0; i < count; ++i) bad += q.get().seq != static_cast<std::uint64_t>(i);
        return bad;
      });
}

}  // namespace

int main(int argc, char** argv) { return tqueue::run(argc, argv, rate); }
