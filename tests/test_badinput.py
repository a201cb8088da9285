"""Bad invocations of every tool, table-driven.

Each one must give exactly one line on stderr that names the problem (the
option or the bad value), exit 2 for a usage error or 1 for a run-time
failure, print nothing on stdout, and load nothing: a usage error makes no
bpf() call at all (checked with strace when it is installed), a run-time
failure attaches nothing.

The cases a tool gets follow from its --help (which options it offers), so
a tool is covered as soon as it is built; a tool not built yet is skipped
with the reason."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

from kitlib import Skip, tool_path

TOOLS = ["opensnoop", "tcpconnect", "tcpretrans", "biolatency", "readlat",
         "oomkill"]

STRACE = shutil.which("strace")


def unused_pid():
    """A PID that no process or thread has now."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


def features(tool):
    """What the tool offers, from its --help."""
    p = subprocess.run([tool_path(tool), "--help"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, f"{tool} --help: {p.returncode} {p.stderr}"
    h = p.stdout
    usage = h.splitlines()[0] if h else ""
    opt = lambda name: re.search(rf"(^|[ ,])--{name}\b", h, re.M) is not None
    return {
        "pid": opt("pid"), "tid": opt("tid"), "uid": opt("uid"),
        "cgroup": opt("cgroup"), "name": opt("name"),
        "duration": opt("duration"), "metrics": opt("metrics"),
        "command": "[-- COMMAND" in usage, "interval": "[INTERVAL" in usage,
        "port": opt("port"), "lport": opt("lport"), "raddr": opt("raddr"),
        "laddr": opt("laddr"), "ipv4": opt("ipv4") and opt("ipv6"),
        "count": opt("count") and "-c, --count" in h,
        "failed": opt("failed"), "disk": opt("disk"),
        "syscalls": opt("syscalls"), "unit": opt("unit"),
        "buffer": opt("buffer-size"),
        # A mechanism this kernel lacks: nothing can attach with it.
        "nokprobes": not os.path.exists(
            "/sys/bus/event_source/devices/kprobe"),
    }


class Ctx:
    """Values some cases need, made once per run."""

    def __init__(self):
        self.pid = unused_pid()
        self.tmp = tempfile.mkdtemp(prefix="bpfkit-badinput-")
        # A port something already listens on.
        self.busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.busy.bind(("127.0.0.1", 0))
        self.busy.listen(1)
        self.busy_port = self.busy.getsockname()[1]

    def close(self):
        self.busy.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# (needs, args, exit status, what stderr must match). args may use
# {pid} (no such process), {tmp} (an empty directory), {busy} (a port
# in use). A needs of None: every tool.
CASES = [
    # options the tool does not have, or malformed
    (None, ["--bogus"], 2, r"unrecognized option '--bogus'"),
    (None, ["-Z"], 2, r"invalid option -- 'Z'"),
    (None, ["--attach", "nope"], 2, r"invalid --attach 'nope'"),
    (None, ["--attach", ""], 2, r"invalid --attach ''"),
    (None, ["--attach=tp_btf,,kprobe"], 2, r"invalid --attach"),
    # run-time: the only mechanism allowed is missing; never run idle
    ("nokprobes", ["--attach", "kprobe"], 1,
     r"(cannot attach \S+|nothing to attach)"),
    ("buffer", ["--buffer-size", "24"], 2, r"'24': not a power of two"),
    ("buffer", ["--buffer-size", "0"], 2, r"buffer size '0': out of range"),
    ("buffer", ["--buffer-size", "-4"], 2, r"buffer size '-4': negative"),
    ("buffer", ["--buffer-size", "99999999999999999999999"], 2,
     r"buffer size '9+': number too large"),
    ("buffer", ["--buffer-size"], 2, r"'--buffer-size' requires an argument"),
    # durations
    ("duration", ["--duration", "0"], 2, r"duration '0': must be greater than zero"),
    ("duration", ["--duration", "-1"], 2, r"duration '-1'"),
    ("duration", ["--duration", "1s"], 2, r"duration '1s': not a number"),
    ("duration", ["--duration", "1.5.2"], 2, r"duration '1.5.2'"),
    ("duration", ["--duration", "1e3"], 2, r"duration '1e3'"),
    ("duration", ["--duration", "999999999999"], 2, r"duration '9+': out of range"),
    ("duration", ["--duration"], 2,
     r"'--duration' requires an argument"),
    # PIDs, threads, users, names, cgroups
    ("pid", ["--pid", "abc"], 2, r"PID list 'abc': not a number"),
    ("pid", ["--pid", "-5"], 2, r"PID list '-5': negative"),
    ("pid", ["--pid", "1,,2"], 2, r"PID list '1,,2': empty item"),
    ("pid", ["--pid", "1,2,"], 2, r"PID list '1,2,': empty item"),
    ("pid", ["--pid", "1,junk"], 2, r"PID list '1,junk': not a number"),
    ("pid", ["--pid", "0"], 2, r"PID list '0': out of range"),
    ("pid", ["--pid", "4194305"], 2, r"PID list '4194305': out of range"),
    ("pid", ["--pid", "18446744073709551617"], 2, r"number too large"),
    ("pid", ["--pid", ",".join(["1"] * 65)], 2, r"too many items"),
    ("pid", ["--pid", "{pid}"], 2, r"no such process: {pid}"),
    ("pid", ["--pid", "1,{pid}"], 2, r"no such process: {pid}"),
    ("tid", ["--tid", "0"], 2, r"TID '0': out of range"),
    ("tid", ["--tid", "{pid}"], 2, r"no such thread: {pid}"),
    ("uid", ["--uid", "-1"], 2, r"UID '-1': negative"),
    ("uid", ["--uid", "4294967295"], 2, r"UID '4294967295': out of range"),
    ("uid", ["--uid", "root"], 2, r"UID 'root': not a number"),
    ("name", ["--name", ""], 2, r"invalid name ''"),
    ("name", ["--name", "a-name-of-16-chr"], 2, r"invalid name 'a-name-of-16-chr'"),
    ("cgroup", ["--cgroup", "/nonexistent/cgroup"], 2,
     r"/nonexistent/cgroup"),
    ("cgroup", ["--cgroup", "{tmp}"], 2, r"'{tmp}' is not in a cgroup"),
    ("cgroup", ["--cgroup", "/etc/passwd"], 2, r"/etc/passwd.*not a dir"),
    # -- COMMAND
    ("command", ["--"], 2, r"'--' must be followed by a command"),
    ("command", ["--", "/nonexistent/cmd"], 2,
     r"cannot run /nonexistent/cmd"),
    ("command", ["--", "no-such-command-bpfkit"], 2,
     r"command not found: no-such-command-bpfkit"),
    ("command", ["--", "{tmp}"], 2, r"cannot run {tmp}"),
    ("!command", ["--", "true"], 2, r"does not run a command"),
    ("pid+command", ["--pid", "1", "--", "true"], 2,
     r"-p and -- COMMAND cannot be combined"),
    # positional arguments
    ("!interval", ["5"], 2, r"unexpected argument '5'"),
    ("interval", ["0"], 2, r"interval '0': must be greater than zero"),
    ("interval", ["-1"], 2, r"(interval '-1'|invalid option -- '1')"),
    ("interval", ["x"], 2, r"interval 'x': not a number"),
    ("interval", ["1", "0"], 2, r"count '0': out of range"),
    ("interval", ["1", "x"], 2, r"count 'x': not a number"),
    ("interval", ["1", "99999999999"], 2, r"count '9+': out of range"),
    ("interval", ["1", "2", "3"], 2, r"unexpected argument '3'"),
    # ports and addresses (TCP tools)
    ("port", ["-P", "0"], 2, r"port list '0': out of range"),
    ("port", ["-P", "65536"], 2, r"port list '65536': out of range"),
    ("port", ["-P", "80,,443"], 2, r"port list '80,,443': empty item"),
    ("port", ["-P", "http"], 2, r"port list 'http': not a number"),
    ("port", ["-P", ""], 2, r"port list '': empty list"),
    ("port", ["-P", "443-80"], 2, r"'443-80': range ends before it starts"),
    ("lport", ["-L", "1-99999"], 2, r"'1-99999': out of range"),
    ("raddr", ["--raddr", "999.1.1.1"], 2,
     r"'999.1.1.1': not an IPv4 or IPv6 address"),
    ("raddr", ["--raddr", "10.0.0.0/33"], 2, r"'10.0.0.0/33': out of range"),
    ("raddr", ["--raddr", "example.com"], 2, r"'example.com': not an IPv4"),
    ("laddr", ["--laddr", "::1/129"], 2, r"'::1/129': out of range"),
    ("laddr", ["--laddr", "10.0.0.1/x"], 2, r"'10.0.0.1/x': not a number"),
    ("ipv4", ["-4", "-6"], 2, r"-4 and -6 cannot be combined"),
    ("count+failed", ["-c", "-x"], 2, r"cannot be combined"),
    # tool-specific values
    ("disk", ["--disk", "nosuchdisk"], 2, r"no such disk: nosuchdisk"),
    ("syscalls", ["--syscalls", "bogus"], 2, r"unknown system call 'bogus'"),
    ("syscalls", ["--syscalls", "read,,pread64"], 2, r"'read,,pread64'"),
    ("syscalls", ["--syscalls", ""], 2, r"invalid --syscalls ''"),
    ("unit", ["--unit", "parsecs"], 2, r"invalid --unit 'parsecs'"),
    # --metrics and --metrics-file that cannot work
    ("metrics", ["--metrics", "nonsense"], 2, r"invalid --metrics 'nonsense'"),
    ("metrics", ["--metrics", "127.0.0.1:99999"], 2,
     r"--metrics '127.0.0.1:99999': the port must be"),
    ("metrics", ["--metrics", "::1:9100"], 2, r"IPv6 address goes in brackets"),
    ("metrics", ["--metrics", "127.0.0.1:{busy}"], 2,
     r"cannot listen on --metrics 127.0.0.1:{busy}: Address already in use"),
    ("metrics", ["--metrics", "192.0.2.1:9100"], 2,
     r"cannot listen on --metrics 192.0.2.1:9100: Cannot assign"),
    ("metrics", ["--metrics", "no-such-host.invalid:9100"], 2,
     r"invalid --metrics 'no-such-host.invalid:9100'"),
    ("metrics", ["--metrics-file", "/nonexistent/dir/m.prom"], 2,
     r"cannot write --metrics-file /nonexistent/dir/m.prom: No such file"),
    ("metrics", ["--metrics-file", "{tmp}"], 2,
     r"--metrics-file '{tmp}': not a file name"),
    ("metrics", ["--metrics-file", "{tmp}/"], 2, r"not a file name"),
]

# The environment counts too.
ENV_CASES = [
    ({"BPFKIT_ATTACH": "bogus"}, [], 2, r"invalid BPFKIT_ATTACH 'bogus'"),
    ({"BPFKIT_ATTACH": "kprobe,"}, [], 2, r"invalid BPFKIT_ATTACH"),
]


def applies(needs, feat):
    if needs is None:
        return True
    for need in needs.split("+"):
        if need.startswith("!"):
            if feat[need[1:]]:
                return False
        elif not feat[need]:
            return False
    return True


def run_traced(tool, args, env=None):
    """Run tool args; (rc, stdout, stderr, bpf calls made) where each call
    is (command, result)."""
    e = dict(os.environ, **(env or {}))
    cmd = [tool_path(tool), *args]
    trace = None
    if STRACE:
        # LeakSanitizer cannot run under ptrace (an ASan build would fail
        # every case with exit 1): leaks are checked elsewhere.
        e["ASAN_OPTIONS"] = e.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        fd, trace = tempfile.mkstemp(prefix="bpfkit-strace-")
        os.close(fd)
        cmd = [STRACE, "-f", "-qq", "-e", "trace=bpf,perf_event_open",
               "-o", trace, *cmd]
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            # It took the bad input and ran: that is the failure. Kill
            # strace and the tool together (a tracer killed alone would
            # leave the tool running).
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            return (None, out.decode("utf-8", "replace"),
                    err.decode("utf-8", "replace"), [])
        calls = []
        if trace:
            with open(trace) as f:
                for line in f:
                    m = re.search(r"(bpf\((\w+)|perf_event_open\().*\)\s+="
                                  r"\s+(-?\d+)", line)
                    if m:
                        calls.append((m.group(2) or "perf_event_open",
                                      int(m.group(3))))
    finally:
        if trace:
            os.unlink(trace)
    return (p.returncode, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"), calls)


def check_case(tool, args, want_rc, pattern, env=None):
    """One bad invocation; returns a failure message or None."""
    rc, out, err, calls = run_traced(tool, args, env)
    what = f"{tool} {' '.join(args)!s}" + (f" (env {env})" if env else "")
    lines = err.splitlines()
    if rc is None:
        return f"{what}: accepted, ran for 10 s; stderr {err!r}"
    if rc != want_rc:
        return f"{what}: exit {rc}, want {want_rc}; stderr {err!r}"
    if out:
        return f"{what}: stdout {out[:200]!r}"
    if len(lines) != 1 or not err.endswith("\n"):
        return f"{what}: {len(lines)} lines on stderr: {err!r}"
    if not re.search(pattern, lines[0]):
        return f"{what}: {lines[0]!r} does not match {pattern!r}"
    if not re.match(rf"^(\S*/)?{tool}: ", lines[0]):
        return f"{what}: {lines[0]!r} does not start with the tool's name"
    if want_rc == 2 and calls:
        return f"{what}: usage error after bpf calls {calls[:5]}"
    attached = [c for c in calls if c[1] >= 0 and c[0] in (
        "BPF_LINK_CREATE", "BPF_RAW_TRACEPOINT_OPEN", "perf_event_open")]
    if attached:
        return f"{what}: attached before failing: {attached}"
    return None


def badinput(tool):
    if not os.path.exists(tool_path(tool)):
        raise Skip(f"{tool} is not built yet ({tool_path(tool)})")
    if os.geteuid() != 0:
        raise Skip("needs root (the tools check privileges after options)")
    feat = features(tool)
    ctx = Ctx()
    failures, ran = [], 0
    try:
        for needs, args, rc, pattern in CASES:
            if not applies(needs, feat):
                continue
            subst = dict(pid=ctx.pid, tmp=ctx.tmp, busy=ctx.busy_port)
            a = [x.format(**subst) for x in args]
            pat = pattern.replace("{pid}", str(ctx.pid)).replace(
                "{tmp}", re.escape(ctx.tmp)).replace(
                "{busy}", str(ctx.busy_port))
            msg = check_case(tool, a, rc, pat)
            ran += 1
            if msg:
                failures.append(msg)
        for env, args, rc, pattern in ENV_CASES:
            msg = check_case(tool, args, rc, pattern, env)
            ran += 1
            if msg:
                failures.append(msg)
    finally:
        ctx.close()
    print(f"{tool}: {ran} bad invocations, {len(failures)} wrong"
          + ("" if STRACE else " (strace not installed: bpf calls "
             "not checked)"))
    assert not failures, "\n".join(failures)


def _make(tool):
    def test():
        badinput(tool)
    test.__name__ = f"test_bad_invocations_{tool}"
    return test


for _tool in TOOLS:
    globals()[f"test_bad_invocations_{_tool}"] = _make(_tool)


def test_enough_cases_across_the_tools():
    """The issue asks for at least 40 bad invocations across the tools;
    count those that apply to the tools built now."""
    built = [t for t in TOOLS if os.path.exists(tool_path(t))]
    if not built:
        raise Skip("no tool built")
    n = sum(1 for t in built for c in CASES if applies(c[0], features(t)))
    n += len(ENV_CASES) * len(built)
    assert n >= 40, n
    print(f"{n} bad invocations over {len(built)} tools: {', '.join(built)}")
