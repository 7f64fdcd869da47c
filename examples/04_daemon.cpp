// 04_daemon: a daemon child is terminated when main finishes; a non-daemon child is waited for.
//
// Seed lesson: 守护进程 (daemon processes). The Python original:
//
//   def foo():
//       print(123); time.sleep(1); print('end123')
//   def bar():
//       print(456); time.sleep(3); print('end456')
//
//   if __name__ == '__main__':
//       p1 = Process(target=foo)
//       p2 = Process(target=bar)
//       p1.daemon = True      # before start(); a daemon may not have children
//       p1.start(); p2.start()
//       print('main-------')  # main's code ends here: p1 is terminated at once,
//                             # p2 is joined, so 'end456' is always printed
//
// Python prints 123 or not depending on timing. Here the two children wait for
// each other and for main through pipes, so every run prints the same lines:
// the daemon runs "forever" and the non-daemon child watches it disappear
// when main returns, while main's exit handler still waits for the non-daemon.
#include <unistd.h>

#include <cstdio>
#include <string>

#include <mpx/mpx.hpp>

int main() {
  // Line-buffered: the three processes' lines must come out in the order printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  // The daemon holds the only write end of this pipe once main closes its
  // copy, so its read end reports EOF exactly when the daemon is gone.
  auto [daemon_gone, daemon_alive] = mpx::Pipe(false);

  mpx::Process daemon({.name = "daemon", .daemon = true}, [&] {
    try {
      mpx::Process([] {}).start();
    } catch (const mpx::AssertionError& e) {
      std::printf("daemon: cannot start a child: %s\n", e.what());
    }
    std::printf("daemon: running until main finishes\n");
    daemon_alive.send(std::string("ready"));
    for (;;) ::pause();  // a daemon's endless service loop
  });
  daemon.start();
  daemon_alive.close();
  daemon_gone.recv<std::string>();

  try {
    daemon.set_daemon(false);
  } catch (const mpx::AssertionError& e) {
    std::printf("main: set_daemon() after start(): %s\n", e.what());
  }

  auto [main_end, worker_end] = mpx::Pipe();
  mpx::Process worker({.name = "worker"}, [&] {
    std::printf("worker: started; waits until main has finished\n");
    worker_end.send(std::string("ready"));
    worker_end.recv<std::string>();
    try {
      daemon_gone.recv<std::string>();
    } catch (const mpx::EOFError&) {
      std::printf("worker: the daemon is gone: terminated when main finished\n");
    }
    // Not a daemon: main's exit handler is waiting for this process to end.
    std::printf("worker: main is still alive, waiting for me: %s\n",
                mpx::parent_process()->is_alive() ? "true" : "false");
  });
  worker.start();
  main_end.recv<std::string>();

  std::printf("main: daemon.daemon() = %s, worker.daemon() = %s\n", daemon.daemon() ? "true" : "false",
              worker.daemon() ? "true" : "false");
  std::printf("main-------: main() returns; at exit mpx terminates the daemon and joins the worker\n");
  main_end.send(std::string("main has finished"));
  return 0;
}
