// mpx/aio.hpp — Python's asyncio for C++20 coroutines (namespace mpx::aio).
//
//   #include <mpx/aio.hpp>
//   namespace aio = mpx::aio;
//
//   aio::Task<> handle(aio::StreamReader reader, aio::StreamWriter writer) {
//     while (true) {
//       auto line = co_await reader.readline();        // suspends; other clients run
//       if (line.empty()) break;                        // EOF
//       writer.write(line);
//       co_await writer.drain();                        // backpressure
//     }
//     writer.close();
//     co_await writer.wait_closed();
//   }
//   aio::Task<> main_() {
//     auto server = co_await aio::start_server(handle, "127.0.0.1", 8888);
//     co_await server.serve_forever();
//   }
//   int main() { aio::run(main_()); }
//
// The pieces, one header each (all included here):
//   aio/loop.hpp      EventLoop (epoll or io_uring backend), call_soon/_later/_threadsafe
//   aio/future.hpp    Future<T>, wrap_future (await a futures::Future from a thread or process pool)
//   aio/task.hpp      Task<T>, create_task, run, current_task, all_tasks
//   aio/tasks.hpp     sleep, gather, wait, shield, run_in_executor, to_thread
//   aio/timeouts.hpp  timeout, timeout_at, wait_for, TaskGroup, ExceptionGroup
//   aio/locks.hpp     Lock, Event, Condition, Semaphore, BoundedSemaphore
//   aio/queues.hpp    Queue, LifoQueue, PriorityQueue, QueueEmpty, QueueFull
//   aio/protocols.hpp Protocol, Transport, Server, create_server, create_connection
//   aio/streams.hpp   StreamReader, StreamWriter, open_connection, start_server (TCP and Unix)
//   aio/sockets.hpp   sock_recv, sock_recv_into, sock_sendall, sock_accept, sock_connect
//
// Where C++ differs: `async with` scopes are functions taking the body
// (timeout(1s, body), task_group(body)); coroutines start lazily and a
// created task is kept alive by its loop; kwargs are option structs.
#pragma once

#include "mpx/aio/future.hpp"
#include "mpx/aio/locks.hpp"
#include "mpx/aio/loop.hpp"
#include "mpx/aio/protocols.hpp"
#include "mpx/aio/queues.hpp"
#include "mpx/aio/sockets.hpp"
#include "mpx/aio/streams.hpp"
#include "mpx/aio/task.hpp"
#include "mpx/aio/tasks.hpp"
#include "mpx/aio/timeouts.hpp"
