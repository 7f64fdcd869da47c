// 20_start_methods: one program under each start method: what a fork child inherits and a spawn or forkserver child
// does not.
//
// Python's multiprocessing can start a child in more than one way, and the
// same program behaves differently under each:
//
//   import multiprocessing as mp
//   greeting = 'set when the program starts'
//
//   def child(counter, mailbox):
//       print('child sees greeting =', greeting)
//       with counter.get_lock():
//           counter.value += 1
//       mailbox.put('hello from ' + mp.current_process().name)
//
//   if __name__ == '__main__':
//       greeting = 'changed by main()'
//       for method in mp.get_all_start_methods():
//           ctx = mp.get_context(method)
//           counter, mailbox = ctx.Value('i', 0), ctx.Queue()
//           p = ctx.Process(target=child, args=(counter, mailbox))
//           p.start(); p.join()
//
// fork: the child is a copy of the parent, so it sees what main() changed,
// and any callable runs (a lambda with captures too). spawn: the child is a
// fresh run of the program (Python's `if __name__ == "__main__":` is
// mpx::init(argc, argv) here, first thing in main()): main() never ran there,
// so the global has its initial value, and only what travels as arguments
// reaches the child — a function, values that can be encoded, and shared
// objects, which are the parent's own. forkserver: the child is forked by a
// server process that is itself a fresh run of the program (started by the
// first forkserver start, or by mpx::init if forkserver is already the
// default), so it sees what a spawn child sees and takes what travels the
// same way, at the cost of a fork instead of an exec. Python makes shared
// objects per context (a fork context's Value refuses a spawned child);
// mpx's belong to no context, so here one Value and one Queue serve the
// children of every method.
//
// Usage: 20_start_methods [METHOD...]   (default: each of get_all_start_methods())
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <mpx/mpx.hpp>

namespace {

std::string g_greeting = "set when the program starts";  // main() changes it

// The child's work. To travel to a fresh program it is a plain function, and
// its arguments are shared objects.
void child(mpx::Value<int> counter, mpx::Queue<std::string> mailbox) {
  const std::string me = mpx::current_process().name();
  std::printf("  %s: g_greeting is \"%s\"\n", me.c_str(), g_greeting.c_str());
  int before = 0;
  {
    std::scoped_lock hold(counter.get_lock());  // with counter.get_lock(): counter.value += 1
    before = counter.value();
    counter = before + 1;
  }
  std::printf("  %s: counter %d -> %d\n", me.c_str(), before, before + 1);
  mailbox.put("hello from " + me);
}

void run_under(const mpx::Context& ctx, mpx::Value<int> counter, mpx::Queue<std::string> mailbox) {
  std::printf("== %s ==\n", ctx.get_start_method().c_str());

  auto p = ctx.Process(child, counter, mailbox);
  p.start();
  p.join();
  std::printf("  main: %s exited with %d; counter is %d; the mailbox says \"%s\"\n", p.name().c_str(),
              p.exitcode().value_or(-1), counter.value(), mailbox.get().c_str());

  // A lambda with captures carries state that lives in the parent's memory.
  int code = 5;
  try {
    auto q = ctx.Process([code] { mpx::exit(code); });
    q.start();
    q.join();
    std::printf("  a lambda with captures: ran, exit code %d\n", q.exitcode().value_or(-1));
  } catch (const mpx::ProcessError&) {
    std::printf("  a lambda with captures: refused (ProcessError): it cannot travel to a fresh program\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  mpx::init(argc, argv);  // first: in a spawned child, this runs child(...) and exits; the forkserver serves here
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  std::vector<std::string> methods(argv + 1, argv + argc);
  if (methods.empty()) methods = mpx::get_all_start_methods();
  std::vector<mpx::Context> contexts;
  for (const auto& method : methods) {
    try {
      contexts.push_back(mpx::get_context(method));  // mp.get_context(method)
    } catch (const mpx::ValueError& e) {             // an unknown method
      std::fprintf(stderr, "20_start_methods: %s\n", e.what());
      return 2;
    }
  }

  g_greeting = "changed by main()";
  std::printf("main: g_greeting is \"%s\"\n", g_greeting.c_str());
  mpx::Value<int> counter(0);  // made after mpx::init, shared with every child
  mpx::Queue<std::string> mailbox;

  for (const auto& ctx : contexts) run_under(ctx, counter, mailbox);
  return 0;
}
