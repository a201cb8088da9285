"""Hardening: every way a tool ends leaves nothing behind; hostile data is
escaped; overload is counted and survivable; output errors end the tool
cleanly; missing privileges and kernel features say what to do.

Teardown cycles per tool (issue: 100 per tool) are spread over the end
methods. The CI default keeps the suite fast: opensnoop 100 cycles, the
other tools 28 (four per method); BPFKIT_TEARDOWN_CYCLES=N sets every tool
to N (scripts/soak.sh uses 100)."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

from kitlib import Skip, Tool, release, require_bpf, spawn_python, tempdir
from kitlib import tool_path
from test_badinput import TOOLS, features

TRACEFS = "/sys/kernel/tracing"
END_METHODS = ["SIGINT", "SIGTERM", "SIGHUP", "pipe", "duration", "command",
               "pid_exit"]


def cycles_for(tool):
    env = os.environ.get("BPFKIT_TEARDOWN_CYCLES")
    if env:
        return int(env)
    return 100 if tool == "opensnoop" else 4 * len(END_METHODS)


# ---- what a process holds, and checking it is gone -------------------------

def owned(pid):
    """BPF program, link and map ids the process holds (fdinfo)."""
    got = {"prog_id": set(), "link_id": set(), "map_id": set()}
    base = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(base):
        try:
            with open(os.path.join(base, fd)) as f:
                for line in f:
                    key, _, val = line.partition(":")
                    if key in got:
                        got[key].add(int(val))
        except (OSError, ValueError):
            pass
    return got


def live_ids(kind):
    """Ids of the BPF objects of a kind ("prog", "link", "map") now. bpftool
    fails when an object goes away while it lists them (other tracers
    start and stop concurrently): try again."""
    for _ in range(10):
        p = subprocess.run(["bpftool", "-j", kind, "show"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return {o["id"] for o in json.loads(p.stdout or "[]")}
        time.sleep(0.02)
    raise AssertionError(f"bpftool {kind} show: {p.stderr}")


def probe_entries(pid):
    """Legacy kprobe/uprobe entries libbpf made for this process."""
    found = []
    for name in ("kprobe_events", "uprobe_events"):
        try:
            with open(os.path.join(TRACEFS, name)) as f:
                found += [l for l in f if f"libbpf_{pid}_" in l]
        except OSError:
            pass
    return found


def check_gone(held, pid, timeout=5):
    """Everything the tool held is freed (asynchronously: wait a little),
    and no tracefs probe entry of its remains."""
    deadline = time.monotonic() + timeout
    while True:
        left = {k: held[k] & live_ids(k.split("_")[0])
                for k in ("prog_id", "link_id", "map_id")}
        left = {k: v for k, v in left.items() if v}
        probes = probe_entries(pid)
        if not left and not probes:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind by pid {pid}: {left} "
                                 f"{probes}")
        time.sleep(0.05)


# ---- events the tools can be made to see ----------------------------------

class Listener:
    """A loopback TCP listener that accepts and closes, for connects."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def poke(tool, ctx):
    """Cause one event the tool reports (text output), if we know how."""
    if tool == "opensnoop":
        open(os.path.join(ctx["dir"], "poke"), "w").close()
    elif tool == "tcpconnect":
        with socket.create_connection(("127.0.0.1", ctx["port"]), 1):
            pass
    elif tool == "readlat":
        with open("/proc/self/stat") as f:
            f.read(1)
    elif tool == "biolatency":
        fd = os.open(os.path.join(ctx["dir"], "io"),
                     os.O_CREAT | os.O_WRONLY | os.O_SYNC)
        os.write(fd, b"x" * 4096)
        os.close(fd)


def can_poke(tool):
    return tool in ("opensnoop", "tcpconnect", "readlat", "biolatency")


# ---- one start/stop cycle ----------------------------------------------------

def base_args(feat):
    """Arguments for a cycle: histogram tools (an interval, no event ring
    buffer) print every 0.1 s."""
    return ["0.1"] if feat["interval"] and not feat["buffer"] else []


def cycle_signal(tool, feat, sig):
    with Tool(tool, *base_args(feat)) as t:
        t.wait_ready()
        held, pid = owned(t.proc.pid), t.proc.pid
        rc = t.stop(sig)
    assert rc == 0, (tool, sig, rc, t.stderr)
    check_gone(held, pid)


