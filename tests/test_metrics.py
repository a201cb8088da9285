"""--metrics and --metrics-file: Prometheus/OpenMetrics exposition of every
tool, checked by promtool, by a parser of our own for what promtool does
not check (bucket order, cumulative counts, +Inf == _count, _sum within
the buckets' bounds), and end to end by a real Prometheus server."""
import json
import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from kitlib import (Skip, Tool, release, run_tool, spawn_python, tempdir,
                    tool_path)

OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/"
             "openmetrics-text;version=0.0.1;q=0.75,text/plain;"
             "version=0.0.4;q=0.5,*/*;q=0.1")  # what Prometheus 2.x sends


# ---- talking to a tool ----------------------------------------------------

def start(name, *args, **kw):
    """The tool serving on an ephemeral loopback port: (Tool, url)."""
    t = Tool(name, "--metrics", "127.0.0.1:0", *args, **kw)
    t.wait_ready()
    m = re.search(r"serving metrics at (http://\S+)", t.stderr)
    assert m, t.stderr
    return t, m.group(1)


def scrape(url, accept=None, method="GET"):
    """(status, content type, body, headers)."""
    req = urllib.request.Request(url, method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return (r.status, r.headers["Content-Type"],
                    r.read().decode("utf-8"), r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode(), e.headers


def promtool_check(text):
    """promtool check metrics (text format 0.0.4): no error, no warning."""
    if not shutil.which("promtool"):
        raise Skip("promtool not installed (Debian package prometheus)")
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and not p.stdout.strip() and \
        not p.stderr.strip(), (p.returncode, p.stdout, p.stderr)


def spawn_lingering(code, name=None):
    """A spawn_python child that, after code, stays until finish(): with
    -p, a tool exits when its targets do, and we scrape before that."""
    return spawn_python(code + "\nsys.stdin.readline()\n", name=name)


def go(child):
    child.stdin.write(b"go\n")
    child.stdin.flush()


def finish(child):
    child.stdin.close()
    assert child.wait(15) == 0, child.stderr.read()


# ---- a strict reader of the exposition ------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"


def parse_labels(s):
    """'a="x",b="y\\"z"' -> {"a": "x", "b": 'y"z'}; strict."""
    labels, i = {}, 0
    while i < len(s):
        m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)=\"", s[i:])
        assert m, f"bad label at {s[i:]!r}"
        key, i, val = m.group(1), i + m.end(), []
        while s[i] != '"':
            if s[i] == "\\":
                esc = s[i + 1]
                assert esc in '\\"n', f"bad escape {esc!r} in {s!r}"
                val.append("\n" if esc == "n" else esc)
                i += 2
            else:
                assert s[i] != "\n"
                val.append(s[i])
                i += 1
        assert key not in labels, f"label {key} twice in {s!r}"
        labels[key] = "".join(val)
        i += 1
        if i < len(s):
            assert s[i] == ",", s
            i += 1
    return labels


def parse_value(v):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", v), v
    return float(v)


SUFFIXES = {"counter": ["_total"], "gauge": [""],
            "histogram": ["_bucket", "_sum", "_count"]}


def parse_exposition(text, om):
    """Families {name: {"type", "help", "unit", "samples": [(sample name,
    labels, value)]}} keyed by the family name of the format (text: the
    counter's name with _total; OpenMetrics: without). Asserts the
    grammar: metadata once and before the samples, samples grouped by
    family, OpenMetrics' final # EOF."""
    fams, current, ended = {}, None, False
    lines = text.split("\n")
    assert lines[-1] == "", "the exposition ends with a newline"
    for line in lines[:-1]:
        assert not ended, "text after # EOF"
        if line == "# EOF":
            assert om, "# EOF in the text format"
            ended = True
            continue
        m = re.fullmatch(rf"# (HELP|TYPE|UNIT) ({NAME}) ?(.*)", line)
        if m:
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {"type": None, "help": None,
                                       "unit": None, "samples": []})
            assert not f["samples"], f"{kind} after samples of {name}"
            key = kind.lower()
            assert f[key] is None, f"{kind} twice for {name}"
            f[key] = rest
            current = name
            continue
        assert not line.startswith("#"), line
        m = re.fullmatch(rf"({NAME})(?:\{{(.*)\}})? (\S+)", line)
        assert m, f"bad sample line {line!r}"
        sname, labels, value = m.group(1), parse_labels(m.group(2) or ""), \
            parse_value(m.group(3))
        f = fams.get(current)
        assert f and f["type"], f"sample {sname} without TYPE"
        base = current if om or f["type"] != "counter" else \
            current[:-len("_total")]
        assert sname in [base + s for s in SUFFIXES[f["type"]]], \
            f"sample {sname} in family {current} ({f['type']})"
        f["samples"].append((sname, labels, value))
    assert ended or not om, "OpenMetrics must end with # EOF"
    for name, f in fams.items():
        assert f["type"] in SUFFIXES, (name, f["type"])
        assert f["help"], f"{name} has no HELP"
        if f["unit"]:
            assert om and name.endswith("_" + f["unit"]), (name, f["unit"])
        if not om and f["type"] == "counter":
            assert name.endswith("_total"), name
    return fams


