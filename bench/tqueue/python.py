"""queue.threads.64B in Python: queue.Queue() between two threads.

One producer thread puts N items into an unbounded queue.Queue, the main
thread gets them; items/s from the go signal to the last item gotten. The
item is one 64-byte bytes object put N times (Python passes references, so
its size costs nothing; building N of them would measure bytes(), not the queue).
"""
import os
import queue
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402


def rate(n):
    q = queue.Queue()
    item = bytes(64)
    go = threading.Event()

    def produce():
        go.wait()
        put = q.put
        for _ in range(n):
            put(item)

    producer = threading.Thread(target=produce)
    producer.start()
    get = q.get
    t0 = pybench.now()
    go.set()
    for _ in range(n):
        get()
    s = pybench.now() - t0
    producer.join()
    return n / s


def main():
    args = pybench.Args()
    name = "queue.threads.64B"
    if args.wants(name):
        n = args.count(name, 500000)
        pybench.emit(name, "items/s", pybench.repeat(args.reps, lambda: rate(n // 10 + 1), lambda: rate(n)))


if __name__ == "__main__":
    main()