def cycle_duration(tool, feat):
    with Tool(tool, "--duration", "0.2", *base_args(feat)) as t:
        t.wait_ready()
        held, pid = owned(t.proc.pid), t.proc.pid
        rc = t.wait_exit(10)
    assert rc == 0, (tool, rc, t.stderr)
    check_gone(held, pid)


def cycle_command(tool, feat):
    with Tool(tool, "--", "sh", "-c", "sleep 0.1; exit 3") as t:
        t.wait_ready()
        held, pid = owned(t.proc.pid), t.proc.pid
        rc = t.wait_exit(10)
    assert rc == 3, (tool, rc, t.stderr)
    check_gone(held, pid)


def cycle_pid_exit(tool, feat):
    target = subprocess.Popen(["sleep", "30"])
    try:
        with Tool(tool, "--pid", target.pid) as t:
            t.wait_ready()
            held, pid = owned(t.proc.pid), t.proc.pid
            target.kill()
            target.wait()
            rc = t.wait_exit(10)
    finally:
        target.kill()
        target.wait()
    assert rc == 0, (tool, rc, t.stderr)
    assert re.search(r"traced process(es)? exited", t.stderr), t.stderr
    check_gone(held, pid)


def cycle_pipe(tool, feat, ctx):
    """tool | head -1: the tool ends when the reader has gone."""
    head = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)
    t = subprocess.Popen([tool_path(tool), *base_args(feat)],
                         stdout=head.stdin, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    head.stdin.close()
    try:
        err = b""
        while b"Tracing" not in err:
            line = t.stderr.readline()
            assert line, f"{tool} ended before ready: {err!r}"
            err += line
        held = owned(t.pid)
        deadline = time.monotonic() + 15
        while t.poll() is None and time.monotonic() < deadline:
            poke(tool, ctx)
            time.sleep(0.02)
        assert t.poll() is not None, f"{tool} | head -1 did not end"
        err += t.stderr.read()
    finally:
        if t.poll() is None:
            t.kill()
            t.wait()
        head.wait()
    assert t.returncode == 0, (tool, t.returncode, err)
    assert b"write error" not in err, err
    check_gone(held, t.pid)


def teardown_cycles(tool):
    if not os.path.exists(tool_path(tool)):
        raise Skip(f"{tool} is not built yet")
    feat = features(tool)
    methods = [m for m in END_METHODS
               if (m != "command" or feat["command"])
               and (m != "pid_exit" or feat["pid"])
               and (m != "duration" or feat["duration"])
               and (m != "pipe" or can_poke(tool) or base_args(feat))]
    skipped = sorted(set(END_METHODS) - set(methods))
    n = cycles_for(tool)
    counts = dict.fromkeys(methods, 0)
    listener = Listener() if tool == "tcpconnect" else None
    t0 = time.monotonic()
    with tempdir() as d:
        ctx = {"dir": d, "port": listener.port if listener else 0}
        try:
            for i in range(n):
                m = methods[i % len(methods)]
                if m.startswith("SIG"):
                    cycle_signal(tool, feat, getattr(signal, m))
                elif m == "pipe":
                    cycle_pipe(tool, feat, ctx)
                elif m == "duration":
                    cycle_duration(tool, feat)
                elif m == "command":
                    cycle_command(tool, feat)
                else:
                    cycle_pid_exit(tool, feat)
                counts[m] += 1
        finally:
            if listener:
                listener.close()
    print(f"{tool}: {n} cycles in {time.monotonic() - t0:.1f}s: {counts}"
          + (f"; not applicable: {skipped}" if skipped else ""))


def _make(tool):
    def test():
        teardown_cycles(tool)
    return test


for _tool in TOOLS:
    globals()[f"test_teardown_cycles_{_tool}"] = _make(_tool)


# ---- hostile data ------------------------------------------------------------

def strict_json(line):
    """json.loads without the NaN/Infinity extensions."""
    def bad(c):
        raise ValueError(f"non-standard JSON constant {c}")
    return json.loads(line, parse_constant=bad)


HOSTILE_NAMES = [b"new\nline", b"cr\rtab\t", b"\x1b[2J\x1b[31mred",
                 b"bad\xff\xfeutf8", b"c1\xc2\x9b31m", b"bidi\xe2\x80\xaegpj",
                 b"back\\slash\"q", b"del\x7f", b"overlong\xc0\xaf"]


def _decode_json_expect(b):
    """What a JSON reader should see: invalid bytes as U+FFFD."""
    out, i = [], 0
    while i < len(b):
        for n in (1, 2, 3, 4):
            try:
                out.append(b[i:i + n].decode("utf-8"))
                i += n
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def test_hostile_file_names_and_comms():
    """File names and comms with newlines, escapes, invalid UTF-8, C1 and
    bidi controls: text has no control byte and one line per event, every
    JSON line is strict JSON and decodes to the name (invalid bytes as
    U+FFFD); a comm of the maximum 15 bytes is printed whole."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    comm = b"\x1b]0;x\x07\n\xff" + b"c" * 7  # 15 bytes
    assert len(comm) == 15
    with tempdir() as d:
        paths = [os.path.join(d.encode(), n) for n in HOSTILE_NAMES]
        code = ("import ctypes\n"
                f"ctypes.CDLL(None).prctl(15, {comm!r}, 0, 0, 0)\n" +
                "\n".join(f"open({p!r}, 'w').close()" for p in paths))
        for mode in ("text", "json"):
            child = spawn_python(code)
            with Tool("opensnoop", "-p", child.pid,
                      *(["-j"] if mode == "json" else [])) as t:
                t.wait_ready()
                release(child)
                t.stop()
            raw = bytes(t.out)
            lines = raw.split(b"\n")[:-1]
            if mode == "text":
                assert all(c >= 0x20 and c != 0x7f for l in lines for c in l), raw
                raw.decode("utf-8")  # valid UTF-8 as a whole
                ours = [l for l in lines[1:] if d.encode() in l]
                assert len(ours) == len(paths), lines
                assert all(b"\\x1b]0;x\\x07\\n\\xffccccccc" in l
                           for l in ours), ours
                assert b"\xe2\x80\xae" not in raw and b"\xc2\x9b" not in raw
            else:
                events = [strict_json(l) for l in lines]
                got = {e["path"] for e in events}
                for n in HOSTILE_NAMES:
                    want = d + "/" + _decode_json_expect(n)
                    assert want in got, (want, got)
                assert all(e["comm"] == _decode_json_expect(comm)
                           for e in events if d in e["path"]), events


def test_path_lengths_at_the_kernel_buffer():
    """opensnoop's kernel buffer holds 255 bytes and a NUL: a 255-byte
    path is whole (not marked), a 256-byte one is marked truncated and
    printed as its first 255 bytes, in text ("...") and JSON."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    with tempdir() as d:
        sub = os.path.join(d, "s" * 100)
        os.makedirs(sub)
        fit = sub + "/" + "f" * (255 - len(sub) - 1)
        over = sub + "/" + "o" * (256 - len(sub) - 1)
        assert len(fit) == 255 and len(over) == 256
        child = spawn_python(f"open({fit!r}, 'w').close()\n"
                             f"open({over!r}, 'w').close()\n")
        with Tool("opensnoop", "-j", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        events = [strict_json(l) for l in t.stdout.splitlines()]
        whole = [e for e in events if e["path"] == fit]
        cut = [e for e in events if e["path"] == over[:255]]
        assert cut and cut[0].get("path_truncated") is True, events
        assert whole, events
        assert "path_truncated" not in whole[0], (
            "a path of exactly 255 bytes fits the buffer but is marked "
            "truncated", whole[0])


# ---- overload ----------------------------------------------------------------

def test_ring_buffer_flood_is_counted_and_signals_still_work():
    """opensnoop with a 4 KiB ring buffer under an open() loop at full
    speed: lost events are reported on stderr while it runs and in the
    final count, and SIGINT still ends it within 2 s, cleanly."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    loop = ("import os, time\n"
            "end = time.monotonic() + 4\n"
            "while time.monotonic() < end:\n"
            "    for _ in range(1000):\n"
            "        os.close(os.open('/dev/null', os.O_RDONLY))\n")
    child = spawn_python(loop)
    try:
        with Tool("opensnoop", "--buffer-size", "4", "-p", child.pid) as t:
            t.wait_ready()
            held, pid = owned(t.proc.pid), t.proc.pid
            child.stdin.write(b"go\n")
            child.stdin.flush()
            t.wait_for(lambda: b"events lost" in bytes(t.err), 10,
                       "a lost-events warning")
            t0 = time.monotonic()
            t.proc.send_signal(signal.SIGINT)
            rc = t.wait_exit(10)
            took = time.monotonic() - t0
    finally:
        child.kill()
        child.wait()
    assert rc == 0, (rc, t.stderr)
    assert took < 2, f"took {took:.1f}s to stop under load"
    m = re.search(r"(\d+) events, (\d+) lost", t.stderr)
    assert m and int(m.group(2)) > 0, t.stderr
    check_gone(held, pid)


class OutTool(Tool):
    """A Tool whose stdout goes where the test says (a file, a pipe);
    only stderr is collected."""

    def __init__(self, name, *args, stdout):
        require_bpf()
        path = tool_path(name)
        assert os.path.exists(path), f"{path} not built"
        self.name = name
        self.proc = subprocess.Popen([path, *map(str, args)],
                                     stdin=subprocess.DEVNULL, stdout=stdout,
                                     stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        self._cond = threading.Condition()
        self._threads = [threading.Thread(
            target=self._pump, args=(self.proc.stderr, self.err),
            daemon=True)]
        self._threads[0].start()


def _tool_to_file(path, *args):
    """Run opensnoop with stdout to path; return the Tool."""
    with open(path, "wb") as f:
        return OutTool("opensnoop", *args, stdout=f)


def test_full_disk_ends_with_an_error_and_clean_teardown():
    """stdout on a 64 KiB tmpfs that fills up while events arrive: the
    tool says what failed (one line), exits 1, and leaves nothing."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    with tempdir() as d:
        mnt = os.path.join(d, "small")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k",
                            "bpfkit-full", mnt], capture_output=True)
        if r.returncode:
            raise Skip(f"cannot mount a tmpfs: {r.stderr!r}")
        try:
            t = _tool_to_file(os.path.join(mnt, "out"), "-j")
            with t:
                t.wait_ready()
                held, pid = owned(t.proc.pid), t.proc.pid
                deadline = time.monotonic() + 20
                while t.proc.poll() is None and time.monotonic() < deadline:
                    for i in range(200):
                        open(os.path.join(d, f"fill-{i}"), "w").close()
                rc = t.wait_exit(10)
        finally:
            subprocess.run(["umount", mnt])
    assert rc == 1, (rc, t.stderr)
    assert "No space left on device" in t.stderr, t.stderr
    errs = [l for l in t.stderr.splitlines() if "write error" in l]
    assert len(errs) == 1, t.stderr
    check_gone(held, pid)


