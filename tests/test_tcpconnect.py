"""tcpconnect against real connects made in a network namespace of the
test's own (the tool runs outside it and sees every namespace)."""
import json
import os
import socket

from kitlib import Tool, run_tool
from tcplib import listener, netns, release

AF = {4: "socket.AF_INET", 6: "socket.AF_INET6"}

CLIENT = """
import json
keep, out = [], []
for fam, addr, port, bind in TARGETS:
    s = socket.socket(fam, socket.SOCK_STREAM)
    if bind:
        s.bind(bind)
    t0 = time.monotonic_ns()
    try:
        s.connect((addr, port))
        err = 0
    except OSError as e:
        err = e.errno
    dt = time.monotonic_ns() - t0
    out.append({"sport": s.getsockname()[1], "ns": dt, "err": err})
    keep.append(s)
print(json.dumps(out), flush=True)
"""


def client(ns, targets, name="kitconn"):
    """A client in ns connecting, in order, to targets: (ip version,
    address, port[, (bind address, bind port)]). Once released, it prints
    per target its local port, how long connect() took and its errno."""
    items = []
    for t in targets:
        bind = t[3] if len(t) > 3 else None
        items.append(f"({AF[t[0]]}, {t[1]!r}, {t[2]}, {bind!r})")
    code = f"TARGETS = [{', '.join(items)}]\n" + CLIENT
    return ns.python(code, name=name)


def results(p):
    return json.loads(release(p))


def events_of(tool, pid):
    return [e for e in tool.json() if e["pid"] == pid]


def test_ipv4_and_ipv6_connects_exact_fields():
    with netns() as ns:
        _, p4, p6 = listener(ns)
        c = client(ns, [(4, "127.0.0.1", p4), (6, "::1", p6)])
        with Tool("tcpconnect", "-j") as t:
            t.wait_ready()
            res = results(c)
            t.wait_for(lambda: len(events_of(t, c.pid)) >= 2,
                       what="two events")
            assert t.stop() == 0
        evs = events_of(t, c.pid)
        assert len(evs) == 2, evs
        for e, r, (ip, addr, port) in zip(
                evs, res, [(4, "127.0.0.1", p4), (6, "::1", p6)]):
            assert r["err"] == 0, res
            assert e["tid"] == c.pid and e["comm"] == "kitconn", e
            assert e["uid"] == 0
            assert e["ip"] == ip and e["saddr"] == addr
            assert e["daddr"] == addr and e["dport"] == port, e
            assert e["sport"] == r["sport"], (e, r)
            assert e["result"] == "established" and e["state"] == \
                "ESTABLISHED"
            assert e["err"] == 0 and e["err_name"] is None
            # The handshake happens inside connect(): within its span.
            assert 0 < e["latency_us"] * 1000 <= r["ns"], (e, r)
        # The listener's passive opens are not connects.
        assert not [e for e in t.json() if e["comm"] == "kitlisten"]


def test_text_columns_and_options():
    with netns() as ns:
        _, p4, _ = listener(ns)
        c = client(ns, [(4, "127.0.0.1", p4)])
        with Tool("tcpconnect", "-t", "-U", "-s", "-p", c.pid) as t:
            t.wait_ready()
            res = results(c)
            t.wait_for(lambda: len(t.lines()) >= 2, what="a row")
            t.stop()
        head, *rows = t.lines()
        assert head.split() == ["TIME(s)", "UID", "PID", "COMM", "IP",
                                "SADDR", "SPORT", "DADDR", "DPORT",
                                "LAT(us)", "RESULT"], head
        assert len(rows) == 1, t.stdout
        f = rows[0].split()
        assert float(f[0]) >= 0 and f[1] == "0" and int(f[2]) == c.pid
        assert f[3:8] == ["kitconn", "4", "127.0.0.1", str(res[0]["sport"]),
                          "127.0.0.1"], f
        assert f[8] == str(p4) and float(f[9]) > 0 and f[10] == "OK", f
    # Without options: BCC's columns plus ours.
    with netns() as ns:
        c = client(ns, [(4, "127.0.0.1", 9)])
        with Tool("tcpconnect", "-p", c.pid) as t:
            t.wait_ready()
            results(c)
            t.wait_for(lambda: len(t.lines()) >= 2, what="a row")
            t.stop()
        head, row = t.lines()
        assert head.split() == ["PID", "COMM", "IP", "SADDR", "DADDR",
                                "DPORT", "LAT(us)", "RESULT"], head
        assert row.split()[-1] == "ECONNREFUSED", row


