// 02_start_process_subclass: start a process by subclassing Process and overriding run().
//
// Seed lesson: 开启进程的两种方式 (two ways to start a process), way 2 —
// inherit from Process and put the task in run(). The Python original:
//
//   from multiprocessing import Process
//
//   class Work(Process):
//       def __init__(self, who):
//           super().__init__()
//           self.who = who
//           self.runs = 0
//       def run(self):
//           self.runs += 1
//           print('%s is running in %s' % (self.who, self.name))
//
//   if __name__ == '__main__':
//       obj = Work('egon')
//       obj.start()       # run() executes in the child, not here
//       obj.join()
//       print('主', obj.exitcode, obj.runs)   # runs is still 0 here
//
// The child is a copy of the parent (fork): it sees the members set by the
// constructor, but what it changes stays in its own memory. Exit codes come
// back: 0 when run() returns, n after mpx::exit(n) (sys.exit(n)).
#include <cstdio>
#include <string>
#include <utility>

#include <mpx/mpx.hpp>

class Work : public mpx::Process {
 public:
  explicit Work(std::string who) : who_(std::move(who)) {}

  void run() override {
    ++runs_;
    std::printf("%s is running in %s; runs_ is %d in the child\n", who_.c_str(), name().c_str(), runs_);
  }

  int runs() const { return runs_; }

 private:
  std::string who_;
  int runs_ = 0;
};

// A run() that leaves with an exit code, as sys.exit(3) would.
class Quitter : public mpx::Process {
 public:
  void run() override {
    std::printf("%s leaves with mpx::exit(3)\n", name().c_str());
    mpx::exit(3);
  }
};

int main() {
  Work egon("egon");
  egon.start();
  egon.join();
  std::printf("main: %s exited with %d; runs_ is still %d here: the child changed its own copy\n", egon.name().c_str(),
              egon.exitcode().value_or(-1), egon.runs());

  Quitter quitter;
  quitter.start();
  quitter.join();
  // Python names a process after its class and a counter shared by all the
  // Process objects this process made: Work-1, then Quitter-2.
  std::printf("main: %s exited with %d\n", quitter.name().c_str(), quitter.exitcode().value_or(-1));

  return egon.exitcode() == 0 && quitter.exitcode() == 3 ? 0 : 1;
}
