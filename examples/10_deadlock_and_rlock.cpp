// 10_deadlock_and_rlock: two threads take two locks in opposite orders and deadlock; one RLock fixes it.
//
// Seed lesson: 死锁现象与递归锁 (deadlock, and the recursive lock). The Python original:
//
//   mutexA = Lock(); mutexB = Lock()
//   class MyThread(Thread):
//       def f1(self):
//           mutexA.acquire(); print('%s 拿到A锁' % self.name)
//           mutexB.acquire(); print('%s 拿到B锁' % self.name)
//           mutexB.release(); mutexA.release()
//       def f2(self):
//           mutexB.acquire(); print('%s 拿到B锁' % self.name)
//           time.sleep(0.1)
//           mutexA.acquire(); print('%s 拿到A锁' % self.name)   # blocks forever
//           mutexA.release(); mutexB.release()
//
//   # the fix: mutexA = mutexB = RLock() — one lock, re-entrant, with a counter
//
// The seed lets the program hang. Here the interleaving that deadlocks is
// forced with Events (no sleeps), and the second acquire uses a timeout, so
// the deadlock is seen and reported instead of hanging. Then the same two
// threads run with mutexA and mutexB being one RLock, and both finish.
#include <chrono>
#include <cstdio>

#include <mpx/mpx.hpp>

namespace th = mpx::threading;
using namespace std::chrono_literals;

namespace {

// The steps of one thread, and the Events it signals the other with.
struct Steps {
  th::Event took_first;  // holds its first lock
  th::Event tried;       // has tried for its second lock
};

// Each thread takes its first lock, waits until the other holds its own,
// tries for the second one, and keeps the first until the other has tried too.
template <class L>
bool take_both(L& first, L& second, const char* first_name, const char* second_name, Steps& mine, Steps& theirs) {
  first.acquire();
  std::printf("%s got %s\n", th::current_thread().name().c_str(), first_name);
  mine.took_first.set();
  theirs.took_first.wait();
  bool got = second.acquire(200ms);  // Python's acquire() would wait forever here
  if (got) {
    std::printf("%s got %s\n", th::current_thread().name().c_str(), second_name);
    second.release();
  }
  mine.tried.set();
  theirs.tried.wait();
  first.release();
  return got;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  {
    th::Lock mutex_a, mutex_b;
    Steps s1, s2;
    bool ok1 = false, ok2 = false;
    th::Thread t1(th::ThreadOptions{.name = "Thread-1"}, [&] { ok1 = take_both(mutex_a, mutex_b, "A", "B", s1, s2); });
    t1.start();
    s1.took_first.wait();  // Thread-1 holds A before Thread-2 starts: a fixed order of lines
    th::Thread t2(th::ThreadOptions{.name = "Thread-2"}, [&] { ok2 = take_both(mutex_b, mutex_a, "B", "A", s2, s1); });
    t2.start();
    t1.join();
    t2.join();
    std::printf("two Locks: %s\n",
                !ok1 && !ok2 ? "deadlock (each waited for the lock the other held)" : "no deadlock this time");
  }

  {
    th::RLock mutex;  // mutexA = mutexB = RLock()
    Steps free_run;   // one thread at a time here: nothing to wait for
    free_run.took_first.set();
    free_run.tried.set();
    th::Event first_done;
    bool ok1 = false, ok2 = false;
    th::Thread t1(th::ThreadOptions{.name = "Thread-1"}, [&] {
      Steps mine;
      ok1 = take_both(mutex, mutex, "A", "B", mine, free_run);  // re-enters: the count goes 1, 2
      first_done.set();
    });
    t1.start();
    first_done.wait();
    th::Thread t2(th::ThreadOptions{.name = "Thread-2"}, [&] {
      Steps mine;
      ok2 = take_both(mutex, mutex, "B", "A", mine, free_run);
    });
    t2.start();
    t1.join();
    t2.join();
    std::printf("one RLock: %s\n", ok1 && ok2 ? "both threads finished" : "still stuck");
    return ok1 && ok2 ? 0 : 1;
  }
}
