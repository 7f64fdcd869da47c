"""http.hello.c50 and http.hello.c50.p99 in Python: http.server's
ThreadingHTTPServer answering every GET with "hello", tuned as a Python user
tunes it for keep-alive (the baseline's "tuned" server, BASELINES.md A10):
protocol_version "HTTP/1.1", a buffered wfile (wbufsize) so that headers and
body leave in one write (unbuffered, Nagle and the client's delayed ACK stall
each response ~40 ms), logging off, a listen backlog of 128 (the default 5
drops connections under 50 clients).

serve_forever runs in a thread of this process; the main thread only waits
for wrk (2 threads, 50 connections, 127.0.0.1).
"""
import http.server
import io
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pynet  # noqa: E402


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = io.DEFAULT_BUFFER_SIZE  # StreamRequestHandler flushes it after each request

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # wrk resets its connections when its time is up: not worth a traceback each.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start():
    return pynet.start_socketserver(Server(("127.0.0.1", 0), Hello))


if __name__ == "__main__":
    pynet.run_http_figures(start)
