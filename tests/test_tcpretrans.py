"""tcpretrans against real retransmissions: in a network namespace of the
test's own, once a connection is up, the test drops the packets sent to the
server (an nft rule on the input hook) and the client retransmits. The
kernel's own counters in that namespace say how many there were."""
import json
import os

from kitlib import Tool, run_tool
from tcplib import netns

RETRANS_COUNT = """
def retrans():
    lines = [l.split() for l in open('/proc/net/snmp') if l.startswith('Tcp:')]
    return int(lines[1][lines[0].index('RetransSegs')])
"""

RETRANSMITTER = """
import json
fam, addr, want = FAM, ADDR, WANT
l = socket.socket(fam)
l.bind((addr, 0))
l.listen()
port = l.getsockname()[1]
c = socket.create_connection((addr, port))
s, _ = l.accept()
c.send(b'x' * 100)
s.recv(1000)
print(json.dumps({"sport": c.getsockname()[1], "dport": port}), flush=True)
sys.stdin.readline()  # the test drops what the server receives from here


def total_retrans():
    # struct tcp_info's tcpi_total_retrans: the socket's own count
    info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return int.from_bytes(info[100:104], sys.byteorder)


before = total_retrans()
c.send(b'y' * 100)
deadline = time.monotonic() + 20
while total_retrans() - before < want and time.monotonic() < deadline:
    time.sleep(0.01)
n = total_retrans() - before
# Reset both ends: nothing is left to retransmit.
linger = b'\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
for sock in (s, c):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    sock.close()
print(n, flush=True)
"""


class Retransmitter:
    """A connection in ns whose data stops reaching the server: the client
    retransmits at least `want` times, then both ends are reset."""

    def __init__(self, ns, ip=4, want=3):
        fam, addr = {4: ("socket.AF_INET", "127.0.0.1"),
                     6: ("socket.AF_INET6", "::1")}[ip]
        code = (RETRANSMITTER.replace("FAM", fam)
                .replace("ADDR", repr(addr)).replace("WANT", str(want)))
        self.ns, self.ip, self.addr = ns, ip, addr
        self.p = ns.python(code, name="kitretrans")
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, self.p.stderr.read()
        ports = json.loads(line)
        self.sport, self.dport = ports["sport"], ports["dport"]

    def run(self):
        """Drop the server's input, let the client retransmit; returns
        how many retransmissions the kernel counted for the client's
        socket (tcpi_total_retrans)."""
        remove = self.ns.nft_drop_input(f"tcp dport {self.dport}")
        try:
            self.p.stdin.write("drop\n")
            self.p.stdin.flush()
            n = int(self.p.stdout.readline())
            assert self.p.wait(30) == 0, self.p.stderr.read()
        finally:
            remove()
        return n

    def mine(self, events):
        return [e for e in events if e["sport"] == self.sport and
                e["dport"] == self.dport and e["saddr"] == self.addr]


def test_retransmits_have_addresses_ports_and_state():
    with netns() as ns:
        r = Retransmitter(ns)
        with Tool("tcpretrans", "-j") as t:
            t.wait_ready()
            n = r.run()
            t.wait_for(lambda: len(r.mine(t.json())) >= n,
                       what=f"{n} retransmissions")
            assert t.stop() == 0
        assert n >= 3, n
        evs = r.mine(t.json())
        assert len(evs) == n, (n, evs)
        for e in evs:
            assert e["ip"] == 4 and e["daddr"] == "127.0.0.1", e
            assert e["state"] == "ESTABLISHED" and e["type"] == "retransmit"
            assert e["netns"] == ns.inode() and e["uid"] == 0, e
            assert e["err"] == 0 and e["err_name"] is None
            # The same 100 bytes each time.
            assert (e["end_seq"] - e["seq"]) % 2**32 == 100, e
        assert len({e["seq"] for e in evs}) == 1, evs


