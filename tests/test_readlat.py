"""readlat against reads of known sizes and delays made by a test child."""
import os
import re
import subprocess
import sys

from kitlib import Tool, release, run_tool, spawn_python, tempdir

MECHS = ("tracepoint", "tp_btf", "raw_tp")

SIZES = [1] * 5 + [100] * 5 + [1000] * 5
DELAYED = 4          # reads from a pipe that wait ~30 ms each
FAILED = 3           # reads of a bad fd (EBADF)


def child_code(path):
    return f"""
import threading, time
f = os.open({path!r}, os.O_RDONLY)
for size in {SIZES!r}:
    assert len(os.pread(f, size, 0)) == size
r, w = os.pipe()
def writer():
    for i in range({DELAYED}):
        time.sleep(0.03)
        os.write(w, b"x")
t = threading.Thread(target=writer)
t.start()
for i in range({DELAYED}):
    os.read(r, 1)
t.join()
for i in range({FAILED}):
    try:
        os.read(9999, 1)
    except OSError:
        pass
"""


def run_child(*args):
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z" * 4096)
        child = spawn_python(child_code(path), name="kitread")
        with Tool("readlat", "-p", child.pid, *args) as t:
            t.wait_ready()
            release(child)
            assert t.stop() == 0, t.stderr
        return child.pid, t


def test_counts_delays_sizes_and_failures_json():
    pid, t = run_child("-j", "--size", "-P", "--unit", "us")
    objs = {o["kind"]: o for o in t.json()}
    assert set(objs) == {"latency", "failed", "size"}, t.stdout
    for o in objs.values():
        assert o["pid"] == pid and o["comm"] == "kitread"
    lat, failed, size = objs["latency"], objs["failed"], objs["size"]
    assert lat["count"] == len(SIZES) + DELAYED, lat
    assert failed["count"] == FAILED, failed
    assert lat["unit"] == "us" and size["unit"] == "bytes"
    # the delayed reads waited >= 30 ms: in buckets from 25 ms up
    slow = sum(b["count"] for b in lat["buckets"] if b["lower"] >= 25e6)
    assert slow == DELAYED, lat["buckets"]
    assert lat["max_ns"] >= 30e6
    # sizes: 1 has a bucket of its own; 100 falls in 100..103 (64..127
    # cut in 16), 1000 in 992..1023 (512..1023 cut in 16)
    by_lower = {b["lower"]: b["count"] for b in size["buckets"]}
    assert by_lower == {1: 5 + DELAYED, 100: 5, 992: 5}, by_lower
    assert size["count"] == len(SIZES) + DELAYED
    assert size["sum"] == sum(SIZES) + DELAYED
    # percentiles agree with the buckets
    for q, key in ((0.5, "p50_ns"), (0.9, "p90_ns"), (0.99, "p99_ns")):
        cum, rank = 0, q * lat["count"]
        for b in lat["buckets"]:
            cum += b["count"]
            if cum >= rank:
                assert b["lower"] <= lat[key] <= b["upper"], (key, b, lat)
                break


def test_text_output_and_percentile_line():
    pid, t = run_child("--size")
    out = t.stdout
    assert "read latency" in out and "failed reads" in out
    assert "bytes returned" in out
    assert "     nsecs               : count    distribution" in out
    lines = [l for l in out.splitlines() if l.startswith("count ")]
    assert lines[0].startswith(f"count {len(SIZES) + DELAYED}, avg "), out
    assert lines[1].startswith(f"count {FAILED}, avg "), out


def test_syscalls_option_limits_hooks():
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z" * 64)
        code = (f"f = os.open({path!r}, os.O_RDONLY)\n"
                f"os.pread(f, 8, 0)\nos.pread(f, 8, 0)\nos.read(f, 8)\n")
        child = spawn_python(code)
        with Tool("readlat", "-j", "-p", child.pid, "--syscalls",
                  "pread64") as t:
            t.wait_ready()
            release(child)
            t.stop()
        objs = t.json()
        assert len(objs) == 1 and objs[0]["count"] == 2, t.stdout


def test_interval_count():
    with Tool("readlat", "-j", "-p", os.getpid(), "0.5", "3") as t:
        t.wait_ready()
        rc = t.wait_exit(timeout=10)
        t.stop()
    assert rc == 0
    assert [o["interval"] for o in t.json()] == [1, 2, 3], t.stdout


