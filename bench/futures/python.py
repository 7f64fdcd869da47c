"""futures.thread.* in Python: concurrent.futures.ThreadPoolExecutor(2);
futures.process.* with ProcessPoolExecutor(2) (fork context), measured the same way.

futures.thread.submit   N submit(f, i) of a trivial task (i * i), then
                        result() of each in order; tasks/s
futures.thread.rt       submit(f, i).result() one at a time; µs per round trip
"""
import os
import sys
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402


def square(i):
    return i * i


def tasks_per_s(ex, n):
    submit = ex.submit
    t0 = pybench.now()
    futs = [submit(square, i) for i in range(n)]
    total = sum(f.result() for f in futs)
    s = pybench.now() - t0
    if total != sum(i * i for i in range(n)):
        pybench.fail("wrong results")
    return n / s


def us_round_trip(ex, n):
    submit = ex.submit
    t0 = pybench.now()
    total = 0
    for i in range(n):
        total += submit(square, i).result()
    s = pybench.now() - t0
    if total != sum(i * i for i in range(n)):
        pybench.fail("wrong results")
    return s / n * 1e6


def run_process(args):
    if not (args.wants("futures.process.submit") or args.wants("futures.process.rt")):
        return
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
        list(ex.map(square, range(200)))  # starts both workers
        name = "futures.process.submit"
        if args.wants(name):
            n = args.count(name, 20000)
            pybench.emit(name, "tasks/s", pybench.repeat(args.reps, lambda: tasks_per_s(ex, n // 10 + 1),
                                                         lambda: tasks_per_s(ex, n)))
        name = "futures.process.rt"
        if args.wants(name):
            n = args.count(name, 3000)
            pybench.emit(name, "us", pybench.repeat(args.reps, lambda: us_round_trip(ex, n // 10 + 1),
                                                    lambda: us_round_trip(ex, n)))


def main():
    args = pybench.Args()
    run_process(args)
    if not (args.wants("futures.thread.submit") or args.wants("futures.thread.rt")):
        return
    with ThreadPoolExecutor(2) as ex:
        name = "futures.thread.submit"
        if args.wants(name):
            n = args.count(name, 20000)
            pybench.emit(name, "tasks/s", pybench.repeat(args.reps, lambda: tasks_per_s(ex, n // 10 + 1),
                                                         lambda: tasks_per_s(ex, n)))
        name = "futures.thread.rt"
        if args.wants(name):
            n = args.count(name, 5000)
            pybench.emit(name, "us", pybench.repeat(args.reps, lambda: us_round_trip(ex, n // 10 + 1),
                                                    lambda: us_round_trip(ex, n)))


if __name__ == "__main__":
    main()
