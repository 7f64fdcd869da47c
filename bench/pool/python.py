"""pool.* in Python: multiprocessing.Pool(2), fork context, the task x * x
(baseline/py/mp_pool_futures.py's method).

pool.map.chunksize1   pool.map(square, range(n), chunksize=1); tasks/s
pool.map.default      pool.map(square, range(n)): default chunking
                      (len / (4 * 2) rounded up); tasks/s
pool.apply_async.rt   pool.apply_async(square, (i,)).get() one at a time; us
"""
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402


def square(x):
    return x * x


def map_tasks_per_s(pool, n, chunksize):
    t0 = pybench.now()
    out = pool.map(square, range(n), chunksize=chunksize)
    s = pybench.now() - t0
    if len(out) != n or out[-1] != (n - 1) ** 2:
        pybench.fail("map: wrong results")
    return n / s


def apply_us(pool, n):
    t0 = pybench.now()
    total = 0
    for i in range(n):
        total += pool.apply_async(square, (i,)).get()
    s = pybench.now() - t0
    if total != sum(i * i for i in range(n)):
        pybench.fail("apply_async: wrong results")
    return s / n * 1e6


def main():
    args = pybench.Args()
    with mp.get_context("fork").Pool(2) as pool:
        name = "pool.map.chunksize1"
        if args.wants(name):
            n = args.count(name, 100000)
            pybench.emit(name, "tasks/s", pybench.repeat(args.reps, lambda: map_tasks_per_s(pool, n // 10 + 1, 1),
                                                         lambda: map_tasks_per_s(pool, n, 1)))
        name = "pool.map.default"
        if args.wants(name):
            n = args.count(name, 100000)
            pybench.emit(name, "tasks/s", pybench.repeat(args.reps, lambda: map_tasks_per_s(pool, n, None),
                                                         lambda: map_tasks_per_s(pool, n, None)))
        name = "pool.apply_async.rt"
        if args.wants(name):
            n = args.count(name, 3000)
            pybench.emit(name, "us", pybench.repeat(args.reps, lambda: apply_us(pool, n // 10 + 1),
                                                    lambda: apply_us(pool, n)))


if __name__ == "__main__":
    main()
