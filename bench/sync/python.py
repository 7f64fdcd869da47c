"""sync.* in Python: multiprocessing's fork context (BASELINES.md A5).

sync.lock.uncontended       mp.Lock acquire()+release(), one process, ns
sync.lock.contended.2proc   two processes acquire()+release() one mp.Lock, ops/s
sync.value.increment.2proc  two processes run `with v.get_lock(): v.value += 1`
                            on one mp.Value('l'), ops/s
sync.event.pingpong.2proc   two mp.Events, one per direction, µs per round trip
"""
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402

ctx = mp.get_context("fork")


def ns_uncontended(lock, n):
    acquire, release = lock.acquire, lock.release
    t0 = pybench.now()
    for _ in range(n):
        acquire()
        release()
    return (pybench.now() - t0) / n * 1e9


def lock_loop(lock, per):
    acquire, release = lock.acquire, lock.release
    for _ in range(per):
        acquire()
        release()


def increment_loop(v, per):
    for _ in range(per):
        with v.get_lock():
            v.value += 1


def child(go_r, done_w, body, args):
    os.read(go_r, 1)
    body(*args)
    os.write(done_w, b"d")


def two_process_rate(n, body, args):
    """Both processes run body(*args) with n/2 iterations, from a go byte to the child's done."""
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    p = ctx.Process(target=child, args=(go_r, done_w, body, args))
    p.start()
    t0 = pybench.now()
    os.write(go_w, b"g")
    body(*args)
    os.read(done_r, 1)
    s = pybench.now() - t0
    p.join()
    for fd in (go_r, go_w, done_r, done_w):
        os.close(fd)
    if p.exitcode != 0:
        pybench.fail(f"child exit code {p.exitcode}")
    return s


def pong(go_r, ping, pong_ev, n):
    os.read(go_r, 1)
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong_ev.set()


def us_pingpong(n):
    ping, pong_ev = ctx.Event(), ctx.Event()
    go_r, go_w = os.pipe()
    p = ctx.Process(target=pong, args=(go_r, ping, pong_ev, n))
    p.start()
    t0 = pybench.now()
    os.write(go_w, b"g")
    for _ in range(n):
        ping.set()
        pong_ev.wait()
        pong_ev.clear()
    us = (pybench.now() - t0) / n * 1e6
    p.join()
    os.close(go_r)
    os.close(go_w)
    if p.exitcode != 0:
        pybench.fail(f"child exit code {p.exitcode}")
    return us


def main():
    args = pybench.Args()
    name = "sync.lock.uncontended"
    if args.wants(name):
        n = args.count(name, 2000000)
        lock = ctx.Lock()
        pybench.emit(name, "ns", pybench.repeat(args.reps, lambda: ns_uncontended(lock, n // 10 + 1),
                                                lambda: ns_uncontended(lock, n)))
    name = "sync.lock.contended.2proc"
    if args.wants(name):
        n = args.count(name, 4000000)
        lock = ctx.Lock()

        def rate(count):
            per = count // 2
            return 2 * per / two_process_rate(count, lock_loop, (lock, per))
        pybench.emit(name, "ops/s", pybench.repeat(args.reps, lambda: rate(n // 10 + 2), lambda: rate(n)))
    name = "sync.value.increment.2proc"
    if args.wants(name):
        n = args.count(name, 2000000)
        v = ctx.Value("l", 0)

        def rate(count):
            per = count // 2
            v.value = 0
            r = 2 * per / two_process_rate(count, increment_loop, (v, per))
            if v.value != 2 * per:
                pybench.fail(f"lost increments: {v.value}")
            return r
        pybench.emit(name, "ops/s", pybench.repeat(args.reps, lambda: rate(n // 10 + 2), lambda: rate(n)))
    name = "sync.event.pingpong.2proc"
    if args.wants(name):
        n = args.count(name, 20000)
        pybench.emit(name, "us", pybench.repeat(args.reps, lambda: us_pingpong(n // 10 + 1),
                                                lambda: us_pingpong(n)))


if __name__ == "__main__":
    main()
