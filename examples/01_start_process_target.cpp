// 01_start_process_target: start a process with a target function and its arguments.
//
// Seed lesson: 开启进程的两种方式 (two ways to start a process), way 1 —
// instantiate Process and pass the task as target=, its arguments as args=.
// The Python original:
//
//   from multiprocessing import Process
//   import time
//
//   def task(name):
//       print('%s is running' % name)
//       time.sleep(0.2)
//       print('%s is done' % name)
//
//   if __name__ == '__main__':
//       for name in ('egon', 'alex', 'wupeiqi'):
//           p = Process(target=task, args=(name,))
//           p.start()           # asks the OS for a process; does not wait for it
//       print('主')             # main goes on at once
//
// The children run at the same time, so the order of their lines changes from
// run to run: this example has no golden output (03 shows how to get a fixed
// order). What does not change: start() returns at once, and main returning
// does not kill the children — like Python, mpx joins them at exit.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <mpx/mpx.hpp>

void task(const std::string& name) {
  std::printf("%s is running in %s\n", name.c_str(), mpx::current_process().name().c_str());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // stands for real work
  std::printf("%s is done\n", name.c_str());
}

int main() {
  // Line-buffered, so each line reaches the terminal (or pipe) when printed,
  // in the order the processes print them, not when each process exits.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  for (const char* name : {"egon", "alex", "wupeiqi"}) {
    mpx::Process p(task, std::string(name));  // Process(target=task, args=(name,))
    p.start();
  }
  std::printf("main: started 3 processes and returns without join()\n");
  // Returning runs the exit handler that joins every non-daemon child, as
  // Python's multiprocessing does at interpreter exit: the program ends after
  // the last "is done", and leaves no process behind.
  return 0;
}
