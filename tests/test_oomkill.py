"""oomkill against real OOM kills, each confined to a memory cgroup the test
makes (64 MiB, no swap) below the test's own memory cgroup.

Safety: a process allocates only after it has joined the test's cgroup,
and never more than 4x the limit in all (if the limit did not hold, it
would stop there and the test fail); every process left in a test cgroup
is killed and the cgroup removed, also when the test fails.
"""
import contextlib
import os
import re
import select
import signal
import subprocess
import tempfile
import time

from kitlib import Skip, Tool, cgroup, join_cgroup, run_tool

LIMIT = 64 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")

# Allocates 1 MiB at a time, touching every page, until the OOM killer
# ends it (at most 4x the limit: the limit must hold long before that).
ALLOC = (f"chunks = []\n"
         f"for i in range({4 * LIMIT >> 20}):\n"
         f"    chunks.append(b'x' * (1 << 20))\n"
         f"print('survived', flush=True)\n")

# The victim's anonymous memory is charged to the cgroup: it cannot exceed
# the limit, but for the slack of the kernel's per-CPU RSS counters.
RSS_MAX_KB = (LIMIT >> 10) + 4096

JSON_KEYS = {
    "time", "time_ns", "trigger_pid", "trigger_tid", "trigger_comm", "pid",
    "tid", "comm", "uid", "pages", "points", "constraint", "oom_cgroup",
    "oom_cgroup_id", "total_vm_kb", "anon_rss_kb", "file_rss_kb",
    "shmem_rss_kb", "pgtables_kb", "oom_score_adj", "cgroup", "cgroup_id",
    "cgroup_hierarchy", "loadavg", "source",
}

LINE = re.compile(
    r'^(?P<time>\d\d:\d\d:\d\d) Triggered by PID (?P<tpid>\d+) '
    r'\("(?P<tcomm>.*)"\), OOM kill of PID (?P<pid>\d+) \("(?P<comm>.*)"\), '
    r'(?P<pages>\d+|\?) pages, '
    r'loadavg: (?P<loadavg>[\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+), '
    r'UID:(?P<uid>\d+)'
    r'(?: anon-rss:(?P<anon>\d+)kB file-rss:(?P<file>\d+)kB '
    r'shmem-rss:(?P<shmem>\d+)kB)?'
    r' oom_score_adj:(?P<adj>-?\d+)'
    r'(?: constraint:(?P<constraint>\w+))?'
    r'(?: memcg:(?P<memcg>\S+))?'
    r'(?: cgroup:(?P<cgroup>.*))?$')


# ---- memory cgroups ------------------------------------------------------

def _memory_hierarchy():
    """(kind, root, parent): where to make a memory cgroup. v1: the memory
    controller's hierarchy, below our own cgroup there; v2: a unified
    hierarchy with the memory controller enabled for its children."""
    v1 = "/sys/fs/cgroup/memory"
    if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")) or \
            os.path.exists(os.path.join(v1, "cgroup.procs")):
        parent = v1
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if "memory" in ctrls.split(","):
                    own = os.path.join(v1, path.lstrip("/"))
                    if os.access(own, os.W_OK):
                        parent = own
        return "v1", v1, parent
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup2":
                continue
            root = fields[4]
            try:
                with open(os.path.join(root, "cgroup.subtree_control")) as c:
                    if "memory" in c.read().split():
                        return "v2", root, root
            except OSError:
                pass
    raise Skip("no memory cgroup controller usable here (v1 "
               "/sys/fs/cgroup/memory, or v2 with +memory at the root)")


