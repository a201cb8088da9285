"""opensnoop against real opens made by the test."""
import json
import os
import subprocess
import time

from kitlib import Tool, release, run_tool, spawn_python, tempdir


def rows(tool):
    """Text rows after the header, split into at most 5 fields."""
    lines = tool.lines()
    assert lines and lines[0].split()[:5] == ["PID", "COMM", "FD", "ERR",
                                              "PATH"], lines[:1]
    return [l.split(None, 4) for l in lines[1:]]


def test_known_file_has_pid_comm_fd_err():
    with tempdir() as d:
        path = os.path.join(d, "known-file")
        open(path, "w").close()
        child = spawn_python(
            f"fd = os.open({path!r}, os.O_RDONLY)\nprint(fd)",
            name="kitopen")
        with Tool("opensnoop", "-p", child.pid) as t:
            t.wait_ready()
            fd = int(release(child))
            assert t.stop() == 0
        hits = [r for r in rows(t) if r[4] == path]
        assert len(hits) == 1, t.stdout
        pid, comm, tfd, err, _ = hits[0]
        assert int(pid) == child.pid
        assert comm == "kitopen"
        assert int(tfd) == fd and err == "0"


def test_failed_open_and_x_shows_only_failures():
    with tempdir() as d:
        ok = os.path.join(d, "exists")
        bad = os.path.join(d, "missing")
        open(ok, "w").close()
        code = (f"os.close(os.open({ok!r}, os.O_RDONLY))\n"
                f"try:\n    os.open({bad!r}, os.O_RDONLY)\n"
                f"except FileNotFoundError:\n    pass\n")
        for extra in ([], ["-x"]):
            child = spawn_python(code)
            with Tool("opensnoop", "-p", child.pid, *extra) as t:
                t.wait_ready()
                release(child)
                t.stop()
            paths = {r[4]: r for r in rows(t)}
            assert bad in paths, t.stdout
            assert paths[bad][2] == "-1" and paths[bad][3] == "2"
            if extra:
                assert all(r[3] != "0" for r in rows(t)), t.stdout
                assert ok not in paths
            else:
                assert ok in paths and paths[ok][3] == "0"


def test_name_filter():
    with tempdir() as d:
        a, b = os.path.join(d, "by-a"), os.path.join(d, "by-b")
        ca = spawn_python(f"open({a!r}, 'w').close()", name="kitnamea")
        cb = spawn_python(f"open({b!r}, 'w').close()", name="kitnameb")
        with Tool("opensnoop", "-n", "kitnamea") as t:
            t.wait_ready()
            release(ca)
            release(cb)
            t.stop()
        got = {r[4] for r in rows(t)}
        assert a in got and b not in got, t.stdout
        assert all(r[1] == "kitnamea" for r in rows(t))


def test_uid_filter_and_print_uid():
    with tempdir() as d:
        os.chmod(d, 0o777)
        mine, theirs = os.path.join(d, "root"), os.path.join(d, "nobody")
        child = spawn_python(f"open({theirs!r}, 'w').close()", uid=65534)
        with Tool("opensnoop", "-u", "65534", "-U") as t:
            t.wait_ready()
            open(mine, "w").close()
            release(child)
            t.stop()
        lines = t.lines()
        assert lines[0].split()[:2] == ["UID", "PID"], lines[0]
        got = [l.split(None, 5) for l in lines[1:]]
        assert any(r[5] == theirs and r[0] == "65534" for r in got), t.stdout
        assert all(r[0] == "65534" for r in got)
        assert not any(r[5] == mine for r in got)


def test_pid_filter_excludes_others():
    with tempdir() as d:
        a, b = os.path.join(d, "traced"), os.path.join(d, "other")
        child = spawn_python(f"open({a!r}, 'w').close()")
        with Tool("opensnoop", "-p", child.pid) as t:
            t.wait_ready()
            open(b, "w").close()
            release(child)
            t.stop()
        got = rows(t)
        assert {r[4] for r in got} >= {a} and b not in {r[4] for r in got}
        assert all(int(r[0]) == child.pid for r in got), t.stdout


