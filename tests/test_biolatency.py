"""biolatency against O_DIRECT I/O on a loop device made by the test."""
import os
import re

from kitlib import Tool, direct_io, loop_device, run_tool


def test_disk_filter_counts_every_io_json():
    with loop_device() as dev:
        name = os.path.basename(dev)
        with Tool("biolatency", "-j", "-d", name) as t:
            t.wait_ready()
            direct_io(dev, writes=40, reads=20)
            assert t.stop() == 0
        objs = t.json()
        assert len(objs) == 1, t.stdout
        h = objs[0]
        assert h["count"] == 60, h
        assert h["unit"] == "us" and h["disk"] is None
        assert sum(b["count"] for b in h["buckets"]) == 60
        for b in h["buckets"]:
            assert b["lower"] < b["upper"] and b["lower"] % 1000 == 0
        assert h["min"] <= h["p50"] <= h["p90"] <= h["p99"] <= h["max"]
        assert h["p99_ns"] == h["p99"] * 1000
        # percentiles agree with the buckets: p50 lies in the bucket
        # where the cumulative count passes half
        cum = 0
        for b in h["buckets"]:
            cum += b["count"]
            if cum >= 30:
                assert b["lower"] <= h["p50_ns"] <= b["upper"], (b, h)
                break


def test_per_disk_and_flags_text():
    with loop_device() as dev:
        name = os.path.basename(dev)
        with Tool("biolatency", "-D", "-F", "-d", name) as t:
            t.wait_ready()
            direct_io(dev, writes=30, reads=10)
            t.stop()
        out = t.stdout
        sections = re.split(r"\n(?=disk = )", out)
        counts = {}
        for sec in sections:
            m = re.search(r"disk = (\S+)\s+flags = (\S+)", sec)
            c = re.search(r"^count (\d+),", sec, re.M)
            if m and c:
                counts[(m.group(1), m.group(2))] = int(c.group(1))
        assert counts, out
        assert all(d == name for d, _ in counts)
        writes = sum(v for (d, f), v in counts.items() if f.endswith("Write"))
        reads = sum(v for (d, f), v in counts.items() if f.endswith("Read"))
        assert writes == 30 and reads == 10, counts
        assert "usecs               : count    distribution" in out
        assert re.search(r"p50 [\d.]+, p90 [\d.]+, p99 [\d.]+, p99\.9 ", out)


def test_queued_adds_insert_hook_and_ms():
    with loop_device() as dev:
        name = os.path.basename(dev)
        with Tool("biolatency", "-Q", "-m", "-v", "-j", "-d", name) as t:
            t.wait_ready()
            direct_io(dev, writes=25)
            t.stop()
        assert "hook block I/O, queued: tracepoint block/block_rq_complete " \
            "(tp_insert, tp_issue" in t.stderr, t.stderr
        h = t.json()[0]
        assert h["count"] == 25 and h["unit"] == "ms", h
    with loop_device() as dev:
        with Tool("biolatency", "-v", "-j", "-d",
                  os.path.basename(dev)) as t:
            t.wait_ready()
            t.stop()
        assert "hook block I/O: tracepoint block/block_rq_complete " \
            "(tp_issue, tp_complete)" in t.stderr, t.stderr
        assert "hook block I/O, queued" not in t.stderr


def test_interval_count_prints_exactly_three():
    with loop_device() as dev:
        with Tool("biolatency", "-j", "-T", "-d", os.path.basename(dev),
                  "1", "3") as t:
            t.wait_ready()
            direct_io(dev, writes=5)
            rc = t.wait_exit(timeout=15)
            t.stop()
        assert rc == 0, t.stderr
        objs = t.json()
        assert [o["interval"] for o in objs] == [1, 2, 3], t.stdout
        assert sum(o["count"] for o in objs) == 5


def test_usage_errors():
    for args in (["-d", "nosuchdisk"], ["0"], ["1", "0"], ["1", "2", "3"],
                 ["-p", "1"], ["--", "true"], ["x"]):
        rc, out, err = run_tool("biolatency", *args)
        assert rc == 2 and len(err.strip().splitlines()) == 1, (args, err)