def _write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def _procs(path):
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _remove_cgroup(path):
    """Kill what is left inside (children first), then rmdir, bottom-up."""
    for sub in sorted((os.path.join(d, n) for d, dirs, _ in os.walk(path)
                       for n in dirs), key=len, reverse=True) + [path]:
        deadline = time.monotonic() + 10
        while True:
            for pid in _procs(sub):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            try:
                os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class Memcg:
    """A memory cgroup for one test: path, rel (its path below the
    hierarchy's root, as oomkill prints it), kind ("v1"/"v2")."""

    def __init__(self, kind, root, path):
        self.kind, self.root, self.path = kind, root, path
        self.rel = "/" + os.path.relpath(path, root)

    def limit(self, nbytes):
        if self.kind == "v1":
            _write(os.path.join(self.path, "memory.limit_in_bytes"), nbytes)
            memsw = os.path.join(self.path, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # no swap to delay the kill
                _write(memsw, nbytes)
        else:
            _write(os.path.join(self.path, "memory.max"), nbytes)
            swap = os.path.join(self.path, "memory.swap.max")
            if os.path.exists(swap):
                _write(swap, 0)

    def child(self, name):
        path = os.path.join(self.path, name)
        os.mkdir(path)
        return Memcg(self.kind, self.root, path)

    def join(self, pid):
        _write(os.path.join(self.path, "cgroup.procs"), pid)

    def oom_kills(self):
        """The kernel's own count of OOM kills in this cgroup."""
        if self.kind == "v1":
            name, key = "memory.oom_control", "oom_kill"
        else:
            name, key = "memory.events", "oom_kill"
        with open(os.path.join(self.path, name)) as f:
            for line in f:
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
        return None

    @property
    def hierarchy(self):
        return "memory" if self.kind == "v1" else "unified"


@contextlib.contextmanager
def memcg(limit=LIMIT):
    kind, root, parent = _memory_hierarchy()
    path = tempfile.mkdtemp(prefix="bpfkit-oom-", dir=parent)
    try:
        cg = Memcg(kind, root, path)
        if limit:
            cg.limit(limit)
        yield cg
    finally:
        _remove_cgroup(path)


# ---- processes -----------------------------------------------------------

@contextlib.contextmanager
def children():
    """Processes the test starts; any still running at the end are
    killed."""
    procs = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def start_in(cg, procs, code, name, uid=None):
    """A python child named name, in cg from before it runs (so that all
    its memory is charged there), that runs code once go() is called."""
    procs_file = os.path.join(cg.path, "cgroup.procs")
    prelude = ("import ctypes, os, sys\n"
               f"ctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0)\n"
               "sys.stdin.readline()\n")

    def enter():
        with open(procs_file, "w") as f:
            f.write(str(os.getpid()))
        if uid is not None:
            os.setgid(uid)
            os.setuid(uid)
    child = subprocess.Popen(["python3", "-c", prelude + code],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=enter)
    procs.append(child)
    return child


def go(child):
    child.stdin.write(b"go\n")
    child.stdin.flush()


def read_line(child, timeout=20):
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    assert ready, "child said nothing"
    return child.stdout.readline().decode().strip()


def oom_kill(child, timeout=30):
    """Wait for a released allocator to be OOM-killed."""
    try:
        rc = child.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"allocator {child.pid} still alive after "
                             f"{timeout}s: the limit did not hold")
    assert rc == -signal.SIGKILL, f"allocator {child.pid} ended with {rc}"


def events_for(tool, pid):
    return [e for e in tool.json() if e["pid"] == pid]


def lines_for(tool, pid):
    out = []
    for line in tool.lines():
        m = LINE.match(line)
        assert m, f"line not in the documented format: {line!r}"
        if int(m["pid"]) == pid:
            out.append(m)
    return out


def wait_event(tool, pid, json=True):
    tool.wait_for(lambda: (f'"pid":{pid},' if json else
                           f"OOM kill of PID {pid} ").encode() in tool.out,
                  timeout=10, what=f"the OOM kill of {pid}")


def full_path_expected(tool):
    """Whether pages, constraint and the OOM cgroup can be known: the
    task-based tracepoint programs and the oom_kill_process ones."""
    return all(e["source"] != "mark_victim_record" for e in tool.json())


# ---- tests ---------------------------------------------------------------

