// 12_event_traffic_light: a light process turns an Event on and off; car processes wait for green.
//
// Seed lesson: Event事件 (an event: one process sets a flag, others wait for
// it). The Python original, a traffic light:
//
//   from multiprocessing import Process, Event
//   import time, random
//
//   def car(e, n):
//       while True:
//           if not e.is_set():                  # the flag is clear: red
//               print('红灯亮, car%s 等着' % n)  # red light, car n waits
//               e.wait()                        # blocks until someone calls e.set()
//               print('车%s 看见绿灯亮了' % n)   # car n sees green
//               ...
//           print('车开远了, car', n)           # drove off
//           break
//
//   def traffic_lights(e, interval):
//       while True:
//           time.sleep(interval)
//           if e.is_set(): e.clear()            # green -> red
//           else: e.set()                       # red -> green
//
//   if __name__ == '__main__':
//       e = Event()
//       t = Process(target=traffic_lights, args=(e, 5))
//       for i in range(10): Process(target=car, args=(e, i)).start()
//       t.start()
//
// Here the light changes every 100 ms instead of 5 s, three times, and stays
// green at the end so every car gets through (the seed's light never stops).
// Which car meets which colour depends on the scheduler: the cars write to
// stderr. The light is one process writing in its own order, and main prints
// its count only after joining everyone, so stdout is the same on every run.
// The sleeps set the pace of the story; no result depends on them.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

using namespace std::chrono_literals;

namespace {

constexpr int kCars = 6;
constexpr int kChanges = 3;  // red -> green -> red -> green

void traffic_light(mpx::Event e) {
  for (int i = 0; i < kChanges; ++i) {
    std::this_thread::sleep_for(100ms);
    if (e.is_set()) {
      e.clear();
      std::printf("light: red\n");
    } else {
      std::printf("light: green\n");  // printed before set(): no car line can come out ahead of it
      e.set();
    }
  }
}

void car(mpx::Event e, int n, mpx::Value<int> crossed) {
  std::this_thread::sleep_for(n * 50ms);  // the cars arrive one after another
  if (!e.is_set()) {
    std::fprintf(stderr, "car%d: red light, waits\n", n);
    e.wait();
    std::fprintf(stderr, "car%d: sees green, goes\n", n);
  } else {
    std::fprintf(stderr, "car%d: green light, drives through\n", n);
  }
  std::scoped_lock hold(crossed.get_lock());
  crossed = crossed.value() + 1;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line leaves its process when printed

  mpx::Event e;  // starts clear
  mpx::Value<int> crossed(0);
  std::printf("light: red (e.is_set() = %s)\n", e.is_set() ? "true" : "false");

  mpx::Process light({.name = "light"}, traffic_light, e);
  std::vector<mpx::Process> cars;
  for (int n = 1; n <= kCars; ++n) cars.emplace_back(car, e, n, crossed);
  light.start();
  for (auto& c : cars) c.start();
  for (auto& c : cars) c.join();
  light.join();

  std::printf("%d cars crossed, each once e.is_set() or e.wait() said green\n", crossed.value());
  return crossed.value() == kCars ? 0 : 1;
}
