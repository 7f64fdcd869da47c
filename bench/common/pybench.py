"""What every Python benchmark program shares: the clock, the command line,
the median and the one-JSON-line-per-figure output bench/run reads. The same
contract as bench/common/bench.hpp for the C++ programs:

    prog [--reps R] [NAME=N ...] [--KEY VALUE ...]
    {"name": "pipe.duplex.64B", "unit": "msg/s", "value": <median>, "samples": [...]}

A program imports it after putting bench/common on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    import pybench
"""
import json
import statistics
import sys
import time


def now():
    """CLOCK_MONOTONIC seconds, the clock the C++ programs read too."""
    return time.monotonic_ns() / 1e9


def fail(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


class Args:
    """--reps R, figures as NAME=N (operations per repetition), --KEY VALUE options.
    No figure named means every figure at its default count."""

    def __init__(self, argv=None):
        argv = sys.argv[1:] if argv is None else argv
        self.counts = {}
        self.options = {}
        i = 0
        while i < len(argv):
            a = argv[i]
            if a.startswith("--"):
                if i + 1 >= len(argv):
                    fail(f"option {a} needs a value")
                self.options[a[2:]] = argv[i + 1]
                i += 2
                continue
            name, eq, value = a.partition("=")
            if not eq:
                fail(f"unexpected argument {a} (usage: [--reps R] [NAME=N ...] [--KEY VALUE ...])")
            self.counts[name] = self._positive(value, a)
            i += 1
        self.reps = self.option("reps", 5)

    @staticmethod
    def _positive(text, where):
        try:
            v = int(text)
        except ValueError:
            v = 0
        if v < 1:
            fail(f"bad number in {where}")
        return v

    def wants(self, name):
        return not self.counts or name in self.counts

    def count(self, name, default):
        return self.counts.get(name, default)

    def option(self, key, default):
        return self._positive(self.options[key], f"--{key}") if key in self.options else default


def repeat(reps, warmup, once):
    """One warm-up call whose result is dropped, then `reps` measured ones."""
    warmup()
    return [once() for _ in range(reps)]


def emit(name, unit, samples, **extra):
    line = {"name": name, "unit": unit, "value": float(f"{statistics.median(samples):.6g}"),
            "samples": [float(f"{s:.6g}") for s in samples]}
    line.update(extra)
    print(json.dumps(line), flush=True)
