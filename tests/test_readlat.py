"""readlat against reads of known sizes and delays made by a test child."""
import os

from kitlib import Tool, release, run_tool, spawn_python, tempdir

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


def test_usage_errors():
    for args in (["--syscalls", "write"], ["--syscalls", ""],
                 ["--unit", "s"], ["1", "x"]):
        rc, out, err = run_tool("readlat", *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (args, err)