def test_dev_full_at_start_fails_in_one_line():
    """stdout is /dev/full: the header cannot be written; exit 1 with the
    reason, before "Tracing"."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    with open("/dev/full", "wb") as full:
        p = subprocess.run([tool_path("opensnoop")], stdout=full,
                           stderr=subprocess.PIPE, timeout=15)
    err = p.stderr.decode()
    assert p.returncode == 1, (p.returncode, err)
    assert "No space left on device" in err and "Tracing" not in err, err
    assert len(err.splitlines()) == 1, err


def test_large_interval_output_error_is_reported():
    """readlat -P prints one histogram per process each interval: with
    many processes that is more than stdio buffers at once, so the write
    error surfaces in fwrite rather than in the flush. It must still be
    reported in one line, exit 1, nothing left."""
    if not os.path.exists(tool_path("readlat")):
        raise Skip("readlat is not built yet")
    with open("/dev/full", "wb") as full:
        t = OutTool("readlat", "-P", "0.5", stdout=full)
    with t:
        t.wait_ready()
        held, pid = owned(t.proc.pid), t.proc.pid
        for _ in range(60):
            subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=1",
                            "count=50"], stderr=subprocess.DEVNULL)
        rc = t.wait_exit(10)
    assert rc == 1, (rc, t.stderr)
    assert "write error: No space left on device" in t.stderr, t.stderr
    check_gone(held, pid)


def test_closed_pipe_in_json_mode_ends_cleanly():
    """The reader of -j output goes away: exit 0, no error, nothing
    left (the text case is the 'pipe' teardown method)."""
    if not os.path.exists(tool_path("opensnoop")):
        raise Skip("opensnoop is not built yet")
    r, w = os.pipe()
    with tempdir() as d:
        t = OutTool("opensnoop", "-j", stdout=w)
        os.close(w)
        with t:
            t.wait_ready()
            held, pid = owned(t.proc.pid), t.proc.pid
            os.read(r, 1)
            os.close(r)
            deadline = time.monotonic() + 15
            while t.proc.poll() is None and time.monotonic() < deadline:
                open(os.path.join(d, "x"), "w").close()
                time.sleep(0.01)
            rc = t.wait_exit(5)
    assert rc == 0, (rc, t.stderr)
    assert "error" not in t.stderr, t.stderr
    check_gone(held, pid)


# ---- privileges and kernel features --------------------------------------

def _built():
    return [t for t in TOOLS if os.path.exists(tool_path(t))]


def _one_line_failure(cmd, pattern):
    p = subprocess.run(cmd, capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 1, (cmd, p.returncode, err)
    assert p.stdout == b"", (cmd, p.stdout)
    assert len(err.splitlines()) == 1, (cmd, err)
    assert re.search(pattern, err), (cmd, err)


def test_not_root_names_the_capabilities():
    """As nobody, and as root without capabilities: one line naming the
    capabilities needed, exit 1."""
    if os.geteuid() != 0:
        raise Skip("needs root to drop privileges")
    tools = _built()
    if not tools:
        raise Skip("no tool built")
    want = r"need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN"
    for tool in tools:
        path = tool_path(tool)
        _one_line_failure(["setpriv", "--reuid=65534", "--regid=65534",
                           "--clear-groups", path], want)
        _one_line_failure(["setpriv", "--inh-caps=-all", "--bounding-set=-all",
                           path], want)


def _in_private_sys(script):
    """Run a shell script in a mount namespace of its own."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
            script]


