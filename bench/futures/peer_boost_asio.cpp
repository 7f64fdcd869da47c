// futures.thread.* peer: boost::asio::thread_pool(2) with a std::packaged_task
// and std::future per task, posted with boost::asio::post — PEERS.md's program
// (baseline/peers/pools.cpp, asio_pool2_futures_tput).
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <future>
#include <memory>

#include "drive.hpp"

int main(int argc, char** argv) {
  boost::asio::thread_pool pool(2);
  int rc = futbench::run(
      argc, argv,
      [&](long i) {
        auto task = std::make_shared<std::packaged_task<long()>>([i] { return i * i; });
        auto f = task->get_future();
        boost::asio::post(pool, [task] { (*task)(); });
        return f;
      },
      [](std::future<long>& f) { return f.get(); });
  pool.join();
  return rc;
}
