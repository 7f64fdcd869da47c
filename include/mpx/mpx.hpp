// mpx/mpx.hpp — everything mpx offers, in one include.
//
//   #include <mpx/mpx.hpp>
//   int main() {
//     auto [a, b] = mpx::Pipe();
//     mpx::Process p([&] { b.send(std::string("hi")); });
//     p.start();
//     std::puts(a.recv<std::string>().c_str());
//     p.join();
//   }
#pragma once

#include "mpx/aio.hpp"
#include "mpx/codec.hpp"
#include "mpx/connection.hpp"
#include "mpx/context.hpp"
#include "mpx/errors.hpp"
#include "mpx/futures.hpp"
#include "mpx/http.hpp"
#include "mpx/net/selectors.hpp"
#include "mpx/net/socket.hpp"
#include "mpx/pool.hpp"
#include "mpx/process.hpp"
#include "mpx/queue.hpp"
#include "mpx/queues.hpp"
#include "mpx/shared_memory.hpp"
#include "mpx/sharedctypes.hpp"
#include "mpx/socketserver.hpp"
#include "mpx/synchronize.hpp"
#include "mpx/threading.hpp"
