// queue.threads.64B, the peer moodycamel::BlockingConcurrentQueue (Debian
// libconcurrentqueue-dev): lock-free blocks per producer plus a counting
// semaphore that spins before it sleeps. Used as its README shows first:
// enqueue() and wait_dequeue(), no producer or consumer tokens (mpx has none).
// One producer, so its items come out in order.
#include <concurrentqueue/blockingconcurrentqueue.h>

#include "item.hpp"

namespace {

double rate(long n) {
  moodycamel::BlockingConcurrentQueue<tqueue::Item> q;
  return tqueue::one_to_one(
      n,
      [&](long count) {
        for (long i = 0; i < count; ++i) {
          if (!q.enqueue(tqueue::make_item(i))) bench::fail("enqueue: out of memory");
        }
      },
      [&](long count) {
        long bad = 0;
        tqueue::Item item;
        for (long i = 0; i < count; ++i) {
          q.wait_dequeue(item);
          bad += item.seq != static_cast<std::uint64_t>(i);
        }
        return bad;
      });
}

}  // namespace

int main(int argc, char** argv) { return tqueue::run(argc, argv, rate); }