def test_refused_connect_is_reported_failed():
    with netns() as ns:
        c = client(ns, [(4, "127.0.0.1", 9), (6, "::1", 9)])
        with Tool("tcpconnect", "-j", "-p", c.pid) as t:
            t.wait_ready()
            res = results(c)
            t.wait_for(lambda: len(t.json()) >= 2, what="two events")
            t.stop()
        assert [r["err"] for r in res] == [111, 111], res
        evs = t.json()
        assert [e["ip"] for e in evs] == [4, 6], evs
        for e, r in zip(evs, res):
            assert e["result"] == "failed" and e["state"] == "CLOSE", e
            assert e["err"] == 111 and e["err_name"] == "ECONNREFUSED", e
            assert e["dport"] == 9 and e["sport"] > 0, e
            assert 0 < e["latency_us"] * 1000 <= r["ns"], (e, r)


TIMEOUT_CLIENT = """
import json
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
a = socket.socket()
a.setblocking(False)
try:
    a.connect(('127.0.0.1', PORT))
except BlockingIOError:
    pass
time.sleep(0.2)
a.close()  # abandoned while in SYN_SENT
t0 = time.monotonic_ns()
try:
    s.connect(('127.0.0.1', PORT))
    err = 0
except OSError as e:
    err = e.errno
print(json.dumps({"err": err, "ns": time.monotonic_ns() - t0}), flush=True)
"""


def test_timeout_and_abort_are_reported_failed():
    """SYNs dropped: one connect times out (TCP_SYNCNT=1: about 3 s), one
    is closed by the application while waiting."""
    with netns() as ns:
        port = 4242
        ns.nft_drop_input(f"tcp dport {port}")
        c = ns.python(TIMEOUT_CLIENT.replace("PORT", str(port)),
                      name="kittimeout")
        with Tool("tcpconnect", "-j", "-p", c.pid) as t:
            t.wait_ready()
            res = json.loads(release(c))
            t.wait_for(lambda: len(t.json()) >= 2, what="two events")
            t.stop()
        assert res["err"] == 110, res
        aborted, timedout = t.json()
        assert aborted["result"] == "failed" and aborted["err"] == 0
        assert aborted["state"] == "CLOSE"
        assert 150e3 <= aborted["latency_us"] < 2e6, aborted
        assert timedout["result"] == "failed", timedout
        assert timedout["err_name"] == "ETIMEDOUT", timedout
        assert 2.5e6 <= timedout["latency_us"] <= res["ns"] / 1000, \
            (timedout, res)
        assert all(e["dport"] == port for e in (aborted, timedout))


def test_text_result_names():
    with netns() as ns:
        port = 4243
        ns.nft_drop_input(f"tcp dport {port}")
        code = ("a = socket.socket()\na.setblocking(False)\n"
                f"a.connect_ex(('127.0.0.1', {port}))\n"
                "time.sleep(0.1)\na.close()\n"
                "try:\n    socket.create_connection(('127.0.0.1', 9))\n"
                "except OSError:\n    pass\n")
        c = ns.python(code)
        with Tool("tcpconnect", "-x", "-p", c.pid) as t:
            t.wait_ready()
            release(c)
            t.wait_for(lambda: len(t.lines()) >= 3, what="two rows")
            t.stop()
        assert [l.split()[-1] for l in t.lines()[1:]] == \
            ["CLOSED", "ECONNREFUSED"], t.stdout


