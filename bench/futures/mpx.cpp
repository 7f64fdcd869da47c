// futures.thread.* with mpx: ThreadPoolExecutor(2), submit() and result() (drive.hpp).
#include <mpx/futures.hpp>

#include "drive.hpp"

int main(int argc, char** argv) {
  mpx::futures::ThreadPoolExecutor ex(2);
  return futbench::run(
      argc, argv, [&](long i) { return ex.submit([i] { return i * i; }); },
      [](const mpx::futures::Future<long>& f) { return f.result(); });
}
