"""net.echo.*.aio in Python: asyncio's Protocol and streams echo servers.

net.echo.1conn.aio, net.echo.50conns.aio         an asyncio.Protocol echo server
net.echo.50conns.aio_streams                     asyncio.start_server, read(4096)/write/drain
*.io_uring                                       the same servers (asyncio has no io_uring loop)

The server's loop runs in a thread of this process; the main thread only
waits for the load client (bench_net_load_client, as for every contender).
"""
import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pynet  # noqa: E402

FIGURES = [("net.echo.1conn.aio", 1, 20000), ("net.echo.50conns.aio", 50, 50000),
           ("net.echo.50conns.aio_streams", 50, 50000), ("net.echo.50conns.aio.io_uring", 50, 50000),
           ("net.echo.50conns.aio_streams.io_uring", 50, 50000)]


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def stream_echo(reader, writer):
    while True:
        data = await reader.read(4096)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


def serve(name, state, ready):
    async def main():
        loop = asyncio.get_running_loop()
        if "aio_streams" in name:
            server = await asyncio.start_server(stream_echo, "127.0.0.1", 0)
        else:
            server = await loop.create_server(Echo, "127.0.0.1", 0)
        state["port"] = server.sockets[0].getsockname()[1]
        state["loop"] = loop
        state["stop"] = loop.create_future()
        ready.set()
        await state["stop"]
        server.close()
    asyncio.run(main())


def start(name):
    state, ready = {}, threading.Event()
    server = threading.Thread(target=serve, args=(name, state, ready))
    server.start()
    ready.wait()

    def stop():
        state["loop"].call_soon_threadsafe(state["stop"].set_result, None)
        server.join()
    return state["port"], stop


if __name__ == "__main__":
    pynet.run_echo_figures(FIGURES, start)
