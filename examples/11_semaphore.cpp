// 11_semaphore: a Semaphore(3) lets at most three of eight processes into the toilet at once.
//
// Seed lesson: 互斥锁与信号量 — Semaphore信号量 (a lock lets one in; a
// semaphore lets n in: a public toilet with n pits). The Python original:
//
//   from multiprocessing import Process, Semaphore
//   import time, random
//
//   def go_wc(sem, user):
//       sem.acquire()
//       print('%s 占到一个茅坑' % user)        # got a pit
//       time.sleep(random.randint(0, 3))
//       sem.release()
//
//   if __name__ == '__main__':
//       sem = Semaphore(5)
//       p_l = []
//       for i in range(13):
//           p = Process(target=go_wc, args=(sem, 'user%s' % i))
//           p.start()
//           p_l.append(p)
//       for p in p_l:
//           p.join()
//       print('============》')
//
// Who gets in first changes from run to run, so those lines go to stderr. What
// does not change goes to stdout: every user gets in, and there are never more
// than three inside. The users count themselves in a shared Value as they go
// in and out, and remember the largest count seen. The first three wait inside
// until the room is full (an Event), so the largest count is exactly 3 on
// every run, however the processes are scheduled. The sleep only makes the
// queue at the door visible. Without the Semaphore, the count could reach 8.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kPits = 3;
constexpr int kUsers = 8;

}  // namespace

int main() {
  // Everything below is made before the users start, so all of them share it.
  mpx::Semaphore sem(kPits);
  mpx::RLock room;                  // one lock for the three counters below
  mpx::Value<int> inside(0, room);  // users in the toilet now
  mpx::Value<int> most(0, room);    // the largest `inside` ever seen
  mpx::Value<int> went(0, room);    // users who have been in
  mpx::Event full;                  // set when the first kPits are all inside

  std::vector<mpx::Process> users;
  for (int i = 0; i < kUsers; ++i) {
    users.emplace_back([&, i] {
      std::scoped_lock pit(sem);  // with sem: — acquire() here, release() at the closing brace
      {
        std::scoped_lock hold(room);
        inside = inside.value() + 1;
        most = std::max(most.value(), inside.value());
        went = went.value() + 1;
        std::fprintf(stderr, "user%d got a pit (%d inside)\n", i, inside.value());
        if (inside.value() == kPits) full.set();
      }
      full.wait();  // the first kPits keep the room full until all of them are in
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // time.sleep(...): the others queue up
      std::scoped_lock hold(room);
      inside = inside.value() - 1;  // out, before the pit is released
    });
  }
  for (auto& u : users) u.start();
  for (auto& u : users) u.join();

  std::printf("Semaphore(%d), %d users: %d went, at most %d inside at once\n", kPits, kUsers, went.value(),
              most.value());
  std::printf("after the last one left: %d inside, get_value() = %u\n", inside.value(), sem.get_value());

  // A plain Semaphore lets a release() without an acquire() raise its count;
  // a BoundedSemaphore refuses, which catches a release too many.
  mpx::BoundedSemaphore bounded(kPits);
  try {
    bounded.release();
  } catch (const mpx::ValueError& e) {
    std::printf("BoundedSemaphore(%d).release() with nobody inside: ValueError: %s\n", kPits, e.what());
  }
  return went.value() == kUsers && most.value() == kPits ? 0 : 1;
}
