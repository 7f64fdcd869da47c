// 06_zombie: a child that has exited stays a zombie (state Z) until its parent reaps it.
//
// Seed lesson: 僵尸进程 (zombie processes) — a child that finished is not
// cleared by the OS at once, so that its parent can still learn how it ended
// (its pid, its exit status); until the parent collects that, it is a zombie.
// The Python original:
//
//   import os, time
//   from multiprocessing import Process, active_children
//
//   def task():
//       pass
//
//   if __name__ == '__main__':
//       p = Process(target=task)
//       p.start()
//       time.sleep(1)                    # the child has exited by now...
//       os.system('ps -o pid,stat -p %d' % p.pid)   # ...and shows as Z
//       p.join()                         # reaps it: the zombie is gone
//       print(p.exitcode)
//
// Python also reaps finished children in active_children() and start(); mpx
// does the same, and so do is_alive() and exitcode(). That is why this example
// never calls those before looking at /proc: it learns that the child has
// exited from Process::sentinel() (a pidfd, readable once the child is dead),
// which only watches, and never sleeps to guess.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <mpx/mpx.hpp>

namespace {

// The state letter of /proc/<pid>/stat (R, S, Z...), or "gone" if there is no
// such process. The command name in parentheses may hold spaces, so the state
// is read after the last ')'.
std::string proc_state(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return "gone";
  std::istringstream rest(line.substr(line.rfind(')') + 1));
  std::string state;
  rest >> state;
  return state;
}

// Blocks until `p` has exited, without reaping it.
void wait_exited(const mpx::Process& p) { mpx::connection::wait({p.sentinel()}); }

}  // namespace

int main() {
  mpx::Process p([] {});
  p.start();
  const int pid = p.pid();
  wait_exited(p);
  std::printf("main: %s has exited (its sentinel is readable)\n", p.name().c_str());
  std::printf("main: /proc/<pid>/stat state: %s (a zombie: dead, its exit status kept for the parent)\n",
              proc_state(pid).c_str());
  p.join();
  std::printf("main: join() reaped it, exitcode %d\n", p.exitcode().value_or(-1));
  std::printf("main: /proc/<pid>/stat state: %s\n", proc_state(pid).c_str());

  // The same, reaped by active_children() instead of join().
  mpx::Process q([] { mpx::exit(7); });
  q.start();
  const int qpid = q.pid();
  wait_exited(q);
  std::printf("main: %s has exited; state: %s\n", q.name().c_str(), proc_state(qpid).c_str());
  std::printf("main: active_children() lists %zu live children, and reaps the dead ones on the way\n",
              mpx::active_children().size());
  std::printf("main: %s state: %s, exitcode %d\n", q.name().c_str(), proc_state(qpid).c_str(),
              q.exitcode().value_or(-1));

  bool ok = p.exitcode() == 0 && q.exitcode() == 7 && proc_state(pid) == "gone" && proc_state(qpid) == "gone";
  return ok ? 0 : 1;
}