def histograms(fams):
    """{(family, labels without le): {"buckets": [(le, n)], "sum", "count"}}"""
    out = {}
    for name, f in fams.items():
        if f["type"] != "histogram":
            continue
        for sname, labels, value in f["samples"]:
            rest = tuple(sorted((k, v) for k, v in labels.items()
                                if k != "le"))
            h = out.setdefault((name, rest), {"buckets": []})
            if sname.endswith("_bucket"):
                h["buckets"].append((parse_value(labels["le"]), value))
            else:
                assert "le" not in labels
                h[sname.rsplit("_", 1)[1]] = value
    return out


def check_histograms(fams):
    """What promtool does not check. Returns the histograms."""
    hists = histograms(fams)
    for key, h in hists.items():
        les = [le for le, _ in h["buckets"]]
        counts = [n for _, n in h["buckets"]]
        assert les and les[-1] == math.inf, (key, "no +Inf bucket")
        assert all(a < b for a, b in zip(les, les[1:])), (key, "le order")
        assert all(a <= b for a, b in zip(counts, counts[1:])), \
            (key, "buckets not cumulative", counts)
        assert "count" in h and "sum" in h, key
        assert counts[-1] == h["count"], (key, "+Inf != _count")
        # Each observation lies within its bucket's bounds.
        lo = hi = 0.0
        prev_le, prev_n = 0.0, 0
        for le, n in h["buckets"]:
            k = n - prev_n
            lo += k * prev_le
            hi += k * le if k else 0
            prev_le, prev_n = le, n
        eps = 1e-9 * max(1.0, h["sum"])
        assert lo - eps <= h["sum"] <= hi + eps, \
            (key, "sum outside the buckets", lo, h["sum"], hi)
    return hists


def check_both_formats(url):
    """Scrape in both formats; check each. Returns the text families."""
    status, ctype, text, _ = scrape(url)
    assert status == 200, status
    assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
    promtool_check(text)
    fams = parse_exposition(text, om=False)
    check_histograms(fams)
    status, ctype, om_text, _ = scrape(url, OM_ACCEPT)
    assert status == 200
    assert ctype == ("application/openmetrics-text; version=1.0.0; "
                     "charset=utf-8"), ctype
    om = parse_exposition(om_text, om=True)
    check_histograms(om)
    # The same families either way, under each format's names.
    assert {n[:-6] if fams[n]["type"] == "counter" else n
            for n in fams} == set(om), (set(fams), set(om))
    return fams


