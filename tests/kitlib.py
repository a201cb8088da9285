"""Helpers for bpfkit's integration tests: run a tool, wait until it is
attached (its "Tracing" line on stderr), cause events, stop it, parse its
output, and check that nothing of ours is left in the kernel."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BPFKIT_BUILD", os.path.join(ROOT, "build"))


class Skip(Exception):
    """Raised by a test that cannot run here; the reason is printed."""


def tool_path(name):
    return os.path.join(BUILD, name)


def require_bpf():
    """Skip (with the reason) where the kernel refuses BPF altogether."""
    if os.geteuid() != 0:
        raise Skip("needs root")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        raise Skip("kernel has no BTF (/sys/kernel/btf/vmlinux)")


def _bpftool_list(kind):
    """bpftool -j KIND show. It fails when an object goes away between its
    listing and its lookup (other tracers come and go): try again."""
    for attempt in range(20):
        p = subprocess.run(["bpftool", "-j", kind, "show"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            return json.loads(p.stdout or "[]")
        time.sleep(0.05)
    raise AssertionError(f"bpftool {kind} show keeps failing: {p.stderr}")


def bpf_prog_ids():
    """IDs and names of the BPF programs loaded now."""
    return {p["id"]: p.get("name", "") for p in _bpftool_list("prog")}


def bpf_link_ids():
    return {l["id"] for l in _bpftool_list("link")}


class Tool:
    """A running tool. Output is collected by reader threads as bytes."""

    def __init__(self, name, *args, env=None, stdin=subprocess.DEVNULL,
                 **popen):
        require_bpf()
        path = tool_path(name)
        if not os.path.exists(path):
            raise AssertionError(f"{path} not built")
        self.name = name
        self.progs_before = bpf_prog_ids()
        self.links_before = bpf_link_ids()
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([path, *map(str, args)], env=e,
                                     stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, **popen)
        self.out = bytearray()
        self.err = bytearray()
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout,
                                                      self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr,
                                                      self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, f, buf):
        while True:
            chunk = f.read1(65536)
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                buf.extend(chunk)
                self._cond.notify_all()

    def wait_for(self, pred, timeout=15, what="condition"):
        """Wait until pred() holds, the tool exits, or the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: timed out waiting for {what}; "
                        f"stderr: {bytes(self.err)[-2000:]!r}")
                if self.proc.poll() is not None and all(
                        not t.is_alive() for t in self._threads):
                    if pred():
                        return
                    raise AssertionError(
                        f"{self.name} exited ({self.proc.returncode}) "
                        f"before {what}; stderr: {bytes(self.err)!r}")
                self._cond.wait(min(left, 0.05))

    def wait_ready(self, timeout=15):
        self.wait_for(lambda: b"Tracing" in self.err, timeout,
                      "its 'Tracing' line")
        self.owned = owned_bpf_objects(self.proc.pid)
        assert self.owned[0], f"{self.name}: ready but holds no BPF program"
        return self

    def wait_exit(self, timeout=15):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{self.name} did not exit in {timeout}s")
        for t in self._threads:
            t.join(5)
        return self.proc.returncode

    def stop(self, sig=signal.SIGINT, timeout=15):
        """Signal the tool, wait for it, and check it left nothing."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        if getattr(self, "owned", None):
            check_released(*self.owned)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def stdout(self):
        return bytes(self.out).decode("utf-8", "surrogateescape")

    @property
    def stderr(self):
        return bytes(self.err).decode("utf-8", "surrogateescape")

    def lines(self):
        return self.stdout.splitlines()

    def json(self):
        """Every complete stdout line, parsed (a line that is not JSON
        fails). While the tool runs, a last line not yet ended by a newline
        is still being written: it is left for later."""
        text = self.stdout
        if not text.endswith("\n"):
            text = text[:text.rfind("\n") + 1]
        return [json.loads(line) for line in text.splitlines()
                if line.strip()]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


def owned_bpf_objects(pid):
    """The BPF program and link ids a process holds open (fdinfo)."""
    progs, links = set(), set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        progs.add(int(line.split()[1]))
                    elif line.startswith("link_id:"):
                        links.add(int(line.split()[1]))
        except OSError:
            pass
    return progs, links


def check_released(progs, links, timeout=5):
    """The given programs and links are gone from the kernel (freeing is
    asynchronous, so wait a little). Safe with other tracers running."""
    deadline = time.monotonic() + timeout
    while True:
        left_p = progs & set(bpf_prog_ids())
        left_l = links & bpf_link_ids()
        if not left_p and not left_l:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left in the kernel: programs "
                                 f"{sorted(left_p)}, links {sorted(left_l)}")
        time.sleep(0.05)


def check_nothing_left(progs_before, links_before, timeout=5):
    """No program or link created since the snapshot is still there
    (freeing is asynchronous, so wait a little for it)."""
    deadline = time.monotonic() + timeout
    while True:
        progs = {i: n for i, n in bpf_prog_ids().items()
                 if i not in progs_before}
        links = bpf_link_ids() - links_before
        if not progs and not links:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left in the kernel: programs {progs}, "
                                 f"links {sorted(links)}")
        time.sleep(0.05)


def run_tool(name, *args, timeout=15, env=None):
    """Run a tool to completion (usage errors, -d): (rc, stdout, stderr)."""
    path = tool_path(name)
    p = subprocess.run([path, *map(str, args)], capture_output=True,
                       timeout=timeout, env=dict(os.environ, **(env or {})))
    return (p.returncode, p.stdout.decode("utf-8", "surrogateescape"),
            p.stderr.decode("utf-8", "surrogateescape"))


@contextlib.contextmanager
def tempdir(prefix="bpfkit-test-"):
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def spawn_python(code, name=None, uid=None, **popen):
    """A child python running code; with name, its comm is set first.
    The child waits for a line on stdin before running code, so that the
    test can start the tool with the child's PID first."""
    prelude = "import sys, os\n"
    if name:
        prelude += ("import ctypes\nctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\n"
                    % name.encode())
    # say "ready" once started up (imports done), then wait for "go"
    prelude += "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    prelude += "sys.stdin.readline()\n"
    pre = None
    if uid is not None:
        def pre():
            os.setgid(uid)
            os.setuid(uid)
    child = subprocess.Popen(["python3", "-c", prelude + code],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=pre, **popen)
    line = child.stdout.readline()
    if line != b"ready\n":
        child.kill()
        raise AssertionError(f"child did not start: {line!r} "
                             f"{child.stderr.read()!r}")
    return child


