"""pipe.* in Python: a forked child sends n messages with Connection.send_bytes,
the parent receives them with recv_bytes (or recv_bytes_into a reused
bytearray for the .into figure); throughput = n / (time from the go byte to
the last message received). Pipe(duplex=True) is a socketpair,
Pipe(duplex=False) an os.pipe (BASELINES.md A3)."""
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402

ctx = mp.get_context("fork")

# name: (duplex, message size, receive into a reused buffer, default count)
FIGURES = {
    "pipe.duplex.64B": (True, 64, False, 200000),
    "pipe.duplex.1MiB": (True, 1 << 20, False, 500),
    "pipe.duplex.1MiB.into": (True, 1 << 20, True, 500),
    "pipe.simplex.64B": (False, 64, False, 200000),
}


def sender(conn, go_r, n, size):
    payload = b"x" * size
    os.read(go_r, 1)  # start-up stays outside the timing
    send = conn.send_bytes
    for _ in range(n):
        send(payload)


def stream_seconds(duplex, size, n, into):
    a, b = ctx.Pipe(duplex=duplex)  # simplex: a reads, b writes
    go_r, go_w = os.pipe()
    p = ctx.Process(target=sender, args=(b, go_r, n, size))
    p.start()
    b.close()
    os.close(go_r)
    buf = bytearray(size)
    t0 = pybench.now()
    os.write(go_w, b"g")
    if into:
        recv_into = a.recv_bytes_into
        for _ in range(n):
            if recv_into(buf) != size:
                pybench.fail("short message")
    else:
        recv = a.recv_bytes
        for _ in range(n):
            if len(recv()) != size:
                pybench.fail("short message")
    s = pybench.now() - t0
    p.join()
    os.close(go_w)
    a.close()
    if p.exitcode != 0:
        pybench.fail(f"sender exit code {p.exitcode}")
    return s


def main():
    args = pybench.Args()
    for name, (duplex, size, into, default_n) in FIGURES.items():
        if not args.wants(name):
            continue
        n = args.count(name, default_n)

        def rate(count):
            return count / stream_seconds(duplex, size, count, into)

        samples = pybench.repeat(args.reps, lambda: rate(n // 10 + 1), lambda: rate(n))
        if size >= 4096:
            pybench.emit(name, "MB/s", [s * size / 1e6 for s in samples])
        else:
            pybench.emit(name, "msg/s", samples)


if __name__ == "__main__":
    main()
