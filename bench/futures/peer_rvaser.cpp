// futures.thread.* peer: Debian's libthread-pool-dev (rvaser/thread_pool):
// thread_pool::ThreadPool(2), Submit() returning a std::future — PEERS.md's
// program (baseline/peers/pools.cpp, rvaser_pool2_futures_tput).
#include <thread_pool/thread_pool.hpp>

#include <future>

#include "drive.hpp"

int main(int argc, char** argv) {
  thread_pool::ThreadPool pool(2);
  return futbench::run(
      argc, argv, [&](long i) { return pool.Submit([i] { return i * i; }); },
      [](std::future<long>& f) { return f.get(); });
}