def release(child, timeout=15):
    """Let a spawn_python child run its code; wait for it to finish."""
    out, err = child.communicate(b"go\n", timeout=timeout)
    assert child.returncode == 0, f"child failed: {err!r}"
    return out


@contextlib.contextmanager
def cgroup(kind, name=None):
    """A cgroup made for the test: kind "v2" (the unified hierarchy) or a
    v1 controller name ("memory"). Yields its path; on exit, moves any
    process left inside to the parent and removes it."""
    roots = {"v2": ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]}
    cands = roots.get(kind, [f"/sys/fs/cgroup/{kind}"])
    root = None
    for r in cands:
        ok = os.path.exists(os.path.join(r, "cgroup.procs"))
        if ok and (kind != "v2" or os.path.exists(
                os.path.join(r, "cgroup.controllers"))):
            root = r
            break
    if root is None:
        raise Skip(f"no cgroup {kind} hierarchy mounted here")
    path = tempfile.mkdtemp(prefix=name or "bpfkit-test-", dir=root)
    try:
        yield path
    finally:
        for _ in range(50):
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                break
            for pid in pids:
                try:
                    with open(os.path.join(root, "cgroup.procs"), "w") as f:
                        f.write(str(pid))
                except OSError:
                    pass
            try:
                os.rmdir(path)
                break
            except OSError:
                time.sleep(0.1)


def join_cgroup(path, pid):
    with open(os.path.join(path, "cgroup.procs"), "w") as f:
        f.write(str(pid))


@contextlib.contextmanager
def loop_device(size_mb=64):
    """A loop block device over a sparse file, detached on exit."""
    with tempdir() as d:
        img = os.path.join(d, "disk.img")
        with open(img, "wb") as f:
            f.truncate(size_mb << 20)
        dev = subprocess.run(["losetup", "-f", "--show", img],
                             capture_output=True, text=True,
                             check=True).stdout.strip()
        try:
            yield dev
        finally:
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def direct_io(dev, writes=0, reads=0, bs=4096):
    """O_DIRECT writes then reads of bs bytes on dev, each its own I/O."""
    if writes:
        subprocess.run(["dd", "if=/dev/zero", f"of={dev}", f"bs={bs}",
                        f"count={writes}", "oflag=direct"], check=True,
                       capture_output=True)
    if reads:
        subprocess.run(["dd", f"if={dev}", "of=/dev/null", f"bs={bs}",
                        f"count={reads}", "iflag=direct"], check=True,
                       capture_output=True)
