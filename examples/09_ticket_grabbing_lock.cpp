// 09_ticket_grabbing_lock: buyers in several processes share a ticket count in a file; a Lock keeps it right.
//
// Seed lesson: 互斥锁 — 模拟抢票 (a mutex: ticket grabbing). The Python original:
//
//   def search(): print('剩余票数: %s' % json.load(open('db.txt'))['count'])
//   def get():
//       dic = json.load(open('db.txt'))
//       time.sleep(0.1)                        # network delay
//       if dic['count'] > 0:
//           dic['count'] -= 1
//           time.sleep(0.2)
//           json.dump(dic, open('db.txt', 'w'))
//           print('购票成功')
//   def task(lock):
//       search()
//       lock.acquire(); get(); lock.release()  # without the lock: everyone "buys" the last ticket
//
//   if __name__ == '__main__':
//       lock = Lock()
//       for i in range(10): Process(target=task, args=(lock,)).start()
//
// First the race: every buyer reads the count, waits, and writes it back with
// no lock, so more buyers are told "bought" than there were tickets (how many
// varies from run to run, so that part goes to stderr). Then the same with an
// mpx::Lock held around read-check-write: exactly as many buyers succeed as
// there were tickets, every time (stdout, checked against the golden file).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

constexpr int kTickets = 3;
constexpr int kBuyers = 8;

int read_count(const std::string& db) {
  int count = -1;
  if (std::FILE* f = std::fopen(db.c_str(), "r")) {
    if (std::fscanf(f, "%d", &count) != 1) count = -1;
    std::fclose(f);
  }
  return count;
}

void write_count(const std::string& db, int count) {
  if (std::FILE* f = std::fopen(db.c_str(), "w")) {
    std::fprintf(f, "%d\n", count);
    std::fclose(f);
  }
}

// The seed's get(): read, "network delay", check, write. Returns whether this
// buyer was told it bought a ticket.
bool get(const std::string& db) {
  int count = read_count(db);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the delay that makes the race visible
  if (count <= 0) return false;
  write_count(db, count - 1);
  return true;
}

// Starts kBuyers processes running `buy` and counts the successes they report.
template <class Buy>
int run_buyers(Buy buy) {
  auto [results, report] = mpx::Pipe(false);
  std::vector<mpx::Process> buyers;
  for (int i = 0; i < kBuyers; ++i) buyers.emplace_back([&, buy] { report.send(buy() ? 1 : 0); });
  for (auto& b : buyers) b.start();
  int bought = 0;
  for (int i = 0; i < kBuyers; ++i) bought += results.recv<int>();
  for (auto& b : buyers) b.join();
  return bought;
}

}  // namespace

int main() {
  char path[] = "/tmp/mpx-tickets-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return 1;
  ::close(fd);
  const std::string db = path;

  write_count(db, kTickets);
  int raced = run_buyers([&] { return get(db); });
  std::fprintf(stderr, "without a lock: %d buyers were told they bought one of %d tickets\n", raced, kTickets);

  write_count(db, kTickets);
  mpx::Lock lock;  // made before the buyers start: every child shares it
  int locked = run_buyers([&] {
    std::scoped_lock hold(lock);  // lock.acquire(); get(); lock.release()
    return get(db);
  });
  int left = read_count(db);
  std::printf("with a Lock: %d buyers, %d tickets, %d sold, %d left in the file\n", kBuyers, kTickets, locked, left);
  ::unlink(path);
  return locked == kTickets && left == 0 ? 0 : 1;
}
