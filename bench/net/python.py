"""net.* in Python: the selectors echo server of the selectors documentation.

net.echo.50conns.select   50 connections, 64-byte round trips, rt/s
net.echo.1conn.select     1 connection, 64-byte round trips, rt/s

The server (DefaultSelector = epoll, one thread) runs in a thread of this
process; the main thread only waits for the load client
(bench_net_load_client, the same program every contender is measured with),
so the GIL is the server's.
"""
import os
import selectors
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pynet  # noqa: E402

FIGURES = [("net.echo.50conns.select", 50, 50000), ("net.echo.1conn.select", 1, 20000)]


def serve(lsock, stop_r):
    sel = selectors.DefaultSelector()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "accept")
    sel.register(stop_r, selectors.EVENT_READ, "stop")
    while True:
        for key, mask in sel.select():
            if key.data == "stop":
                for k in list(sel.get_map().values()):
                    if k.data == "conn":
                        k.fileobj.close()
                sel.close()
                return
            if key.data == "accept":
                conn, _ = lsock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            data = conn.recv(4096)
            if data:
                conn.sendall(data)
            else:
                sel.unregister(conn)
                conn.close()


def start(name):
    lsock = socket.create_server(("127.0.0.1", 0))
    stop_r, stop_w = socket.socketpair()
    server = threading.Thread(target=serve, args=(lsock, stop_r))
    server.start()

    def stop():
        stop_w.send(b"x")
        server.join()
        for s in (lsock, stop_r, stop_w):
            s.close()
    return lsock.getsockname()[1], stop


if __name__ == "__main__":
    pynet.run_echo_figures(FIGURES, start)
