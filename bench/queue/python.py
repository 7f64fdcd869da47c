"""queue.* in Python: multiprocessing's fork context (BASELINES.md A2).
Every party passes a Barrier, then waits for a go Event set once the clock
has started; the clock stops at the
last consumer's last item (each consumer sends its CLOCK_MONOTONIC stamp).

queue.1to1.64B / 4KiB / 1MiB   bytes of that size, Queue(), 1 producer -> 1 consumer
queue.2to2.64B                 2 producers -> 2 consumers
queue.joinable.64B             JoinableQueue: task_done() per item, the producer ends with join()
"""
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402

ctx = mp.get_context("fork")

# name: (unit, size, producers, consumers, joinable, default count)
FIGURES = {
    "queue.1to1.64B": ("items/s", 64, 1, 1, False, 200000),
    "queue.1to1.4KiB": ("MB/s", 4096, 1, 1, False, 100000),
    "queue.1to1.1MiB": ("MB/s", 1 << 20, 1, 1, False, 500),
    "queue.2to2.64B": ("items/s", 64, 2, 2, False, 200000),
    "queue.joinable.64B": ("items/s", 64, 1, 1, True, 100000),
}


def producer(q, n, size, barrier, go, joinable):
    payload = b"x" * size
    barrier.wait()
    go.wait()
    put = q.put
    for _ in range(n):
        put(payload)
    if joinable:
        q.join()


def consumer(q, n, size, barrier, go, report, joinable):
    barrier.wait()
    go.wait()
    get = q.get
    done = q.task_done if joinable else None
    for _ in range(n):
        if len(get()) != size:
            pybench.fail("wrong item size")
        if done:
            done()
    report.send(pybench.now())


def seconds(n, size, producers, consumers, joinable):
    q = ctx.JoinableQueue() if joinable else ctx.Queue()
    barrier = ctx.Barrier(producers + consumers + 1)
    go = ctx.Event()
    reports, procs = [], []
    for _ in range(consumers):
        r, w = ctx.Pipe(duplex=False)
        reports.append(r)
        procs.append(ctx.Process(target=consumer, args=(q, n // consumers, size, barrier, go, w, joinable)))
    for _ in range(producers):
        procs.append(ctx.Process(target=producer, args=(q, n // producers, size, barrier, go, joinable)))
    for p in procs:
        p.start()
    barrier.wait()
    t0 = pybench.now()
    go.set()
    t1 = max(r.recv() for r in reports)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            pybench.fail(f"child exit code {p.exitcode}")
    q.close()
    q.join_thread()
    return t1 - t0


def main():
    args = pybench.Args()
    for name, (unit, size, producers, consumers, joinable, default_n) in FIGURES.items():
        if not args.wants(name):
            continue
        n = args.count(name, default_n)
        k = producers * consumers

        def rate(count):
            count = count // k * k
            s = seconds(count, size, producers, consumers, joinable)
            return count * size / s / 1e6 if unit == "MB/s" else count / s
        pybench.emit(name, unit, pybench.repeat(args.reps, lambda: rate(n // 10 + 4), lambda: rate(n)))


if __name__ == "__main__":
    main()