def test_text_output_is_bcc_format():
    with netns() as ns:
        r = Retransmitter(ns, ip=6, want=2)
        with Tool("tcpretrans", "-s", "--raddr", "::1") as t:
            t.wait_ready()
            r.run()
            t.wait_for(lambda: len(t.lines()) >= 3, what="two rows")
            t.stop()
        head, *rows = t.lines()
        assert head.split() == ["TIME", "PID", "IP", "LADDR:LPORT", "T>",
                                "RADDR:RPORT", "STATE", "SEQ"], head
        mine = [l.split() for l in rows
                if f"[::1]:{r.sport} " in l and f"[::1]:{r.dport} " in l]
        assert len(mine) >= 2, t.stdout
        for f in mine:
            assert len(f[0]) == 8 and f[0].count(":") == 2, f  # HH:MM:SS
            assert f[1].isdigit() and f[2] == "6", f
            assert f[3] == f"[::1]:{r.sport}" and f[4] == "R>", f
            assert f[5] == f"[::1]:{r.dport}" and f[6] == "ESTABLISHED"
            assert f[7].isdigit(), f


def test_count_mode_counts_exactly():
    with netns() as ns:
        r4 = Retransmitter(ns, ip=4, want=3)
        r6 = Retransmitter(ns, ip=6, want=2)
        with Tool("tcpretrans", "-c", "-j") as t, \
                Tool("tcpretrans", "-c") as tt:
            t.wait_ready()
            tt.wait_ready()
            n4 = r4.run()
            n6 = r6.run()
            assert t.stop() == 0 and tt.stop() == 0
        rows = t.json()
        for r, n in ((r4, n4), (r6, n6)):
            got = r.mine(rows)
            assert len(got) == 1, rows
            assert got[0]["retransmits"] == n, (got, n)
            assert got[0]["ip"] == r.ip and got[0]["tlp"] == 0
        head, *body = tt.lines()
        assert head.split() == ["LADDR:LPORT", "RADDR:RPORT",
                                "RETRANSMITS"], head
        want = f"127.0.0.1:{r4.sport} 127.0.0.1:{r4.dport} {n4}"
        assert want in [" ".join(l.split()) for l in body], tt.stdout


def test_tail_loss_probes_are_marked():
    """The first retransmission of a lost tail is the loss probe's (the
    kernel's TCPLossProbes counter says how many were sent)."""
    with netns() as ns:
        r = Retransmitter(ns, want=3)
        with Tool("tcpretrans", "-j", "-l") as t, \
                Tool("tcpretrans", "-c", "-l", "-j") as tc:
            t.wait_ready()
            tc.wait_ready()
            probes = ns.counter("TcpExt", "TCPLossProbes")
            total = r.run()
            probes = ns.counter("TcpExt", "TCPLossProbes") - probes
            t.wait_for(lambda: len(r.mine(t.json())) >= total,
                       what=f"{total} retransmissions")
            t.stop()
            tc.stop()
        assert probes >= 1, "the kernel sent no loss probe"
        evs = r.mine(t.json())
        types = [e["type"] for e in evs]
        assert types.count("tlp") == probes, (probes, types)
        assert types[0] == "tlp" and types[-1] == "retransmit", types
        [row] = r.mine(tc.json())
        assert row["tlp"] == probes and row["retransmits"] == total, row


def test_syn_retransmit_in_syn_sent():
    with netns() as ns:
        port = 4343
        ns.nft_drop_input(f"tcp dport {port}")
        # The first SYN is resent after 1 s: wait until the kernel has.
        code = (RETRANS_COUNT + "before = retrans()\n"
                "s = socket.socket()\ns.setblocking(False)\n"
                f"s.connect_ex(('127.0.0.1', {port}))\n"
                "deadline = time.monotonic() + 10\n"
                "while retrans() == before and time.monotonic() < deadline:\n"
                "    time.sleep(0.01)\n"
                "assert retrans() > before, 'no SYN retransmission'\n")
        for mech in ("tp_btf", "raw_tp", "tracepoint"):
            t = syn_retransmit_traced(ns, code, mech, port)
            assert f"hook tcp_retransmit_skb: {mech} " in t.stderr
            evs = t.json()
            assert evs and all(e["dport"] == port for e in evs), evs
            e = evs[0]
            assert e["state"] == "SYN_SENT" and e["netns"] == ns.inode()
            assert e["saddr"] == e["daddr"] == "127.0.0.1", e
            assert e["end_seq"] - e["seq"] == 1, e  # a SYN: one sequence