def spawn_prepared(setup, code):
    """A child python that runs setup (imports, opening files: reads the
    tool must not see), says ready, waits for a line, then runs code."""
    prog = (f"import os, sys\n{setup}\n"
            "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
            f"sys.stdin.readline()\n{code}\n")
    child = subprocess.Popen([sys.executable, "-c", prog],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    line = child.stdout.readline()
    if line != b"ready\n":
        child.kill()
        raise AssertionError(f"child did not start: {child.stderr.read()!r}")
    return child


FTYPE_SETUP = """
import socket
f = os.open({path!r}, os.O_RDONLY)
r, w = os.pipe()
a, b = socket.socketpair()
master, slave = os.openpty()
z = os.open("/dev/zero", os.O_RDONLY)
"""

FTYPE_CODE = """
for i in range(5):
    os.pread(f, 10, 0)
os.write(w, b"pipe")
for i in range(4):
    os.read(r, 1)
for i in range(3):
    a.send(b"s")
    os.read(b.fileno(), 1)
for i in range(2):
    os.write(master, b"t\\n")
    os.read(slave, 10)
for i in range(6):
    os.read(z, 1)
for i in range(2):
    try:
        os.read(9999, 1)
    except OSError:
        pass
"""


def test_file_types():
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z" * 64)
        child = spawn_prepared(FTYPE_SETUP.format(path=path), FTYPE_CODE)
        with Tool("readlat", "-j", "-F", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            assert t.stop() == 0, t.stderr
        got = {(o["file_type"], o["kind"]): o["count"] for o in t.json()}
        assert got == {("file", "latency"): 5, ("pipe", "latency"): 4,
                       ("socket", "latency"): 3, ("tty", "latency"): 2,
                       ("other", "latency"): 6, ("other", "failed"): 2}, got
        # text: a section per type
        child = spawn_prepared(FTYPE_SETUP.format(path=path), FTYPE_CODE)
        with Tool("readlat", "-F", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        titles = re.findall(r"^file type = (\w+), (.+)$", t.stdout, re.M)
        assert titles == [("file", "read latency"), ("pipe", "read latency"),
                          ("socket", "read latency"), ("tty", "read latency"),
                          ("other", "read latency"),
                          ("other", "failed reads")], t.stdout


def test_every_attach_path_counts_exactly():
    """Per-call tracepoints, and one tp_btf or raw_tp pair on every
    syscall that picks reads by id: the same counts."""
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z" * 64)
        code = (f"f = os.open({path!r}, os.O_RDONLY)\n"
                "for i in range(7): os.pread(f, 8, 0)\n"
                "for i in range(3): os.read(f, 1)\n"
                "for i in range(2):\n"
                "    try: os.read(9999, 1)\n"
                "    except OSError: pass\n"
                "os.getppid(); os.write(2, b'')\n")
        for mech in MECHS:
            for syscalls, ok in (("read,pread64", 10), ("pread64", 7)):
                child = spawn_python(code)
                with Tool("readlat", "-j", "-v", "-p", child.pid,
                          "--syscalls", syscalls, "--attach", mech) as t:
                    t.wait_ready()
                    release(child)
                    assert t.stop() == 0, t.stderr
                assert re.search(rf"hook pread64: {mech} ", t.stderr)
                got = {o["kind"]: o["count"] for o in t.json()}
                want = {"latency": ok}
                if "read," in syscalls:
                    want["failed"] = 2
                assert got == want, (mech, syscalls, got)


def test_intervals_lose_and_repeat_nothing():
    """Reads that go on while short intervals are read and cleared are
    each counted once: the array of totals, and the keyed map (-P)."""
    n = 200000
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z")
        code = (f"f = os.open({path!r}, os.O_RDONLY)\n"
                f"for i in range({n}): os.pread(f, 1, 0)\n")
        for extra in ([], ["-P"]):
            child = spawn_python(code)
            with Tool("readlat", "-j", "-p", child.pid, *extra,
                      "0.05") as t:
                t.wait_ready()
                release(child, timeout=60)
                t.wait_exit(timeout=15)    # the process is gone
            objs = [o for o in t.json() if o["kind"] == "latency"]
            counts = [o["count"] for o in objs]
            assert sum(counts) == n, (extra, counts)
            assert sum(1 for c in counts if c) >= 3, (extra, counts)


def test_empty_interval_has_no_key():
    """A process that reads nothing: one empty histogram, named by
    nothing."""
    child = spawn_python("import time\ntime.sleep(0.3)\n")
    with Tool("readlat", "-j", "-P", "-F", "--size", "-p", child.pid) as t:
        t.wait_ready()
        release(child)
        assert t.wait_exit() == 0, t.stderr
    objs = t.json()
    assert len(objs) == 1, t.stdout
    o = objs[0]
    assert (o["pid"], o["comm"], o["file_type"], o["kind"], o["count"],
            o["buckets"]) == (None, None, None, "latency", 0, []), o


def test_command_mode_exact_with_file_types():
    """-- COMMAND: dd's 300 one-byte reads of /dev/zero (a device: other),
    apart from the dynamic loader's reads of regular files; the tool exits
    with dd's status."""
    with Tool("readlat", "-j", "-F", "--", "dd", "if=/dev/zero",
              "of=/dev/null", "bs=1", "count=300") as t:
        t.wait_ready()
        assert t.wait_exit(timeout=30) == 0, t.stderr
    got = {(o["file_type"], o["kind"]): o["count"] for o in t.json()}
    assert got.get(("other", "latency")) == 300, got
    assert ("other", "failed") not in got, got
    with Tool("readlat", "-j", "--", "dd", "if=/nonexistent") as t:
        t.wait_ready()
        assert t.wait_exit(timeout=30) == 1, t.stderr


def test_usage_errors():
    for args in (["--syscalls", "write"], ["--syscalls", ""],
                 ["--unit", "s"], ["1", "x"]):
        rc, out, err = run_tool("readlat", *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (args, err)