def test_port_filter():
    with netns() as ns:
        _, p4, p6 = listener(ns)
        c = client(ns, [(4, "127.0.0.1", p4), (6, "::1", p6),
                        (4, "127.0.0.1", 9)])
        with Tool("tcpconnect", "-j", "-P", f"{p6},9") as t:
            t.wait_ready()
            results(c)
            t.wait_for(lambda: len(events_of(t, c.pid)) >= 2,
                       what="two events")
            t.stop()
        got = sorted(e["dport"] for e in events_of(t, c.pid))
        assert got == sorted([p6, 9]), t.stdout
        assert all(e["dport"] in (p6, 9) for e in t.json()), t.stdout


def test_pid_filter():
    with netns() as ns:
        _, p4, _ = listener(ns)
        a = client(ns, [(4, "127.0.0.1", p4)], name="kittraced")
        b = client(ns, [(4, "127.0.0.1", p4)], name="kitother")
        with Tool("tcpconnect", "-j", "-p", a.pid) as t:
            t.wait_ready()
            results(b)
            results(a)
            t.wait_for(lambda: len(t.json()) >= 1, what="an event")
            t.stop()
        evs = t.json()
        assert len(evs) == 1 and evs[0]["pid"] == a.pid, evs
        assert evs[0]["comm"] == "kittraced"


def test_family_filters():
    with netns() as ns:
        _, p4, p6 = listener(ns)
        for flag, want in (("-4", 4), ("-6", 6)):
            c = client(ns, [(4, "127.0.0.1", p4), (6, "::1", p6),
                            (4, "127.0.0.1", p4), (6, "::1", p6)])
            with Tool("tcpconnect", "-j", flag, "-p", c.pid) as t:
                t.wait_ready()
                results(c)
                t.wait_for(lambda: len(t.json()) >= 2, what="2 events")
                t.stop()
            evs = t.json()
            assert len(evs) == 2, evs
            assert all(e["ip"] == want for e in evs), evs
            assert all(e["dport"] == (p4 if want == 4 else p6)
                       for e in evs)


def test_local_port_and_address_filters():
    with netns() as ns:
        _, p4, _ = listener(ns)
        c = client(ns, [(4, "127.0.0.1", p4, ("127.0.0.1", 41001)),
                        (4, "127.0.0.1", p4, ("127.0.0.3", 0)),
                        (4, "127.0.0.2", p4)])
        # Three tools on the same connects, one filter each.
        with Tool("tcpconnect", "-j", "-L", "41000-41002") as tl, \
                Tool("tcpconnect", "-j", "--laddr", "127.0.0.3") as ta, \
                Tool("tcpconnect", "-j", "--raddr", "127.0.0.2/32") as tr:
            for t in (tl, ta, tr):
                t.wait_ready()
            results(c)
            for t in (tl, ta, tr):
                t.wait_for(lambda: events_of(t, c.pid), what="an event")
                t.stop()
        el, ea, er = (events_of(t, c.pid) for t in (tl, ta, tr))
        assert [e["sport"] for e in el] == [41001], el
        assert [e["saddr"] for e in ea] == ["127.0.0.3"], ea
        assert [e["daddr"] for e in er] == ["127.0.0.2"], er


