// 03_join_and_order: join() waits for a child; the order children run in is not ours to choose.
//
// Seed lessons: 多进程的执行顺序 (the order of processes) and obj.join().
// The Python original:
//
//   def task(name, n):
//       print('%s is running' % name)
//       time.sleep(n)
//       print('%s is done' % name)
//
//   if __name__ == '__main__':
//       p1 = Process(target=task, args=('p1', 3))
//       p2 = Process(target=task, args=('p2', 2))
//       p3 = Process(target=task, args=('p3', 1))
//       p1.start(); p2.start(); p3.start()   # all three run at the same time
//       p1.join(); p2.join(); p3.join()      # ~3 s in all, not 6: join waits
//       print('主')                          #   for one child, the others go on
//
//       for p in (Process(target=task, args=('p%d' % i, 1)) for i in (1, 2, 3)):
//           p.start(); p.join()              # serial: one after the other
//
// Once started, children run in whatever order the OS picks, so their own
// prints interleave differently each run. Part 1 therefore lets only main
// print, from what each child sent it through a Pipe; part 2 joins each child
// before starting the next, so its children may print themselves.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

void part1_concurrent() {
  std::printf("-- part 1: start all three, then join them --\n");
  const std::vector<std::string> names = {"p1", "p2", "p3"};
  std::vector<mpx::Connection> ends;  // main's end of each child's pipe
  std::vector<mpx::Process> procs;
  for (const auto& name : names) {
    auto [mine, theirs] = mpx::Pipe();
    // A target must be copyable and a Connection is not: the lambda shares it.
    mpx::Process p({.name = name}, [name, conn = std::make_shared<mpx::Connection>(std::move(theirs))] {
      conn->send(name + " is running");
      conn->recv<std::string>();  // blocks until main says "go"
      conn->send(name + " is done");
    });
    p.start();
    procs.push_back(p);
    ends.push_back(std::move(mine));
  }

  // Every child has said "running" before any of them was told to finish:
  // the three are alive at the same moment.
  for (auto& end : ends) std::printf("main: received \"%s\"\n", end.recv<std::string>().c_str());

  // join(timeout) gives up while the child still runs: p1 cannot finish
  // before it hears from us.
  bool finished = procs[0].join(std::chrono::milliseconds(50));
  std::printf("main: join(50ms) on %s returned %s: it is still waiting for us\n", procs[0].name().c_str(),
              finished ? "true" : "false");

  // Let them finish in reverse order; main still joins p1 first. join() only
  // waits for the one child it is called on.
  for (auto it = ends.rbegin(); it != ends.rend(); ++it) it->send(std::string("go"));
  for (std::size_t i = 0; i < procs.size(); ++i) {
    std::string last = ends[i].recv<std::string>();
    procs[i].join();
    std::printf("main: joined %s (exitcode %d); it said \"%s\"\n", procs[i].name().c_str(),
                procs[i].exitcode().value_or(-1), last.c_str());
  }
}

void task(const std::string& name) {
  std::printf("%s is running\n", name.c_str());
  std::printf("%s is done\n", name.c_str());
}

void part2_serial() {
  std::printf("-- part 2: start and join one at a time --\n");
  for (const char* name : {"p1", "p2", "p3"}) {
    mpx::Process p({.name = name}, task, std::string(name));
    p.start();
    p.join();  // the next child starts only after this one has exited
    std::printf("main: joined %s (exitcode %d)\n", name, p.exitcode().value_or(-1));
  }
}

}  // namespace

int main() {
  // Line-buffered: in part 2 the children's lines and main's must come out in
  // the order they are printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  part1_concurrent();
  part2_serial();
  std::printf("主 (main) ends\n");
  return mpx::active_children().empty() ? 0 : 1;
}
