"""Network namespaces for the TCP tools' tests (tcpconnect, tcpretrans).

Each test makes its own namespace, runs servers and clients inside it with
`ip netns exec` and the tool outside (a tracer sees every namespace), and
always removes the namespace, the processes in it and any nft table it
made, even when the test fails."""
import contextlib
import itertools
import os
import signal
import shutil
import subprocess
import time

from kitlib import Skip

_seq = itertools.count()


def _run(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check,
                          timeout=30)


class Netns:
    def __init__(self, name):
        self.name = name
        self.procs = []
        self.nft_tables = []

    def run(self, *args, check=True):
        """Run a command inside the namespace, to completion."""
        return _run("ip", "netns", "exec", self.name, *args, check=check)

    def python(self, code, name=None):
        """A python3 child inside the namespace (its PID is the Popen's:
        ip netns exec execs, it does not fork). With name, its comm is set
        first. It runs code once the test writes a line to its stdin, and
        can talk back on stdout."""
        prelude = "import sys, os, socket, time\n"
        if name:
            prelude += ("import ctypes\n"
                        "ctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\n"
                        % name.encode())
        prelude += "sys.stdin.readline()\n"
        p = subprocess.Popen(["ip", "netns", "exec", self.name, "python3",
                              "-c", prelude + code],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def server(self, code, name="kitserver"):
        """A python3 server inside the namespace: code must print a line
        once it is listening; returns (process, that line)."""
        p = self.python(code, name)
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"server failed: {p.stderr.read()!r}")
        return p, line.strip()

    def nft_drop_input(self, rule):
        """Drop packets matching rule ("tcp dport 80") on the input hook,
        in a table of our own: returns a function that removes it."""
        if not shutil.which("nft"):
            raise Skip("nft not installed (Debian package nftables; "
                       "scripts/setup.sh test installs it)")
        table = f"bpfkit{len(self.nft_tables)}"
        self.run("nft", "add", "table", "inet", table)
        self.nft_tables.append(table)
        self.run("nft", "add", "chain", "inet", table, "input",
                 "{ type filter hook input priority 0 ; policy accept ; }")
        self.run("nft", "add", "rule", "inet", table, "input",
                 *rule.split(), "drop")

        def remove():
            if table in self.nft_tables:
                self.nft_tables.remove(table)
                self.run("nft", "delete", "table", "inet", table,
                         check=False)
        return remove

    def counter(self, proto, field):
        """A counter of /proc/net/snmp or /proc/net/netstat ("Tcp",
        "RetransSegs"; "TcpExt", "TCPLossProbes") in the namespace."""
        text = self.run("cat", "/proc/net/snmp", "/proc/net/netstat").stdout
        lines = [l.split() for l in text.splitlines()
                 if l.startswith(proto + ":")]
        head, values = lines[0], lines[1]
        return int(values[head.index(field)])

    def inode(self):
        """The namespace's inode number, as tools report it."""
        return os.stat(f"/run/netns/{self.name}").st_ino


def release(p, timeout=30):
    """Let a Netns.python child run; wait for it; return its stdout."""
    out, err = p.communicate("go\n", timeout=timeout)
    assert p.returncode == 0, f"child failed ({p.returncode}): {err!r}"
    return out


@contextlib.contextmanager
def netns():
    """A network namespace with its loopback up (127.0.0.1, ::1)."""
    if os.geteuid() != 0:
        raise Skip("needs root")
    if not shutil.which("ip"):
        raise Skip("ip (iproute2) not installed")
    name = f"bpfkit-t{os.getpid()}-{next(_seq)}"
    _run("ip", "netns", "add", name)
    ns = Netns(name)
    try:
        ns.run("ip", "link", "set", "lo", "up")
        _wait_ipv6_loopback(ns)
        yield ns
    finally:
        for p in ns.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
        for table in list(ns.nft_tables):
            ns.run("nft", "delete", "table", "inet", table, check=False)
        # Anything else still inside (it would keep the namespace alive).
        pids = _run("ip", "netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _run("ip", "netns", "del", name, check=False)


def _wait_ipv6_loopback(ns, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "::1" in ns.run("ip", "-6", "addr", "show", "dev", "lo",
                           check=False).stdout:
            return
        time.sleep(0.05)
    raise Skip("no IPv6 loopback address in the test namespace")


LISTENER = """
import socket, sys
socks = []
for fam, addr in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 0))
    s.listen(512)
    socks.append(s)
print(socks[0].getsockname()[1], socks[1].getsockname()[1], flush=True)
import selectors
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ)
conns = []
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept()
        conns.append(c)
"""


def listener(ns):
    """A server accepting on 127.0.0.1 and ::1 (ports chosen by the
    kernel) that keeps its connections open: (process, port4, port6)."""
    p, line = ns.server(LISTENER, name="kitlisten")
    p4, p6 = (int(x) for x in line.split())
    return p, p4, p6
