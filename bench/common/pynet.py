"""What the Python server programs share: the echo figures' load client and
loop (bench/net, bench/aio, bench/socketserver) and the HTTP figures' wrk
runs and loop (bench/http).

Every echo server is measured with the same C load client,
bench_net_load_client, which bench/run passes as --client PATH. A program
lists its figures as (name, connections, default round trips) and gives a
`start(name)` that starts a server on 127.0.0.1 port 0 and returns
(port, stop); stop() ends that server and waits for it:

    pynet.run_echo_figures(FIGURES, start)
    pynet.run_http_figures(start)     # start() -> (port, stop)
"""
import re
import subprocess
import sys
import threading

import pybench


def run_client(client, port, conns, requests):
    """One run of the load client: its round trips per second."""
    out = subprocess.run([client, "--port", str(port), "--conns", str(conns), "--requests", str(requests)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    return float(out)


def start_socketserver(srv):
    """A socketserver server's serve_forever in a thread of this process:
    (port, stop) for run_echo_figures / run_http_figures."""
    server = threading.Thread(target=srv.serve_forever)
    server.start()

    def stop():
        srv.shutdown()
        server.join()
        srv.server_close()  # ForkingMixIn: waits for the children (block_on_close)
    return srv.server_address[1], stop


def run_echo_figures(figures, start, args=None):
    """For each figure the command line names: a fresh server, one warm-up
    run of the client (a tenth of the count), then --reps measured runs."""
    args = args or pybench.Args()
    client = args.options.get("client")
    if not client:
        pybench.fail("--client PATH (bench_net_load_client) is required")
    for name, conns, default in figures:
        if not args.wants(name):
            continue
        n = args.count(name, default)
        port, stop = start(name)
        try:
            samples = pybench.repeat(args.reps, lambda: run_client(client, port, conns, max(n // 10, conns)),
                                     lambda: run_client(client, port, conns, n))
        finally:
            stop()
        pybench.emit(name, "rt/s", samples)


def _to_us(text):
    """wrk's latency text ("812.00us", "1.53ms", "2.01s") in µs."""
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        pybench.fail(f"cannot read wrk's latency {text!r}")
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[m.group(2)]


def run_wrk(wrk, port, seconds):
    """One wrk run (2 threads, 50 connections, keep-alive) against
    127.0.0.1:port: (requests/s, p99 in µs). A non-2xx answer or a failed
    connect fails the program: a broken server must not get a figure."""
    text = subprocess.run([wrk, "-t2", "-c50", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in text:
        pybench.fail(f"wrk saw errors:\n{text}")
    errors = re.search(r"Socket errors: (.*)", text)
    if errors and not errors.group(1).startswith("connect 0,"):
        pybench.fail(f"wrk could not connect:\n{text}")
    if errors:
        print(f"bench: wrk: socket errors: {errors.group(1)}", file=sys.stderr)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not rps or not p99:
        pybench.fail(f"cannot read wrk's output:\n{text}")
    return float(rps.group(1)), _to_us(p99.group(1))


def run_http_figures(start, args=None):
    """bench/http's figures (see http/drive.hpp), both from the same runs:
    a fresh server, a one-second warm-up wrk run, then --reps measured runs
    of the count in seconds (http.hello.c50's, else http.hello.c50.p99's);
    both lines are printed whichever is named. wrk is --wrk PATH, else `wrk`."""
    args = args or pybench.Args()
    if not args.wants("http.hello.c50") and not args.wants("http.hello.c50.p99"):
        return
    seconds = args.count("http.hello.c50", args.count("http.hello.c50.p99", 5))
    wrk = args.options.get("wrk", "wrk")
    port, stop = start()
    try:
        runs = pybench.repeat(args.reps, lambda: run_wrk(wrk, port, 1), lambda: run_wrk(wrk, port, seconds))
    finally:
        stop()
    pybench.emit("http.hello.c50", "req/s", [rps for rps, _ in runs])
    pybench.emit("http.hello.c50.p99", "us", [p99 for _, p99 in runs])