def test_text_line_names_victim_pid_comm_cgroup_and_rss():
    with memcg() as cg, children() as procs:
        child = start_in(cg, procs, ALLOC, "kitoomtext")
        with Tool("oomkill") as t:
            t.wait_ready()
            t0 = time.time()
            go(child)
            oom_kill(child)
            wait_event(t, child.pid, json=False)
            assert t.stop() == 0, t.stderr
        hits = lines_for(t, child.pid)
        assert len(hits) == 1, t.stdout
        m = hits[0]
        assert m["comm"] == "kitoomtext" and m["tcomm"] == "kitoomtext"
        assert int(m["tpid"]) == child.pid  # it ran out itself
        assert int(m["uid"]) == 0
        assert m["cgroup"] == cg.rel, (m["cgroup"], cg.rel)
        # the limit caps what it could charge; most of it is its heap
        anon = int(m["anon"])
        assert LIMIT // 2048 <= anon <= RSS_MAX_KB, anon
        assert int(m["file"]) >= 0 and int(m["shmem"]) == 0
        assert m["adj"] == "0"
        assert m["pages"] == str(LIMIT // PAGE), m["pages"]
        assert m["constraint"] == "memcg" and m["memcg"] == cg.rel
        hms = time.strftime("%H:%M:%S", time.localtime(t0))
        assert abs(_seconds(m["time"]) - _seconds(hms)) <= 10, m["time"]
        assert cg.oom_kills() == 1


def _seconds(hms):
    h, m, s = map(int, hms.split(":"))
    return h * 3600 + m * 60 + s


def test_json_has_every_field():
    with memcg() as cg, children() as procs:
        child = start_in(cg, procs, ALLOC, "kitoomjson")
        with Tool("oomkill", "-j") as t:
            t.wait_ready()
            go(child)
            oom_kill(child)
            wait_event(t, child.pid)
            assert t.stop() == 0, t.stderr
        evs = events_for(t, child.pid)
        assert len(evs) == 1, t.stdout
        e = evs[0]
        assert set(e) == JSON_KEYS, set(e) ^ JSON_KEYS
        assert e["pid"] == e["tid"] == e["trigger_pid"] == child.pid
        assert e["trigger_tid"] == child.pid
        assert e["comm"] == e["trigger_comm"] == "kitoomjson"
        assert e["uid"] == 0 and e["oom_score_adj"] == 0
        assert e["cgroup"] == cg.rel and e["cgroup_hierarchy"] == cg.hierarchy
        assert e["cgroup_id"] == os.stat(cg.path).st_ino
        assert LIMIT // 2048 <= e["anon_rss_kb"] <= RSS_MAX_KB, e
        assert e["total_vm_kb"] >= e["anon_rss_kb"] + e["file_rss_kb"]
        assert e["shmem_rss_kb"] == 0 and e["pgtables_kb"] > 0
        assert e["time"].endswith("Z") and e["time_ns"] > 0
        assert re.match(r"^[\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+$", e["loadavg"])
        assert e["source"] in ("mark_victim", "oom_kill_process"), e
        # the oom_control: a memcg OOM over 64 MiB; the victim's badness is
        # its resident and page-table pages (oom_score_adj 0, no swap)
        assert e["pages"] == LIMIT // PAGE, e
        assert e["constraint"] == "memcg"
        assert e["oom_cgroup"] == cg.rel
        assert e["oom_cgroup_id"] == e["cgroup_id"]
        rss = e["anon_rss_kb"] + e["file_rss_kb"] + e["shmem_rss_kb"]
        badness = (rss + e["pgtables_kb"]) * 1024 // PAGE
        assert abs(e["points"] - badness) <= badness // 20, (badness, e)


def test_trigger_and_victim_differ_with_oom_score_adj():
    """A hog (oom_score_adj 1000) holds 40 MiB; a second process allocates
    past the limit: it triggers the OOM, the hog is killed."""
    hog_code = ("open('/proc/self/oom_score_adj', 'w').write('1000')\n"
                "hog = [b'h' * (1 << 20) for _ in range(40)]\n"
                "print('ready', flush=True)\n"
                "sys.stdin.readline()\n")
    small_code = ("chunks = [b's' * (1 << 20) for _ in range(40)]\n"
                  "print('done', flush=True)\n")
    with memcg() as cg, children() as procs:
        hog = start_in(cg, procs, hog_code, "kithog")
        small = start_in(cg, procs, small_code, "kitsmall")
        with Tool("oomkill", "-j") as t:
            t.wait_ready()
            go(hog)
            assert read_line(hog) == "ready"
            go(small)
            oom_kill(hog)
            assert small.wait(30) == 0, "the trigger should survive"
            wait_event(t, hog.pid)
            assert t.stop() == 0, t.stderr
        evs = events_for(t, hog.pid)
        assert len(evs) == 1, t.stdout
        e = evs[0]
        assert e["comm"] == "kithog" and e["oom_score_adj"] == 1000
        assert e["trigger_pid"] == small.pid
        assert e["trigger_comm"] == "kitsmall"
        assert e["cgroup"] == cg.rel
        assert e["anon_rss_kb"] >= 40 * 1024 * 0.9, e
        assert not events_for(t, small.pid), t.stdout
        assert cg.oom_kills() == 1


def test_limit_on_parent_names_both_cgroups():
    """The victim lives in a child cgroup; the limit that was hit is its
    parent's: cgroup is the child, oom_cgroup the parent."""
    with memcg() as cg, children() as procs:
        sub = cg.child("job")
        child = start_in(sub, procs, ALLOC, "kitoomsub")
        with Tool("oomkill", "-j") as t:
            t.wait_ready()
            go(child)
            oom_kill(child)
            wait_event(t, child.pid)
            assert t.stop() == 0, t.stderr
        e = events_for(t, child.pid)
        assert len(e) == 1, t.stdout
        e = e[0]
        assert e["cgroup"] == sub.rel and e["cgroup"].endswith("/job")
        assert e["oom_cgroup"] == cg.rel, e
        assert e["oom_cgroup_id"] == os.stat(cg.path).st_ino
        assert e["constraint"] == "memcg" and e["pages"] == LIMIT // PAGE


def test_filters_select_the_victim_not_the_trigger():
    """-p, -n and -u select by the victim: a hog (nobody, oom_score_adj
    1000) is killed when a root process runs the cgroup out of memory."""
    hog_code = ("open('/proc/self/oom_score_adj', 'w').write('1000')\n"
                "hog = [b'h' * (1 << 20) for _ in range(40)]\n"
                "print('ready', flush=True)\n"
                "sys.stdin.readline()\n")
    small_code = "chunks = [b's' * (1 << 20) for _ in range(40)]\n"
    with memcg() as cg, children() as procs, \
            contextlib.ExitStack() as stack:
        hog = start_in(cg, procs, hog_code, "kithog", uid=65534)
        small = start_in(cg, procs, small_code, "kitsmall")
        filters = {
            "victim pid": (["-p", hog.pid], True),
            "trigger pid": (["-p", small.pid], False),
            "victim name": (["-n", "kithog"], True),
            "trigger name": (["-n", "kitsmall"], False),
            "victim uid": (["-u", 65534], True),
            "trigger uid": (["-u", 0], False),
        }
        tools = {k: stack.enter_context(Tool("oomkill", "-j", *args))
                 for k, (args, _) in filters.items()}
        for t in tools.values():
            t.wait_ready()
        go(hog)
        assert read_line(hog) == "ready"
        go(small)
        oom_kill(hog)
        assert small.wait(30) == 0
        for k, t in tools.items():
            # -p ends once its process has exited; the others on SIGINT
            assert t.stop() == 0, (k, t.stderr)
        for k, (_, reports) in filters.items():
            got = tools[k].json()
            if not reports:
                assert got == [], (k, got)
                continue
            assert [e["pid"] for e in got] == [hog.pid], (k, got)
            assert got[0]["uid"] == 65534 and got[0]["comm"] == "kithog"
            assert got[0]["trigger_pid"] == small.pid, (k, got)


def test_cgroup_filter_selects_the_victims_cgroup():
    with memcg() as cg, memcg(limit=0) as other, children() as procs:
        child = start_in(cg, procs, ALLOC, "kitoomcg")
        with Tool("oomkill", "-j", "--cgroup", cg.path) as inside, \
                Tool("oomkill", "-j", "--cgroup", other.path) as outside:
            inside.wait_ready()
            outside.wait_ready()
            go(child)
            oom_kill(child)
            wait_event(inside, child.pid)
            # stop() drains what the kernel has queued for either
            assert inside.stop() == 0 and outside.stop() == 0
        assert [e["pid"] for e in inside.json()] == [child.pid]
        assert outside.json() == [], outside.stdout


def test_cgroup_filter_on_v2_while_memory_is_v1():
    """On a hybrid machine the victim is also in a cgroup of the unified
    hierarchy: --cgroup with that path selects it (a v2 walk of the
    victim's ancestors, in the kernel)."""
    with memcg() as cg:
        if cg.kind != "v1":
            raise Skip("the memory controller is on v2 here: covered by "
                       "test_cgroup_filter_selects_the_victims_cgroup")
    with memcg() as cg, cgroup("v2") as v2, cgroup("v2") as v2other, \
            children() as procs:
        child = start_in(cg, procs, ALLOC, "kitoomv2")
        join_cgroup(v2, child.pid)
        with Tool("oomkill", "-j", "--cgroup", v2) as inside, \
                Tool("oomkill", "-j", "--cgroup", v2other) as outside:
            inside.wait_ready()
            outside.wait_ready()
            go(child)
            oom_kill(child)
            wait_event(inside, child.pid)
            assert inside.stop() == 0 and outside.stop() == 0
        got = inside.json()
        assert [e["pid"] for e in got] == [child.pid], inside.stdout
        # its cgroup is still reported in the memory hierarchy
        assert got[0]["cgroup"] == cg.rel
        assert outside.json() == [], outside.stdout


def test_hostile_names_are_escaped():
    for mode in ("text", "json"):
        with memcg() as cg, children() as procs:
            child = start_in(cg, procs, ALLOC, "k\nit\x1b[31m")
            args = ["-j"] if mode == "json" else []
            with Tool("oomkill", *args) as t:
                t.wait_ready()
                go(child)
                oom_kill(child)
                t.wait_for(lambda: str(child.pid).encode() in t.out,
                           what="the event")
                assert t.stop() == 0
        raw = bytes(t.out)
        assert b"\x1b" not in raw, raw
        if mode == "json":
            assert events_for(t, child.pid)[0]["comm"] == "k\nit\x1b[31m"
        else:
            assert rb'("k\nit\x1b[31m")' in raw, raw


def test_deep_and_long_cgroup_paths_are_marked():
    """Deeper than 16 levels: the top is cut ("..."); longer than 511
    bytes: the end is cut. JSON flags both with cgroup_truncated."""
    with memcg() as cg, children() as procs:
        deep = cg
        for i in range(17):
            deep = deep.child(f"d{i}")
        longp = cg.child("l" * 200).child("m" * 200).child("n" * 200)
        a = start_in(deep, procs, ALLOC, "kitoomdeep")
        with Tool("oomkill", "-j") as t:
            t.wait_ready()
            go(a)
            oom_kill(a)
            wait_event(t, a.pid)
            b = start_in(longp, procs, ALLOC, "kitoomlong")
            go(b)
            oom_kill(b)
            wait_event(t, b.pid)
            assert t.stop() == 0, t.stderr
        ea, eb = events_for(t, a.pid)[0], events_for(t, b.pid)[0]
        tail16 = "/" + "/".join(deep.rel.split("/")[-16:])
        assert ea["cgroup"] == "..." + tail16, (ea["cgroup"], deep.rel)
        assert ea["cgroup_truncated"] is True
        assert ea["cgroup_id"] == os.stat(deep.path).st_ino
        assert len(eb["cgroup"]) == 511 and longp.rel.startswith(eb["cgroup"])
        assert eb["cgroup_truncated"] is True
        assert "oom_cgroup_truncated" not in ea  # the limit is on cg
        assert ea["oom_cgroup"] == eb["oom_cgroup"] == cg.rel


def test_command_mode_reports_the_command_and_exits_with_its_status():
    with memcg() as cg, tempfile.NamedTemporaryFile("w", suffix=".py") as f:
        f.write("import ctypes\n"
                "ctypes.CDLL(None).prctl(15, b'kitoomcmd', 0, 0, 0)\n"
                + ALLOC)
        f.flush()
        script = f"echo $$ > {cg.path}/cgroup.procs && exec python3 {f.name}"
        with Tool("oomkill", "-j", "--", "sh", "-c", script) as t:
            t.wait_ready()
            rc = t.wait_exit(timeout=60)
            t.stop()
        assert rc == 128 + signal.SIGKILL, (rc, t.stderr)
        evs = t.json()
        assert len(evs) == 1, t.stdout
        assert evs[0]["comm"] == "kitoomcmd"
        assert evs[0]["cgroup"] == cg.rel
        assert cg.oom_kills() == 1


def test_each_attach_mechanism():
    """Every mechanism this kernel offers reports the kill; the classic
    tracepoint's record has no task (no cgroup, no oom_control)."""
    seen = 0
    for mech in ("tp_btf", "raw_tp", "tracepoint", "fentry", "kprobe"):
        rc, _, err = run_tool("oomkill", "--attach", mech, "-d", "0.1")
        if rc == 1 and "cannot attach mark_victim" in err:
            continue  # not on this kernel
        assert rc == 0, (mech, rc, err)
        seen += 1
        with memcg() as cg, children() as procs:
            child = start_in(cg, procs, ALLOC, "kitoommech")
            with Tool("oomkill", "-j", "-v", "--attach", mech) as t:
                t.wait_ready()
                go(child)
                oom_kill(child)
                wait_event(t, child.pid)
                assert t.stop() == 0, t.stderr
            assert f"hook mark_victim: {mech} " in t.stderr, t.stderr
            evs = events_for(t, child.pid)
            assert len(evs) == 1, (mech, t.stdout)
            e = evs[0]
            assert e["comm"] == "kitoommech" and e["uid"] == 0
            assert LIMIT // 2048 <= e["anon_rss_kb"] <= RSS_MAX_KB
            if mech == "tracepoint":
                assert e["source"] == "mark_victim_record"
                assert e["cgroup"] is None and e["pages"] is None, e
                assert e["constraint"] is None
            else:
                assert e["cgroup"] == cg.rel, (mech, e)
                assert e["pages"] == LIMIT // PAGE, (mech, e)
                assert e["constraint"] == "memcg", (mech, e)
    assert seen >= 1


def test_usage_errors_are_one_line_exit_2():
    for args in (["-t", "1"], ["-T"], ["-p", "abc"], ["--bogus"],
                 ["-d", "0"], ["--cgroup", "/nonexistent/cg"], ["stray"]):
        rc, out, err = run_tool("oomkill", *args)
        assert rc == 2, (args, rc, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
        assert out == "", (args, out)
