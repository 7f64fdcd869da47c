"""process.start_join.fork / .spawn / .forkserver in Python: multiprocessing's
fork, spawn and forkserver contexts, Process(target=noop).start(); join(), n
in a row, milliseconds per process (BASELINES.md A1, mp_process_fork /
_spawn). The forkserver is started in the warm-up run."""
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import pybench  # noqa: E402

METHODS = ("fork", "spawn", "forkserver")


def noop():
    pass


def ms_per_process(ctx, n):
    t0 = pybench.now()
    for _ in range(n):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            pybench.fail(f"child exit code {p.exitcode}")
    return (pybench.now() - t0) / n * 1e3


def main():
    args = pybench.Args()
    for method in METHODS:
        name = f"process.start_join.{method}"
        if not args.wants(name):
            continue
        # Named explicitly: the default start method is not fork everywhere (3.14 moved to forkserver).
        ctx = mp.get_context(method)
        n = args.count(name, 200)
        samples = pybench.repeat(args.reps, lambda: ms_per_process(ctx, n // 10 + 1),
                                 lambda: ms_per_process(ctx, n))
        pybench.emit(name, "ms", samples)


if __name__ == "__main__":
    main()
