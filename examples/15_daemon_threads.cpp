// 15_daemon_threads: exit joins the non-daemon threads and does not wait for the daemon ones.
//
// Seed lesson: 守护线程 (daemon threads). The Python original:
//
//   from threading import Thread
//   import time
//
//   def foo():
//       print(123); time.sleep(1); print('end123')
//   def bar():
//       print(456); time.sleep(3); print('end456')
//
//   if __name__ == '__main__':
//       t1 = Thread(target=foo)
//       t2 = Thread(target=bar)
//       t1.daemon = True
//       t1.start(); t2.start()
//       print('main-------')
//
// Python prints 123, 456, main-------, end123, end456: at exit the main
// thread waits for every non-daemon thread (bar), and the daemon (foo) runs
// on until then, long enough to finish its 1 s. A daemon *process* (04) is
// terminated as soon as main's code ends; a daemon thread lives until the
// last non-daemon thread has ended, then the process exits under it.
//
// Here foo waits for an Event nobody sets, so it never ends: "end123" is
// never printed, and the program still exits. Events instead of sleeps put
// the lines in one order on every run: bar looks at foo after main has
// printed its last line, and finds it still alive.
#include <cstdio>

#include <mpx/mpx.hpp>

namespace th = mpx::threading;

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  th::Event foo_started, bar_started, main_done;
  th::Event never;  // never set: foo waits for it forever

  // The threads hold copies of the Event handles, not references to main's
  // locals: the daemon is still waiting after main's stack is gone.
  th::Thread t1({.name = "foo", .daemon = true}, [foo_started, never]() mutable {
    std::printf("123\n");
    foo_started.set();
    never.wait();
    std::printf("end123\n");  // never printed
  });
  th::Thread t2({.name = "bar"}, [t1, bar_started, main_done]() mutable {
    std::printf("456\n");
    bar_started.set();
    main_done.wait();
    std::printf("bar: main is done; the daemon %s is still alive: %s\n", t1.name().c_str(),
                t1.is_alive() ? "true" : "false");
    std::printf("end456\n");
  });

  t1.start();
  foo_started.wait();
  t2.start();
  bar_started.wait();

  std::printf("t1.daemon() = %s, t2.daemon() = %s\n", t1.daemon() ? "true" : "false", t2.daemon() ? "true" : "false");
  try {
    t2.set_daemon(true);
  } catch (const mpx::RuntimeError& e) {
    std::printf("t2.set_daemon(true) after start(): RuntimeError: %s\n", e.what());
  }
  std::printf("main-------\n");
  main_done.set();
  // Returning runs exit: it joins bar (so "end456" comes out), not foo.
  return 0;
}