def syn_retransmit_traced(ns, code, mech, port, tries=3):
    """Run the SYN-retransmitting child under the tool. The kernel runs a
    classic tracepoint's program only when no other kprobe or tracepoint
    program is running on that CPU (bpf_prog_active): with other tracers
    on the machine, it may skip ours, and says so in the program's
    recursion_misses. Only then is the run tried again."""
    for attempt in range(tries):
        c = ns.python(code)
        with Tool("tcpretrans", "-j", "-v", "--attach", mech,
                  "-P", port) as t:
            t.wait_ready()
            _, err = c.communicate("go\n", timeout=30)
            assert c.returncode == 0, err
            try:
                t.wait_for(lambda: t.json(), timeout=5,
                           what="a SYN retransmission")
            except AssertionError:
                missed = recursion_misses(t.proc.pid)
                t.stop()
                if missed and attempt + 1 < tries:
                    continue
                raise AssertionError(f"{mech}: no event; the kernel "
                                     f"skipped the program {missed} times")
            t.stop()
            return t


def recursion_misses(pid):
    """Sum of recursion_misses over the BPF programs pid holds."""
    total = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    if line.startswith("recursion_misses:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def test_filters():
    with netns() as ns:
        r4 = Retransmitter(ns, ip=4, want=2)
        r6 = Retransmitter(ns, ip=6, want=2)
        with Tool("tcpretrans", "-j", "-6") as t6, \
                Tool("tcpretrans", "-j", "-P", r4.dport) as tp, \
                Tool("tcpretrans", "-j", "-L", r6.sport) as tl, \
                Tool("tcpretrans", "-j", "--laddr", "127.0.0.0/8") as ta:
            tools = (t6, tp, tl, ta)
            for t in tools:
                t.wait_ready()
            r4.run()
            r6.run()
            for t in tools:
                t.stop()
        mine = {t: [e for e in t.json() if e["netns"] == ns.inode()]
                for t in tools}
        assert mine[t6] and all(e["ip"] == 6 for e in mine[t6])
        assert mine[tp] and all(e["dport"] == r4.dport for e in mine[tp])
        assert mine[tl] and all(e["sport"] == r6.sport for e in mine[tl])
        assert mine[ta] and all(e["ip"] == 4 for e in mine[ta])
        assert r6.mine(mine[t6]) == mine[t6]
        assert r4.mine(mine[tp]) == mine[tp]


def test_json_fields():
    keys = {"time": str, "time_ns": int, "pid": int, "ip": int,
            "type": str, "state": str, "seq": int, "saddr": str,
            "sport": int, "daddr": str, "dport": int, "end_seq": int,
            "uid": int, "netns": int, "err": int,
            "err_name": (str, type(None))}
    with netns() as ns:
        r = Retransmitter(ns, want=1)
        with Tool("tcpretrans", "-j") as t:
            t.wait_ready()
            r.run()
            t.wait_for(lambda: r.mine(t.json()), what="a retransmission")
            t.stop()
        for e in t.json():
            assert set(e) == set(keys), sorted(e)
            for k, ty in keys.items():
                assert isinstance(e[k], ty), (k, e)
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs",
                            "tcpretrans.md")).read()
    for k in keys:
        assert f"`{k}`" in doc, k


def test_no_task_filters_and_usage_errors():
    """Retransmissions run in softirq context: the task filters are not
    offered, so that none can silently match nothing."""
    for args in (["-p", "1"], ["--pid", "1"], ["-u", "0"], ["-n", "x"],
                 ["--cgroup", "/sys/fs/cgroup"], ["--tid", "1"],
                 ["--", "true"], ["-4", "-6"], ["-P", "0"],
                 ["--raddr", "x"], ["-6", "--laddr", "10.0.0.1"],
                 ["-L", "1-"], ["stray"]):
        rc, out, err = run_tool("tcpretrans", *args)
        assert rc == 2, (args, rc, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
        assert out == "", (args, out)
    rc, out, _ = run_tool("tcpretrans", "--help")
    assert rc == 0
    assert "--pid" not in out and "--cgroup" not in out, out


def test_kprobe_and_fentry_fail_in_one_line_here():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        from kitlib import Skip
        raise Skip("this kernel has kprobes")
    rc, out, err = run_tool("tcpretrans", "--attach", "kprobe,fentry")
    assert rc == 1, (rc, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot attach tcp_retransmit_skb" in err
    assert "kprobe: kernel has no kprobes" in err, err