def test_no_btf_says_what_is_needed():
    """/sys/kernel/btf hidden (a mount namespace of the test's own): one
    line saying CO-RE needs kernel BTF, exit 1."""
    if os.geteuid() != 0:
        raise Skip("needs root for a mount namespace")
    tools = _built()
    if not tools:
        raise Skip("no tool built")
    for tool in tools:
        script = ("mount -t tmpfs -o ro nobtf /sys/kernel/btf\n"
                  f"exec {tool_path(tool)}")
        _one_line_failure(_in_private_sys(script),
                          r"kernel BTF not found.*CONFIG_DEBUG_INFO_BTF")


def test_tracefs_absent_and_unmountable_says_what_to_do():
    """/sys/kernel/tracing gone and impossible to mount (a read-only
    /sys/kernel in the test's own mount namespace, BTF kept): a tool that
    needs classic tracepoints says in one line that tracefs is needed and
    how to mount it; a tool that can use tp_btf or raw_tp still runs."""
    if os.geteuid() != 0:
        raise Skip("needs root for a mount namespace")
    tools = _built()
    if not tools:
        raise Skip("no tool built")
    for tool in tools:
        script = (
            "d=$(mktemp -d)\n"
            "mount --bind /sys/kernel/btf $d\n"
            "mount -t tmpfs kernel /sys/kernel\n"
            "mkdir /sys/kernel/btf\n"
            "mount --move $d /sys/kernel/btf\n"
            "rmdir $d\n"
            "mount -o remount,ro /sys/kernel\n"
            f"exec {tool_path(tool)} --duration 0.2 \"$@\"")
        _one_line_failure(_in_private_sys(script) + ["sh", "--attach",
                                                     "tracepoint"],
                          r"tracefs.*mount -t tracefs")
        # Unrestricted: runs on tp_btf/raw_tp if the tool has them, else
        # the same one line.
        p = subprocess.run(_in_private_sys(script), capture_output=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode == 0:
            assert "Tracing" in err, (tool, err)
        else:
            assert p.returncode == 1 and len(err.splitlines()) == 1, (
                tool, p.returncode, err)
            assert re.search(r"tracefs.*mount -t tracefs", err), (tool, err)
