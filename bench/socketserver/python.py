"""net.echo.50conns.{threading,forking,prefork} in Python: socketserver's echo
server as a Python user writes it, a BaseRequestHandler doing recv/sendall.

net.echo.50conns.threading   socketserver.ThreadingTCPServer (a thread per connection)
net.echo.50conns.forking     socketserver.ForkingTCPServer (a process per connection)
net.echo.50conns.prefork     Python has no prefork server: the ForkingTCPServer
                             figure again, the closest thing it offers

50 connections, 64-byte round trips, rt/s, measured with bench_net_load_client
like every echo server. serve_forever runs in a thread of this process; the
main thread only waits for the load client.
"""
import os
import socketserver
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pynet  # noqa: E402

FIGURES = [("net.echo.50conns.threading", 50, 50000), ("net.echo.50conns.forking", 50, 50000),
           ("net.echo.50conns.prefork", 50, 50000)]


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(4096)
            if not data:
                return
            self.request.sendall(data)


# The listen backlog Python gives (request_queue_size = 5) drops SYNs when
# 50 clients connect at once, each retried a second later: raised as a user
# would. (The figure itself is unaffected: the client's clock starts once
# every connection is up; only the run's wall time was.)
class ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 128


class ForkingServer(socketserver.ForkingTCPServer):
    # ForkingMixIn's default max_children is 40: with 50 persistent connections
    # process_request blocks in waitpid until a child exits, which none does
    # before its client is done: the run would stall. A user raises it.
    max_children = 256
    request_queue_size = 128


def start(name):
    cls = ThreadingServer if name.endswith(".threading") else ForkingServer
    return pynet.start_socketserver(cls(("127.0.0.1", 0), EchoHandler))


if __name__ == "__main__":
    pynet.run_echo_figures(FIGURES, start)
