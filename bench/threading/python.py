"""threading.* in Python (BASELINES.md A6).

threading.lock.uncontended     threading.Lock acquire()+release(), ns
threading.condition.pingpong   two threads pass a turn with one threading.Condition
                               (wait_for a predicate, then notify), µs per round trip
"""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402


def ns_uncontended(lock, n):
    acquire, release = lock.acquire, lock.release
    t0 = pybench.now()
    for _ in range(n):
        acquire()
        release()
    return (pybench.now() - t0) / n * 1e9


def us_pingpong(n):
    cond = threading.Condition()
    turn = [0]

    def play(parity):
        for _ in range(n):
            with cond:
                cond.wait_for(lambda: turn[0] % 2 == parity)
                turn[0] += 1
                cond.notify()

    other = threading.Thread(target=play, args=(1,))
    other.start()
    t0 = pybench.now()
    play(0)
    us = (pybench.now() - t0) / n * 1e6
    other.join()
    return us


def main():
    args = pybench.Args()
    name = "threading.lock.uncontended"
    if args.wants(name):
        n = args.count(name, 2000000)
        lock = threading.Lock()
        pybench.emit(name, "ns", pybench.repeat(args.reps, lambda: ns_uncontended(lock, n // 10 + 1),
                                                lambda: ns_uncontended(lock, n)))
    name = "threading.condition.pingpong"
    if args.wants(name):
        n = args.count(name, 20000)
        pybench.emit(name, "us", pybench.repeat(args.reps, lambda: us_pingpong(n // 10 + 1),
                                                lambda: us_pingpong(n)))


if __name__ == "__main__":
    main()