def test_count_mode_counts_exactly():
    n_ok, n_refused = 25, 3
    with netns() as ns:
        _, p4, p6 = listener(ns)
        targets = ([(4, "127.0.0.1", p4)] * n_ok + [(6, "::1", p6)] +
                   [(4, "127.0.0.1", 9)] * n_refused)
        c = client(ns, targets)
        with Tool("tcpconnect", "-c", "-j", "-p", c.pid) as t:
            t.wait_ready()
            results(c)
            # -p: the tool ends once the client has exited.
            assert t.wait_exit() == 0, t.stderr
            t.stop()
        rows = {(r["saddr"], r["daddr"], r["dport"]): r for r in t.json()}
        assert len(rows) == 3, rows
        ok = rows[("127.0.0.1", "127.0.0.1", p4)]
        assert ok["connects"] == n_ok and ok["failed"] == 0, ok
        assert ok["ip"] == 4 and ok["sport"] == 0
        v6 = rows[("::1", "::1", p6)]
        assert v6["connects"] == 1 and v6["ip"] == 6
        bad = rows[("127.0.0.1", "127.0.0.1", 9)]
        assert bad["connects"] == n_refused == bad["failed"], bad
        # Text: BCC's header, most connects first.
        c = client(ns, [(4, "127.0.0.1", p4)] * 2 + [(4, "127.0.0.1", 9)])
        with Tool("tcpconnect", "-c", "-s", "-p", c.pid) as t:
            t.wait_ready()
            res = results(c)
            t.wait_exit()
            t.stop()
        head, *body = t.lines()
        assert head.split() == ["LADDR", "LPORT", "RADDR", "RPORT",
                                "CONNECTS", "FAILED"], head
        assert len(body) == 3, t.stdout  # per local port with -s
        ports = {int(l.split()[1]) for l in body}
        assert {r["sport"] for r in res[:2]} <= ports, (res, body)


def test_histogram_mode_counts_and_latencies():
    n_ok, n_refused = 20, 3
    with netns() as ns:
        _, p4, p6 = listener(ns)
        targets = ([(4, "127.0.0.1", p4)] * (n_ok - 1) + [(6, "::1", p6)] +
                   [(4, "127.0.0.1", 9)] * n_refused)
        c = client(ns, targets)
        with Tool("tcpconnect", "-H", "-j", "-p", c.pid) as t:
            t.wait_ready()
            res = results(c)
            assert t.wait_exit() == 0, t.stderr  # -p: ends with the client
            t.stop()
        hists = {h["result"]: h for h in t.json()}
        assert set(hists) == {"established", "failed"}, t.stdout
        ok, bad = hists["established"], hists["failed"]
        assert ok["count"] == n_ok and bad["count"] == n_refused, hists
        for h, rs in ((ok, res[:n_ok]), (bad, res[n_ok:])):
            assert h["unit"] == "us" and h["interval"] == 1
            assert sum(b["count"] for b in h["buckets"]) == h["count"]
            # Latencies are whole microseconds within connect()'s span.
            assert 0 <= h["min"] <= h["p50"] <= h["p99"] <= h["max"], h
            assert h["max"] <= max(r["ns"] for r in rs) / 1000, (h, rs)
            assert h["sum"] <= sum(r["ns"] for r in rs) / 1000, (h, rs)


def test_histogram_intervals_and_text():
    with netns() as ns:
        _, p4, _ = listener(ns)
        with Tool("tcpconnect", "-H", "-j", "0.4", "3") as t:
            t.wait_ready()
            assert t.wait_exit(timeout=10) == 0, t.stderr
            t.stop()
        ivs = [h["interval"] for h in t.json() if h["result"] ==
               "established"]
        assert ivs == [1, 2, 3], t.stdout  # one per interval, even empty
        c = client(ns, [(4, "127.0.0.1", p4)] * 5)
        with Tool("tcpconnect", "-H", "-m", "-p", c.pid) as t:
            t.wait_ready()
            results(c)
            t.wait_exit()
            t.stop()
        out = t.stdout
        assert "connect latency, established:" in out, out
        assert "msecs" in out and "distribution" in out, out
        assert "count 5, " in out and "p99" in out, out
        assert "failed:" not in out, out


