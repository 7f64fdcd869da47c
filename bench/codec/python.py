"""codec.roundtrip.small in Python: pickle.dumps + pickle.loads of a tuple
(int, float, 12-character str), the work Connection.send/recv does on top of
the transfer (multiprocessing pickles with the default protocol). A tuple is
the cheapest equivalent of the C++ struct; a class instance costs more."""
import os
import pickle
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402

NAME = "codec.roundtrip.small"


def objects_per_second(n):
    dumps, loads = pickle.dumps, pickle.loads
    check = 0
    t0 = pybench.now()
    for i in range(n):
        back = loads(dumps((i, 101.25, "ACME-INDUSTR")))
        check += back[0]
    s = pybench.now() - t0
    if check != n * (n - 1) // 2:
        pybench.fail("unpickled objects differ from the pickled ones")
    return n / s


def main():
    args = pybench.Args()
    if args.wants(NAME):
        n = args.count(NAME, 1000000)
        samples = pybench.repeat(args.reps, lambda: objects_per_second(n // 10 + 1),
                                 lambda: objects_per_second(n))
        pybench.emit(NAME, "objects/s", samples,
                     bytes=len(pickle.dumps((1, 101.25, "ACME-INDUSTR"))))


if __name__ == "__main__":
    main()
