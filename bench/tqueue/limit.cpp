// queue.threads.64B, the limit: the textbook blocking queue — std::mutex,
// std::condition_variable and std::deque, notify_one after each put.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "item.hpp"

namespace {

class TextbookQueue {
 public:
  void put(const tqueue::Item& item) {
    {
      std::lock_guard<std::mutex> hold(mu_);
      items_.push_back(item);
    }
    not_empty_.notify_one();
  }
  tqueue::Item get() {
    std::unique_lock<std::mutex> hold(mu_);
    not_empty_.wait(hold, [&] { return !items_.empty(); });
    tqueue::Item item = items_.front();
    items_.pop_front();
    return item;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::deque<tqueue::Item> items_;
};

double rate(long n) {
  TextbookQueue q;
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