def test_command_mode_traces_child_only():
    with netns() as ns:
        _, p4, _ = listener(ns)
        other = client(ns, [(4, "127.0.0.1", p4)], name="kitother")
        code = (f"import socket\nsocket.create_connection(('127.0.0.1', "
                f"{p4})).close()\n")
        with Tool("tcpconnect", "-j", "--", "ip", "netns", "exec", ns.name,
                  "python3", "-c", code) as t:
            t.wait_ready()
            results(other)
            assert t.wait_exit() == 0, t.stderr
            t.stop()
        evs = t.json()
        assert len(evs) == 1, evs
        assert evs[0]["comm"] == "python3" and evs[0]["dport"] == p4


def test_json_fields():
    keys = {"time": str, "time_ns": int, "uid": int, "pid": int,
            "tid": int, "comm": str, "ip": int, "saddr": str, "sport": int,
            "daddr": str, "dport": int, "latency_us": (int, float),
            "result": str, "err": int, "err_name": (str, type(None)),
            "state": str}
    with netns() as ns:
        _, p4, _ = listener(ns)
        c = client(ns, [(4, "127.0.0.1", p4), (4, "127.0.0.1", 9)])
        with Tool("tcpconnect", "-j", "-p", c.pid) as t:
            t.wait_ready()
            results(c)
            t.wait_for(lambda: len(t.json()) >= 2, what="two events")
            t.stop()
        for line in t.stdout.splitlines():
            e = json.loads(line)
            assert set(e) == set(keys), sorted(e)
            for k, ty in keys.items():
                assert isinstance(e[k], ty), (k, e)
        # The documented fields are exactly these.
        doc = open(os.path.join(os.path.dirname(__file__), "..", "docs",
                                "tcpconnect.md")).read()
        for k in keys:
            assert f"`{k}`" in doc, k


def test_every_tracepoint_mechanism():
    with netns() as ns:
        _, p4, p6 = listener(ns)
        for mech in ("tp_btf", "raw_tp", "tracepoint"):
            c = client(ns, [(4, "127.0.0.1", p4), (6, "::1", 9)])
            with Tool("tcpconnect", "-j", "-v", "-p", c.pid,
                      "--attach", mech) as t:
                t.wait_ready()
                res = results(c)
                t.wait_for(lambda: len(t.json()) >= 2, what="two events")
                t.stop()
            assert f"hook inet_sock_set_state: {mech} " in t.stderr
            ok, bad = t.json()
            assert ok["sport"] == res[0]["sport"] and ok["dport"] == p4
            assert ok["saddr"] == "127.0.0.1" and ok["result"] == \
                "established", (mech, ok)
            assert bad["daddr"] == "::1" and bad["err"] == 111, (mech, bad)
            assert bad["comm"] == ok["comm"] == "kitconn"


def test_kprobe_and_fentry_fail_in_one_line_here():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        from kitlib import Skip
        raise Skip("this kernel has kprobes")
    rc, out, err = run_tool("tcpconnect", "--attach", "kprobe,fentry")
    assert rc == 1, (rc, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot attach inet_sock_set_state" in err
    assert "kprobe: kernel has no kprobes" in err, err


def test_usage_errors_are_one_line_exit_2():
    for args in (["-4", "-6"], ["-P", "0"], ["-P", "70000"], ["-P", "a"],
                 ["-P", "10-5"], ["-P", "80,"], ["-L", ""],
                 ["--raddr", "1.2.3"], ["--raddr", "10.0.0.0/33"],
                 ["--laddr", "::1/129"], ["-4", "--raddr", "::1"],
                 ["-c", "-x"], ["-t", "5"], ["-p", "x"], ["--bogus"],
                 ["1"], ["-H", "-c"], ["-H", "-x"], ["-m"],
                 ["-H", "0"], ["-H", "1", "0"], ["-H", "1", "2", "3"]):
        rc, out, err = run_tool("tcpconnect", *args)
        assert rc == 2, (args, rc, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
        assert out == "", (args, out)
    # -t is BCC's timestamp; the thread filter is --tid.
    rc, out, _ = run_tool("tcpconnect", "--help")
    assert rc == 0 and "--tid=TID" in out and "-t, --tid" not in out
