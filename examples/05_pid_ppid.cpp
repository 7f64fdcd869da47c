// 05_pid_ppid: every process has a pid and a parent pid; Process objects have names.
//
// Seed lesson: 进程对象的常用属性 (obj.pid, obj.name) and
// "我是主程序我的pid:%s 我的父进程是:%s" % (os.getpid(), os.getppid()).
// The Python original:
//
//   import os
//   from multiprocessing import Process, current_process, parent_process
//
//   def task():
//       me = current_process()
//       print('%s: pid %s, ppid %s, parent %s' % (me.name, os.getpid(),
//             os.getppid(), parent_process().pid))
//       p = Process(target=lambda: None)     # a grandchild: Process-1:1
//       p.start(); p.join()
//
//   if __name__ == '__main__':
//       print('我是主程序我的pid:%s 我的父进程是:%s' % (os.getpid(), os.getppid()))
//       obj = Process(target=task)
//       obj.start()
//       print('我有一个儿子是 %s' % obj.pid)
//       obj.join()
//
// pids differ on every run, so this example has no golden output; instead it
// checks the relations it prints (a child's ppid is its parent's pid, obj.pid
// is the child's own getpid()) and exits 1 if one does not hold.
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include <mpx/mpx.hpp>

namespace {

bool g_ok = true;

void check(bool cond, const char* what) {
  if (!cond) {
    std::printf("MISMATCH: %s\n", what);
    g_ok = false;
  }
}

void start_child(int levels);

// What each child does: say who it is and who its parent is, then start the
// next level. `conn` is its end of the pipe to the process that started it.
void task(mpx::Connection& conn, int levels) {
  conn.recv<std::string>();  // printing waits for the creator's line, so lines come in order
  auto& me = mpx::current_process();
  auto parent = mpx::parent_process();
  std::printf("%s: pid %d (os.getpid()), ppid %d (os.getppid()); parent_process() is %s, pid %d\n", me.name().c_str(),
              me.pid(), ::getppid(), parent->name().c_str(), parent->pid());
  check(me.pid() == ::getpid(), "current_process().pid() == getpid()");
  check(parent->pid() == ::getppid(), "parent_process()->pid() == getppid()");
  conn.send(::getpid());
  if (levels > 1) start_child(levels - 1);
  if (!g_ok) mpx::exit(1);
}

// Starts a child that goes `levels` deep, and checks what it reports against obj.pid.
void start_child(int levels) {
  auto [mine, theirs] = mpx::Pipe();
  mpx::Process p(task, std::ref(theirs), levels);
  p.start();
  std::printf("%s: started %s, obj.pid = %d\n", mpx::current_process().name().c_str(), p.name().c_str(), p.pid());
  mine.send(std::string("go"));
  int reported = mine.recv<int>();
  check(reported == p.pid(), "obj.pid == the child's own getpid()");
  p.join();
  check(p.exitcode() == 0, "the child exited with 0");
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto& me = mpx::current_process();
  std::printf("%s: pid %d (os.getpid()), ppid %d (os.getppid(): whoever started us); parent_process() is %s\n",
              me.name().c_str(), me.pid(), ::getppid(), mpx::parent_process() ? "set" : "none");
  check(!mpx::parent_process().has_value(), "the main process has no parent_process()");
  // Two levels: the child Process-1 starts the grandchild Process-1:1.
  start_child(2);
  std::printf("%s: %s\n", me.name().c_str(), g_ok ? "every pid relation holds" : "some pid relation failed");
  return g_ok ? 0 : 1;
}