def value(fams, name, **labels):
    """The one sample of name with these labels (a subset)."""
    hits = [v for f in fams.values() for s, l, v in f["samples"]
            if s == name and all(l.get(k) == w for k, w in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def samples(fams, name):
    return [(l, v) for f in fams.values() for s, l, v in f["samples"]
            if s == name]


# ---- every tool ------------------------------------------------------------

# The families each tool declares from the start (before any event), beyond
# the health ones every tool has.
FAMILIES = {
    "opensnoop": ["bpfkit_opens_total"],
    "tcpconnect": ["bpfkit_tcp_connects_total",
                   "bpfkit_tcp_connect_latency_seconds"],
    "tcpretrans": ["bpfkit_tcp_retransmits_total"],
    "oomkill": ["bpfkit_oom_kills_total"],
    "biolatency": ["bpfkit_block_io_latency_seconds"],
    "readlat": ["bpfkit_read_latency_seconds"],
}
HEALTH = ["bpfkit_bpf_program_runs_total",
          "bpfkit_bpf_program_run_seconds_total", "bpfkit_attach_info"]
EVENT_HEALTH = ["bpfkit_events_total", "bpfkit_events_lost_total"]


def test_every_tool_exposition_passes_promtool_and_structure():
    """Every built tool, idle: both formats valid, its families declared,
    its programs' run statistics there."""
    ran = []
    for name, families in FAMILIES.items():
        if not os.path.exists(tool_path(name)):
            continue
        t, url = start(name, "--duration", "20")
        with t:
            fams = check_both_formats(url)
            assert t.stop() == 0
        for fam in families + HEALTH:
            assert fam in fams, (name, fam, sorted(fams))
        if name not in ("biolatency", "readlat"):
            for fam in EVENT_HEALTH:
                assert fam in fams, (name, fam)
        progs = {l["program"] for l, _ in
                 samples(fams, "bpfkit_bpf_program_runs_total")}
        assert progs and all(l["tool"] == name for l, _ in
                             samples(fams, "bpfkit_bpf_program_runs_total"))
        ran.append(name)
    assert "opensnoop" in ran, ran


# ---- opensnoop -------------------------------------------------------------

def test_opensnoop_opens_by_comm_and_result():
    with tempdir() as d:
        ok, bad = os.path.join(d, "present"), os.path.join(d, "missing")
        open(ok, "w").close()
        child = spawn_lingering(
            f"for i in range(7):\n    os.close(os.open({ok!r}, 0))\n"
            f"for i in range(5):\n"
            f"    try:\n        os.open({bad!r}, 0)\n"
            f"    except FileNotFoundError:\n        pass\n",
            name="kitmetrics")
        t, url = start("opensnoop", "-p", child.pid)
        with t:
            go(child)
            t.wait_for(lambda: t.stdout.count(bad) == 5, what="5 events")
            fams = check_both_formats(url)
            finish(child)
            assert t.stop() == 0
    assert value(fams, "bpfkit_opens_total", comm="kitmetrics",
                 result="ENOENT") == 5
    assert value(fams, "bpfkit_opens_total", comm="kitmetrics",
                 result="ok") >= 7
    # Text output went on alongside.
    assert t.stdout.count(ok) == 7, t.stdout


def test_health_metrics():
    with tempdir() as d:
        path = os.path.join(d, "f")
        child = spawn_lingering(
            f"for i in range(50):\n    open({path!r}, 'w').close()\n")
        t, url = start("opensnoop", "-p", child.pid, "-j")
        with t:
            go(child)
            t.wait_for(lambda: t.stdout.count(path) >= 50, what="events")
            fams = check_both_formats(url)
            # One thread: the HTTP server runs in the tool's own loop.
            assert os.listdir(f"/proc/{t.proc.pid}/task") == \
                [str(t.proc.pid)]
            finish(child)
            assert t.stop() == 0
    events = value(fams, "bpfkit_events_total", tool="opensnoop")
    assert events >= 50
    assert value(fams, "bpfkit_events_lost_total", tool="opensnoop") == 0
    opens = sum(v for _, v in samples(fams, "bpfkit_opens_total"))
    assert opens == events, (opens, events)
    runs = {l["program"]: v for l, v in
            samples(fams, "bpfkit_bpf_program_runs_total")}
    secs = {l["program"]: v for l, v in
            samples(fams, "bpfkit_bpf_program_run_seconds_total")}
    assert set(runs) == set(secs) and runs, (runs, secs)
    # The programs ran for every open on the machine, at least ours.
    assert sum(runs.values()) >= 50, runs
    assert 0 < sum(secs.values()) < 10, secs
    attach = samples(fams, "bpfkit_attach_info")
    assert any(l["hook"] == "openat" and v == 1 for l, v in attach), attach
    # JSON output went on alongside.
    assert sum(1 for e in t.json() if e["path"] == path) == 50


def test_bpf_stats_can_be_left_off():
    """BPFKIT_BPF_STATS=0: no run-time statistics, and no metrics
    pretending to have them; the rest as usual."""
    t, url = start("opensnoop", "-n", "kit-none",
                   env={"BPFKIT_BPF_STATS": "0"})
    with t:
        fams = check_both_formats(url)
        assert t.stop() == 0
    assert "bpfkit_bpf_program_runs_total" not in fams
    assert "bpfkit_bpf_program_run_seconds_total" not in fams
    assert "bpfkit_events_total" in fams and "bpfkit_opens_total" in fams
    assert "WARNING" not in t.stderr


def test_label_cardinality_is_capped():
    """1100 distinct comms: 1000 series, the rest in one 'other' series."""
    code = ("import ctypes\nlibc = ctypes.CDLL(None)\n"
            "for i in range(1100):\n"
            "    libc.prctl(15, b'kc%d' % i, 0, 0, 0)\n"
            "    try:\n        os.open('/nonexistent-kit', 0)\n"
            "    except OSError:\n        pass\n")
    child = spawn_lingering(code)
    t, url = start("opensnoop", "-p", child.pid, "-x")
    with t:
        go(child)
        t.wait_for(lambda: t.stdout.count("/nonexistent-kit") == 1100,
                   what="1100 events")
        fams = check_both_formats(url)
        finish(child)
        assert t.stop() == 0
    series = samples(fams, "bpfkit_opens_total")
    other = [v for l, v in series if l == {"comm": "other",
                                           "result": "other"}]
    assert len(series) == 1001, len(series)
    assert len(other) == 1 and other[0] >= 100, other
    assert sum(v for _, v in series) == \
        value(fams, "bpfkit_events_total", tool="opensnoop")


def test_counters_monotonic_across_scrapes():
    with tempdir() as d:
        path = os.path.join(d, "mono")
        child = spawn_lingering(
            f"import time\nfor i in range(300):\n"
            f"    open({path!r}, 'w').close()\n    time.sleep(0.003)\n",
            name="kitmono")
        t, url = start("opensnoop", "-p", child.pid)
        with t:
            go(child)
            seen = []
            while not seen or seen[-1] < 300:
                fams = parse_exposition(scrape(url)[2], om=False)
                seen.append(sum(v for l, v in
                                samples(fams, "bpfkit_opens_total")
                                if l["comm"] == "kitmono"))
                time.sleep(0.05)
                assert len(seen) < 400, seen
            finish(child)
            assert t.stop() == 0
    assert all(a <= b for a, b in zip(seen, seen[1:])), seen
    assert seen[-1] == 300 and len(seen) >= 3, seen


def test_http_paths_and_methods():
    t, url = start("opensnoop", "-n", "kit-none")
    base = url[:-len("/metrics")]
    with t:
        status, ctype, body, _ = scrape(base + "/")
        assert status == 200 and "/metrics" in body
        status, _, _, _ = scrape(base + "/nope")
        assert status == 404
        status, _, _, headers = scrape(url, method="POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        status, ctype, body, _ = scrape(url, method="HEAD")
        assert status == 200 and body == "" and "0.0.4" in ctype
        # Accept decides the format.
        for accept, want in (("text/plain", "text/plain"),
                             ("application/openmetrics-text",
                              "application/openmetrics-text"),
                             ("application/openmetrics-text;q=0.1,"
                              "text/plain;q=0.9", "text/plain"),
                             ("*/*", "text/plain")):
            status, ctype, body, _ = scrape(url, accept)
            assert status == 200 and ctype.startswith(want), (accept, ctype)
            assert body.endswith("# EOF\n") == want.startswith("app")
        assert t.stop() == 0


def test_metrics_file_written_atomically():
    with tempdir() as d:
        os.chmod(d, 0o755)
        path = os.path.join(d, "opensnoop.prom")
        gone = os.path.join(d, "missing")
        child = spawn_python(
            f"for i in range(3):\n    try:\n        os.open({gone!r}, 0)\n"
            f"    except OSError:\n        pass\n", name="kitfile")
        t = Tool("opensnoop", "--metrics-file", path, "-p", child.pid)
        with t:
            t.wait_ready()
            assert "serving" not in t.stderr  # no HTTP without --metrics
            release(child)
            t.wait_for(lambda: t.stdout.count(gone) == 3, what="events")
            assert t.stop() == 0
        # The last write, at exit, has every event; no temporary left.
        assert os.listdir(d) == ["opensnoop.prom"], os.listdir(d)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        with open(path) as f:
            text = f.read()
    promtool_check(text)
    fams = parse_exposition(text, om=False)
    assert value(fams, "bpfkit_opens_total", comm="kitfile",
                 result="ENOENT") == 3


def test_metrics_file_rewritten_every_5s_and_readers_see_whole_files():
    """Without an interval the file is rewritten every 5 s; a reader polling
    it meanwhile only ever sees complete files (rename is atomic)."""
    with tempdir() as d:
        path = os.path.join(d, "m.prom")
        t = Tool("opensnoop", "--metrics-file", path, "-n", "kit-none")
        with t:
            t.wait_ready()
            t0 = time.monotonic()
            inodes, reads = set(), 0
            while len(inodes) < 2 and time.monotonic() - t0 < 12:
                try:
                    with open(path) as f:
                        text = f.read()
                        inodes.add(os.fstat(f.fileno()).st_ino)
                except FileNotFoundError:
                    time.sleep(0.01)
                    continue
                parse_exposition(text, om=False)  # whole, never cut
                reads += 1
                time.sleep(0.01)
            took = time.monotonic() - t0
            assert t.stop() == 0
    assert len(inodes) == 2, (inodes, took)
    assert 4 <= took < 12, took
    assert reads > 10


def test_usage_errors_one_line_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args in (["--metrics", "nonsense"], ["--metrics", "9435"],
                     ["--metrics", "127.0.0.1:70000"],
                     ["--metrics", "127.0.0.1:"],
                     ["--metrics", "::1:9435"],
                     ["--metrics", "192.0.2.1:9435"],  # not ours
                     ["--metrics", f"127.0.0.1:{port}"],  # in use
                     ["--metrics-file", "/nonexistent-dir/x.prom"],
                     ["--metrics-file", "/tmp/"],
                     ["--metrics-file", "/tmp"]):
            rc, out, err = run_tool("opensnoop", *args)
            assert rc == 2, (args, rc, err)
            assert len(err.strip().splitlines()) == 1, (args, err)
            assert out == "", (args, out)
            assert "metrics" in err, (args, err)


def test_bad_address_fails_before_attaching():
    """The usage error comes before anything is loaded: even with -v
    (which logs every attach decision and libbpf's log) it is the one
    line, and the command never runs."""
    with tempdir() as d:
        mark = os.path.join(d, "ran")
        rc, out, err = run_tool("opensnoop", "-v", "--metrics",
                                "192.0.2.1:1", "--", "touch", mark)
        assert rc == 2, err
        assert len(err.strip().splitlines()) == 1, err
        assert not os.path.exists(mark)


# ---- end to end: a real Prometheus scraping a tool --------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """Debian's prometheus on loopback, scraping target every 200 ms, with
    its data in a temporary directory; stop() removes everything."""

    def __init__(self, target, job="bpfkit"):
        exe = shutil.which("prometheus")
        if not exe:
            raise Skip("prometheus not installed (Debian package)")
        self.dir = tempfile.mkdtemp(prefix="bpfkit-prom-")
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api/v1"
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 200ms\n"
                    "  scrape_timeout: 200ms\n"
                    f"scrape_configs:\n  - job_name: {job}\n"
                    f"    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(
            [exe, f"--config.file={cfg}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/-/ready",
                        timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise AssertionError("prometheus did not start: " +
                                     self.log.read()[-2000:])
            time.sleep(0.1)

    def get(self, path, **params):
        url = f"{self.api}/{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.get("query", query=expr)["result"]

    def target(self):
        """Our one target ({} until the scrape manager has it)."""
        targets = self.get("targets")["activeTargets"]
        assert len(targets) <= 1, targets
        return targets[0] if targets else {}

    def wait_scraped_after(self, when, timeout=15):
        """Until a successful scrape that started after wall time when."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.target()
            last = t.get("lastScrape", "")
            if t.get("health") == "up" and last and \
                    _rfc3339(last) > when:
                return t
            assert time.monotonic() < deadline, t
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _rfc3339(s):
    """'2026-11-26T21:45:47.395639409Z' -> seconds since the epoch."""
    import datetime
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", s)
    assert m, s
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    dt = datetime.datetime.fromisoformat(m.group(1) + tz)
    return dt.timestamp() + float("0." + (m.group(2) or "0"))


def test_prometheus_scrapes_openmetrics_counters():
    """Prometheus negotiates OpenMetrics, parses it without error and holds
    the tool's own counts."""
    with tempdir() as d:
        path = os.path.join(d, "gone")
        child = spawn_lingering(
            f"for i in range(25):\n    try:\n        os.open({path!r}, 0)\n"
            f"    except OSError:\n        pass\n", name="kitprom")
        t, url = start("opensnoop", "-p", child.pid)
        prom = None
        try:
            target = urllib.parse.urlsplit(url).netloc
            prom = Prometheus(target)
            go(child)
            t.wait_for(lambda: t.stdout.count(path) == 25, what="events")
            after = time.time()
            tgt = prom.wait_scraped_after(after)
            assert tgt["lastError"] == "", tgt
            res = prom.query('bpfkit_opens_total{comm="kitprom",'
                             'result="ENOENT"}')
            assert len(res) == 1 and float(res[0]["value"][1]) == 25, res
            meta = prom.get("targets/metadata",
                            match_target='{job="bpfkit"}',
                            metric="bpfkit_bpf_program_run_seconds")
            # A unit is only carried by OpenMetrics: it was negotiated.
            assert meta and meta[0]["unit"] == "seconds", meta
            finish(child)
            assert t.stop() == 0
        finally:
            if prom:
                prom.stop()
            t.kill()


# ---- oomkill -----------------------------------------------------------------

class MemCgroup:
    """A memory cgroup with a small limit: v1 where the memory controller
    is there (this machine), else v2's memory.max. rmdir'd by close()."""

    def __init__(self, limit):
        name = f"kit-metrics-{os.getpid()}"
        v1 = "/sys/fs/cgroup/memory"
        if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")):
            self.path, self.limit_file = os.path.join(v1, name), \
                "memory.limit_in_bytes"
        else:
            root = "/sys/fs/cgroup"
            with open(os.path.join(root, "cgroup.controllers")) as f:
                if "memory" not in f.read().split():
                    raise Skip("no memory cgroup controller")
            self.path, self.limit_file = os.path.join(root, name), \
                "memory.max"
        self.rel = "/" + name
        os.mkdir(self.path)
        with open(os.path.join(self.path, self.limit_file), "w") as f:
            f.write(str(limit))

    def run_oom(self):
        """A process in the cgroup that allocates past the limit."""
        return subprocess.run(
            ["sh", "-c", f"echo $$ > {self.path}/cgroup.procs; exec "
             "python3 -c 'x = bytearray(256 << 20)'"],
            capture_output=True, timeout=30).returncode

    def close(self):
        deadline = time.monotonic() + 10
        while os.path.exists(self.path):
            try:
                os.rmdir(self.path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def test_oomkill_kills_by_cgroup():
    cg = MemCgroup(32 << 20)
    try:
        t, url = start("oomkill", "--cgroup", cg.path)
        with t:
            fams = check_both_formats(url)
            # Declared before any kill: HELP and TYPE, no series yet.
            assert fams["bpfkit_oom_kills_total"]["samples"] == []
            rc = cg.run_oom()
            assert rc in (137, -9), rc
            t.wait_for(lambda: "OOM kill of PID" in t.stdout,
                       what="the kill")
            fams = check_both_formats(url)
            assert t.stop() == 0
        assert samples(fams, "bpfkit_oom_kills_total") == \
            [({"cgroup": cg.rel}, 1)], fams["bpfkit_oom_kills_total"]
        assert value(fams, "bpfkit_events_total", tool="oomkill") == 1
    finally:
        cg.close()


# ---- tcpconnect --------------------------------------------------------------

def test_tcpconnect_connects_and_latency_histogram():
    """Connects counted by port and result; the latency histogram agrees
    with the latencies the tool printed for the same connects."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(64)
        port = srv.getsockname()[1]
        closed = free_port()
        child = spawn_lingering(
            "import socket\n"
            f"for i in range(20):\n"
            f"    socket.create_connection(('127.0.0.1', {port})).close()\n"
            f"for i in range(3):\n"
            f"    try:\n"
            f"        socket.create_connection(('127.0.0.1', {closed}))\n"
            f"    except ConnectionRefusedError:\n        pass\n")
        t, url = start("tcpconnect", "-j", "-p", child.pid)
        with t:
            go(child)
            t.wait_for(lambda: t.stdout.count("\n") >= 23, what="events")
            fams = check_both_formats(url)
            finish(child)
            assert t.stop() == 0
    events = t.json()
    assert len(events) == 23, events
    assert value(fams, "bpfkit_tcp_connects_total", dport=str(port),
                 result="established") == 20
    assert value(fams, "bpfkit_tcp_connects_total", dport=str(closed),
                 result="ECONNREFUSED") == 3
    hists = histograms(fams)
    for outcome, n in (("established", 20), ("failed", 3)):
        h = hists[("bpfkit_tcp_connect_latency_seconds",
                   (("result", outcome),))]
        lat = [e["latency_us"] * 1e-6 for e in events
               if e["result"] == outcome]
        assert h["count"] == n == len(lat), (outcome, h, lat)
        # latency_us has 0.1 us of precision
        assert abs(h["sum"] - sum(lat)) <= n * 0.05e-6, (h["sum"], lat)
        for le, cum in h["buckets"][:-1]:
            near = sum(1 for v in lat if abs(v - le) <= 0.05e-6)
            want = sum(1 for v in lat if v <= le)
            assert abs(cum - want) <= near, (outcome, le, cum, want)


# ---- tcpretrans --------------------------------------------------------------

def test_tcpretrans_retransmits_by_addresses_port_and_state():
    """Real retransmissions in a test namespace (tcplib): the counter
    equals the kernel's own count for the socket."""
    from tcplib import netns
    from test_tcpretrans import Retransmitter
    with netns() as ns:
        r = Retransmitter(ns)
        t, url = start("tcpretrans", "-j", "-P", r.dport)
        with t:
            n = r.run()
            t.wait_for(lambda: len(r.mine(t.json())) >= n,
                       what=f"{n} retransmissions")
            fams = check_both_formats(url)
            assert t.stop() == 0
    assert n >= 3, n
    assert samples(fams, "bpfkit_tcp_retransmits_total") == [
        ({"saddr": "127.0.0.1", "daddr": "127.0.0.1",
          "dport": str(r.dport), "state": "ESTABLISHED"}, n)], \
        samples(fams, "bpfkit_tcp_retransmits_total")


# ---- biolatency --------------------------------------------------------------

def bucket_index(bounds, v):
    """Index of the bucket (le bounds, +Inf last) that holds value v."""
    for i, le in enumerate(bounds):
        if v <= le:
            return i
    return len(bounds)


def check_against_tool_hist(h, tool_hist, unit_ns):
    """A scraped histogram h equals the tool's own JSON histogram: every
    cumulative bucket, the count, and the exact sum."""
    assert h["count"] == tool_hist["count"], (h, tool_hist["count"])
    for le, cum in h["buckets"][:-1]:
        want = sum(b["count"] for b in tool_hist["buckets"]
                   if b["upper"] is not None and b["upper"] <= le * 1e9 +
                   0.5)
        assert cum == want, (le, cum, want)
    assert math.isclose(h["sum"], tool_hist["sum"] * unit_ns / 1e9,
                        rel_tol=1e-12), (h["sum"], tool_hist["sum"])


def test_biolatency_histogram_equals_its_own():
    from kitlib import direct_io, loop_device
    with loop_device() as dev:
        name = os.path.basename(dev)
        t, url = start("biolatency", "-j", "-d", name)
        with t:
            direct_io(dev, writes=40, reads=20)
            # Until the completions are all in the kernel's map.
            deadline = time.monotonic() + 10
            while True:
                fams = check_both_formats(url)
                h = histograms(fams)[("bpfkit_block_io_latency_seconds",
                                      ())]
                if h["count"] >= 60 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert t.stop() == 0
    mine = t.json()
    assert len(mine) == 1 and mine[0]["count"] == 60, t.stdout
    assert mine[0]["unit"] == "us"
    check_against_tool_hist(h, mine[0], 1000)
    # Buckets at a quarter of a power of two: le 1, 2, ... 8, 10, 12 us
    les = [le for le, _ in h["buckets"]]
    assert [round(le * 1e6, 6) for le in les[:10]] == \
        [1, 2, 3, 4, 5, 6, 7, 8, 10, 12], les[:10]


def test_biolatency_intervals_per_disk_cumulative_and_file():
    """With intervals the tool drains the kernel's map each second; the
    metrics stay cumulative (kept + live) and the file follows."""
    from kitlib import direct_io, loop_device
    with loop_device() as dev, tempdir() as d:
        name = os.path.basename(dev)
        path = os.path.join(d, "bio.prom")
        t, url = start("biolatency", "-j", "-D", "-d", name,
                       "--metrics-file", path, "1")
        with t:
            direct_io(dev, writes=30)
            t.wait_for(lambda: sum(o["count"] for o in t.json()) >= 30,
                       what="an interval with the writes")
            direct_io(dev, reads=20)
            t.wait_for(lambda: sum(o["count"] for o in t.json()) >= 50,
                       what="an interval with the reads")
            fams = check_both_formats(url)
            # Written every interval: it has them all by now, or soon.
            t.wait_for(lambda: os.path.exists(path) and
                       f'disk="{name}"' in open(path).read() and
                       histograms(parse_exposition(open(path).read(),
                                                   False))
                       [("bpfkit_block_io_latency_seconds",
                         (("disk", name),))]["count"] == 50,
                       what="the file with 50 I/Os")
            assert t.stop() == 0
        intervals = [o for o in t.json() if o["count"]]
        assert len(intervals) >= 2, t.stdout
        h = histograms(fams)[("bpfkit_block_io_latency_seconds",
                              (("disk", name),))]
        assert h["count"] == 50, h
        # The sum of every interval's histogram, bucket by bucket.
        merged = {"count": 0, "sum": 0, "buckets": []}
        for o in t.json():
            merged["count"] += o["count"]
            merged["sum"] += o["sum"]
            merged["buckets"] += o["buckets"]
        check_against_tool_hist(h, merged, 1000)


# ---- readlat, and Prometheus end to end -----------------------------------

# Reads of a cached file (fast), reads from a pipe fed with a delay (slow:
# about 1 in 50, so that p99 falls among them), failed reads; then the
# child says "done" and waits for its end without another read (select),
# so that nothing changes after the last scrape.
READ_LOAD = """
import select, threading, time
f = os.open(PATH, os.O_RDONLY)
for i in range(FAST):
    os.pread(f, 64, 0)
r, w = os.pipe()
def writer():
    for i in range(SLOW):
        time.sleep(0.002)
        os.write(w, b"x")
t = threading.Thread(target=writer)
t.start()
for i in range(SLOW):
    os.read(r, 1)
t.join()
for i in range(FAILED):
    try:
        os.read(9999, 1)
    except OSError:
        pass
sys.stdout.write("done\\n")
sys.stdout.flush()
select.select([sys.stdin], [], [])
"""


def read_load(path, fast, slow, failed):
    code = (READ_LOAD.replace("PATH", repr(path))
            .replace("FAST", str(fast)).replace("SLOW", str(slow))
            .replace("FAILED", str(failed)))
    return spawn_python(code, name="kitreadlat")


def wait_done(child):
    go(child)
    line = child.stdout.readline()
    assert line == b"done\n", (line, child.stderr.read())


def readlat_objs(t):
    return {(o["kind"]): o for o in t.json() if o["count"]}


def test_readlat_histograms_equal_its_own():
    """Totals (the kernel's per-CPU array) and per process (-P, a hash
    map), once at the end and with 1 s intervals that drain the maps."""
    for extra in ([], ["-P"], ["-P", "1"], ["1"]):
        with tempdir() as d:
            path = os.path.join(d, "data")
            with open(path, "wb") as f:
                f.write(b"z" * 4096)
            child = read_load(path, 200, 5, 3)
            t, url = start("readlat", "-j", "--size", "-p", child.pid,
                           *extra)
            with t:
                wait_done(child)
                if "1" in extra:  # an interval has drained them
                    t.wait_for(lambda: sum(o["count"] for o in t.json()
                                           if o["kind"] == "failed") == 3,
                               what="an interval")
                fams = check_both_formats(url)
                finish(child)
                assert t.stop() == 0
        per = {}
        for o in t.json():  # every interval, merged
            m = per.setdefault(o["kind"], {"count": 0, "sum": 0,
                                           "buckets": []})
            m["count"] += o["count"]
            m["sum"] += o["sum"]
            m["buckets"] += o["buckets"]
        who = ((("comm", "kitreadlat"), ("pid", str(child.pid)))
               if "-P" in extra else ())
        hists = histograms(fams)
        lat = hists[("bpfkit_read_latency_seconds",
                     tuple(sorted(who + (("result", "ok"),))))]
        bad = hists[("bpfkit_read_latency_seconds",
                     tuple(sorted(who + (("result", "failed"),))))]
        size = hists[("bpfkit_read_size_bytes", who)]
        # (Exact counts are test_readlat's business; here, that the
        # metrics have what the tool has.)
        assert per["failed"]["count"] >= 1, (extra, per)
        assert per["latency"]["count"] >= 200, (extra, per)
        check_against_tool_hist(bad, per["failed"], 1)
        check_against_tool_hist(lat, per["latency"], 1)
        # Sizes are bytes: bounds and sum are plain numbers.
        assert size["count"] == per["size"]["count"]
        assert size["sum"] == per["size"]["sum"]


def test_prometheus_histogram_quantile_agrees_with_tool_p99():
    """A real Prometheus scrapes readlat during a load; its
    histogram_quantile(0.99) lies within one bucket of the tool's own
    p99, and its _count is the tool's count."""
    with tempdir() as d:
        path = os.path.join(d, "data")
        with open(path, "wb") as f:
            f.write(b"z" * 4096)
        child = read_load(path, 2000, 40, 5)
        t, url = start("readlat", "-j", "-p", child.pid)
        prom = None
        try:
            prom = Prometheus(urllib.parse.urlsplit(url).netloc)
            wait_done(child)
            tgt = prom.wait_scraped_after(time.time())
            assert tgt["lastError"] == "", tgt
            sel = 'bpfkit_read_latency_seconds_bucket{result="ok"}'
            res = prom.query(f"histogram_quantile(0.99, {sel})")
            assert len(res) == 1, res
            prom_p99 = float(res[0]["value"][1])
            res = prom.query('bpfkit_read_latency_seconds_count'
                             '{result="ok"}')
            prom_count = float(res[0]["value"][1])
            fams = parse_exposition(scrape(url)[2], om=False)
            finish(child)
            assert t.stop() == 0
        finally:
            if prom:
                prom.stop()
            t.kill()
    tool = readlat_objs(t)["latency"]
    tool_p99 = tool["p99"] * {"ns": 1, "us": 1e3, "ms": 1e6}[tool["unit"]] \
        / 1e9
    les = [le for le, _ in histograms(fams)[
        ("bpfkit_read_latency_seconds", (("result", "ok"),))]["buckets"]]
    i_prom, i_tool = bucket_index(les, prom_p99), bucket_index(les, tool_p99)
    print(f"p99: prometheus {prom_p99:.9f} s (bucket {i_prom}), "
          f"readlat {tool_p99:.9f} s (bucket {i_tool}); count "
          f"{prom_count:.0f} / {tool['count']}")
    assert prom_count == tool["count"] >= 2040, (prom_count, tool["count"])
    assert abs(i_prom - i_tool) <= 1, (prom_p99, tool_p99, les)
    # The slow reads waited about 2 ms: p99 is among them.
    assert 1e-3 < tool_p99 < 0.5, tool_p99