def test_duration_ends_on_time():
    t0 = time.monotonic()
    with Tool("opensnoop", "-d", "1.5") as t:
        t.wait_ready()
        rc = t.wait_exit(timeout=10)
        took = time.monotonic() - t0
        t.stop()
    assert rc == 0, t.stderr
    assert 1.4 <= took < 6, took


def test_command_traces_child_and_grandchild_only():
    with tempdir() as d:
        f1, f2, f3 = (os.path.join(d, n) for n in ("child", "grand", "other"))
        script = (f"cat {f1} >/dev/null 2>&1; "
                  f"sh -c 'cat {f2} >/dev/null 2>&1'; exit 7")
        with Tool("opensnoop", "-j", "--", "sh", "-c", script) as t:
            t.wait_ready()
            open(f3, "w").close()
            rc = t.wait_exit(timeout=20)
            t.stop()
        assert rc == 7, (rc, t.stderr)
        events = t.json()
        paths = {e["path"] for e in events}
        assert f1 in paths and f2 in paths, paths
        assert f3 not in paths
        pids = {e["pid"] for e in events if e["path"] in (f1, f2)}
        assert len(pids) == 2, events  # two different cat processes
        assert all(e["comm"] in ("sh", "cat") for e in events), events


def test_json_fields():
    with tempdir() as d:
        path = os.path.join(d, "json-file")
        child = spawn_python(
            f"os.close(os.open({path!r}, os.O_WRONLY | os.O_CREAT | "
            f"os.O_CLOEXEC, 0o640))\n"
            f"try:\n    os.open({path + 'x'!r}, os.O_RDONLY)\n"
            f"except OSError:\n    pass\n", name="kitjson")
        with Tool("opensnoop", "-j", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        events = {e["path"]: e for e in t.json()}
        ok, bad = events[path], events[path + "x"]
        for e in (ok, bad):
            for key in ("time", "time_ns", "uid", "pid", "tid", "comm",
                        "fd", "err", "err_name", "flags", "flags_str", "mode",
                        "mode_str", "syscall", "dfd", "path"):
                assert key in e, (key, e)
            assert e["pid"] == child.pid and e["comm"] == "kitjson"
            assert e["uid"] == 0 and e["syscall"] == "openat"
        assert ok["err"] == 0 and ok["err_name"] is None and ok["fd"] >= 0
        assert "O_WRONLY" in ok["flags_str"] and "O_CREAT" in ok["flags_str"]
        assert "O_CLOEXEC" in ok["flags_str"]
        assert ok["mode"] == 0o640 and ok["mode_str"] == "0640"
        assert bad["err"] == 2 and bad["err_name"] == "ENOENT"
        assert bad["fd"] == -1


def test_extended_and_timestamp_columns():
    with tempdir() as d:
        path = os.path.join(d, "ext")
        child = spawn_python(
            f"os.close(os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600))")
        with Tool("opensnoop", "-e", "-T", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        head, *body = t.lines()
        assert head.split() == ["TIME(s)", "PID", "COMM", "FD", "ERR",
                                "FLAGS", "MODE", "PATH"], head
        row = [l.split() for l in body if l.endswith(path)]
        assert row, t.stdout
        assert float(row[0][0]) >= 0
        assert row[0][5].startswith("O_RDWR|O_CREAT|"), row
        assert row[0][6] == "0600", row


def test_hostile_names_are_escaped():
    with tempdir() as d:
        names = [b"new\nline", b"esc\x1b[31mred", b"bad\xffutf8"]
        paths = [os.path.join(d.encode(), n) for n in names]
        code = "\n".join(f"open({p!r}, 'w').close()" for p in paths)
        for mode in ("text", "json"):
            child = spawn_python(code)
            args = ["-j"] if mode == "json" else []
            with Tool("opensnoop", "-p", child.pid, *args) as t:
                t.wait_ready()
                release(child)
                t.stop()
            raw = bytes(t.out)
            assert b"\x1b" not in raw and b"\xff" not in raw
            if mode == "text":
                for want in (b"new\\nline", b"esc\\x1b[31mred",
                             b"bad\\xffutf8"):
                    assert want in raw, raw
            else:
                got = {e["path"] for e in t.json()}
                assert d + "/new\nline" in got
                assert d + "/esc\x1b[31mred" in got
                assert d + "/bad\ufffdutf8" in got


def test_long_path_is_marked_truncated():
    with tempdir() as d:
        sub = os.path.join(d, "x" * 200, "y" * 100)
        os.makedirs(sub)
        path = os.path.join(sub, "f")
        child = spawn_python(f"open({path!r}, 'w').close()")
        with Tool("opensnoop", "-j", "-p", child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        ev = [e for e in t.json() if e.get("path_truncated")]
        assert ev and path.startswith(ev[0]["path"]), t.stdout
        assert len(ev[0]["path"].encode()) == 255


def test_usage_errors_are_one_line_exit_2():
    for args in (["-p", "abc"], ["-p", "-5"], ["-p", "1,,2"], ["-d", "0"],
                 ["-d", "x"], ["-u", "99999999999"], ["--bogus"], ["--"],
                 ["-n", "a-name-longer-than-15"], ["--attach", "nope"],
                 ["-p", "4000000"], ["--cgroup", "/nonexistent/cg"],
                 ["stray"], ["--", "/nonexistent/cmd"]):
        rc, out, err = run_tool("opensnoop", *args)
        assert rc == 2, (args, rc, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
        assert out == "", (args, out)


def test_attach_restriction_without_kprobes_fails_cleanly():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        from kitlib import Skip
        raise Skip("this kernel has kprobes")
    rc, out, err = run_tool("opensnoop", "--attach", "kprobe")
    assert rc == 1, (rc, err)
    assert "cannot attach openat" in err and "no kprobes" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_sigpipe_ends_cleanly():
    """opensnoop | head -1: the tool ends when the reader goes away."""
    from kitlib import bpf_link_ids, bpf_prog_ids, check_nothing_left
    from kitlib import tool_path
    progs, links = bpf_prog_ids(), bpf_link_ids()
    with tempdir() as d:
        p = subprocess.Popen(f"{tool_path('opensnoop')} | head -1",
                             shell=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while p.poll() is None and time.monotonic() < deadline:
            open(os.path.join(d, "poke"), "w").close()
            time.sleep(0.05)
        assert p.poll() is not None, "opensnoop | head -1 did not end"
        out, err = p.communicate()
        assert out.split() == [b"PID", b"COMM", b"FD", b"ERR", b"PATH"], out
    check_nothing_left(progs, links)


def test_verbose_reports_choice_and_fallback_pair_works():
    """The tracepoint pair (the fallback for kernels without
    bpf_task_pt_regs) gives the same events as the exit-only program."""
    with tempdir() as d:
        path = os.path.join(d, "pair")
        for disable, prog in (("", "tp_exit_only_openat"),
                              ("tp_exit_only_openat", "tp_enter_openat")):
            child = spawn_python(
                f"os.close(os.open({path!r}, os.O_RDONLY | os.O_CREAT, "
                f"0o600))", name="kitpair")
            with Tool("opensnoop", "-v", "-j", "-p", child.pid,
                      env={"BPFKIT_DISABLE": disable}) as t:
                t.wait_ready()
                release(child)
                t.stop()
            assert f"hook openat: tracepoint" in t.stderr, t.stderr
            assert f"({prog}" in t.stderr, t.stderr
            ev = [e for e in t.json() if e["path"] == path]
            assert len(ev) == 1, t.stdout
            assert ev[0]["comm"] == "kitpair" and ev[0]["fd"] >= 0
            assert "O_CREAT" in ev[0]["flags_str"] and ev[0]["mode"] == 0o600


def _cgroup_case(kind, migrate_after_start):
    from kitlib import cgroup, join_cgroup
    with tempdir() as d, cgroup(kind) as cg:
        inside = os.path.join(d, "inside")
        forked = os.path.join(d, "forked")
        outside = os.path.join(d, "outside")
        code = (f"open({inside!r}, 'w').close()\n"
                f"pid = os.fork()\n"
                f"if pid == 0:\n    open({forked!r}, 'w').close()\n"
                f"    os._exit(0)\n"
                f"os.waitpid(pid, 0)\n")
        child = spawn_python(code, name="kitcg")
        other = spawn_python(f"open({outside!r}, 'w').close()")
        if not migrate_after_start:
            join_cgroup(cg, child.pid)
        with Tool("opensnoop", "-j", "--cgroup", cg) as t:
            t.wait_ready()
            if migrate_after_start:
                join_cgroup(cg, child.pid)
            release(child)
            release(other)
            t.stop()
        got = {e["path"]: e for e in t.json()}
        assert inside in got and got[inside]["pid"] == child.pid, t.stdout
        assert forked in got and got[forked]["pid"] != child.pid, t.stdout
        assert outside not in got, t.stdout
        assert {e["pid"] for e in got.values()} <= {
            child.pid, got[forked]["pid"]}, t.stdout


def test_cgroup_v2_filter():
    _cgroup_case("v2", migrate_after_start=False)
    _cgroup_case("v2", migrate_after_start=True)


def test_cgroup_v1_filter_follows_forks_and_migrations():
    _cgroup_case("memory", migrate_after_start=False)
    _cgroup_case("memory", migrate_after_start=True)


def test_tid_filter():
    with tempdir() as d:
        main_f, thr_f = os.path.join(d, "main"), os.path.join(d, "thread")
        code = (
            "import os, sys, threading\n"
            "go = threading.Event()\n"
            "def work():\n"
            f"    go.wait(); open({thr_f!r}, 'w').close()\n"
            "t = threading.Thread(target=work); t.start()\n"
            "print(t.native_id, flush=True)\n"
            "sys.stdin.readline()\n"
            f"open({main_f!r}, 'w').close()\n"
            "go.set(); t.join()\n")
        child = subprocess.Popen(["python3", "-c", code],
                                 stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        try:
            tid = int(child.stdout.readline())
            with Tool("opensnoop", "-j", "--tid", tid) as t:
                t.wait_ready()
                child.communicate(b"go\n", timeout=15)
                t.stop()
        finally:
            child.kill()
        got = {e["path"]: e for e in t.json()}
        assert thr_f in got and got[thr_f]["tid"] == tid, t.stdout
        assert got[thr_f]["pid"] == child.pid
        assert main_f not in got
        assert all(e["tid"] == tid for e in got.values())


def test_full_path_resolves_relative_names():
    with tempdir() as d:
        child = spawn_python(
            "os.close(os.open('rel-name', os.O_WRONLY | os.O_CREAT))\n"
            "dfd = os.open('.', os.O_RDONLY)\n"
            "os.close(os.open('by-dirfd', os.O_WRONLY | os.O_CREAT, "
            "dir_fd=dfd))\n"
            "sys.stdin.readline()\n", cwd=d)
        with Tool("opensnoop", "-F", "-p", child.pid) as t:
            t.wait_ready()
            # the child stays alive (it waits for a second line) while
            # opensnoop reads its cwd and fds
            child.stdin.write(b"go\n")
            child.stdin.flush()
            t.wait_for(lambda: b"by-dirfd" in bytes(t.out), what="events")
            t.stop()
            child.communicate(b"\n", timeout=10)
        paths = [r[4] for r in rows(t)]
        assert os.path.join(d, "rel-name") in paths, t.stdout
        assert os.path.join(d, "by-dirfd") in paths, t.stdout


def test_small_buffer_size_still_delivers():
    with tempdir() as d:
        paths = [os.path.join(d, f"f{i}") for i in range(50)]
        child = spawn_python(
            "\n".join(f"open({p!r}, 'w').close()" for p in paths))
        with Tool("opensnoop", "-j", "--buffer-size", "16", "-p",
                  child.pid) as t:
            t.wait_ready()
            release(child)
            t.stop()
        got = {e["path"] for e in t.json()}
        assert set(paths) <= got, len(got)
    rc, out, err = run_tool("opensnoop", "--buffer-size", "24")
    assert rc == 2 and "power of two" in err


def test_help_lists_examples_and_exits_0():
    for flag in ("-h", "--help"):
        rc, out, err = run_tool("opensnoop", flag)
        assert rc == 0 and "Examples:" in out and "--cgroup" in out
        assert "--attach" in out and "-x, --failed" in out
