#!/usr/bin/python3
"""The bpfkit benchmark driver (issue 7), run by `make bench`.

For each workload (a load generator in bench/), runs side by side and
interleaved: no tracer, the floor (empty BPF programs on the same hooks as our
tool), our tool and the peers that run on this kernel. Then event delivery at
full speed, start-up and peak RSS, and the BPF programs' own run time. Writes
BENCHMARKS.md.

How each figure is taken:
- ns/op: printed by the load generator; median of the runs, min-max beside.
  Runs alternate with no-tracer runs; a run's added cost is its ns/op minus
  the mean of the no-tracer runs before and after it; added = the median of
  those; ratio = added / the floor's added.
- Attached: a tracer counts as attached once one of its BPF programs has run
  on an event (run_cnt in /proc/PID/fdinfo, with BPF_ENABLE_STATS held only
  while waiting; a slow prober makes the events). Tracers whose hooks the
  prober cannot fire (tcpretrans, oomkill) are attached at their ready line.
- Start-up: launch to that first event (ms). Peak RSS: VmHWM of the tracer
  just before it is stopped. CPU: ru_utime + ru_stime of the child.
- Tracers write stdout and stderr to files, never to a terminal.
"""

import argparse
import ctypes
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BPFTRACE = '/usr/bin/bpftrace'
PEER_DIR = '/usr/sbin'  # Debian's libbpf-tools
TRACEFS = '/sys/kernel/tracing'

FULL = dict(rounds=9, open=150_000, read=1_000_000, connect=15_000,
            dio=30_000, deliver=2_000_000, budget=540)
QUICK = dict(rounds=3, open=30_000, read=200_000, connect=3_000,
             dio=3_000, deliver=200_000, budget=200)

TARGET_RATIO = 1.5
TARGET_STARTUP_MS = 15.0
TARGET_RSS_MIB = 14.0

PROG_TYPE_TRACING = '26'  # enum bpf_prog_type: tp_btf, fentry, ...
BPF_ENABLE_STATS = 32  # enum bpf_cmd
SYS_BPF = {'x86_64': 321, 'aarch64': 280}.get(platform.machine(), 321)

LIVE = set()  # child processes to end if we are interrupted
SEEN_PROGS = set()  # ids of every BPF program a tracer held: none may remain
T0 = time.monotonic()


def log(msg):
    print(f'[{time.monotonic() - T0:5.0f}s] {msg}', flush=True)


class Interrupted(Exception):
    pass


def on_term(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------- kernel bits

class BpfStats:
    """BPF run-time statistics on while this is held (BPF_ENABLE_STATS: the
    kernel turns them off again when the fd closes, even if we die)."""

    def __init__(self):
        self.fd = -1

    def __enter__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        attr = ctypes.create_string_buffer(16)  # enable_stats.type = RUN_TIME
        self.fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, len(attr))
        if self.fd < 0:
            err = ctypes.get_errno()
            raise RuntimeError(f'BPF_ENABLE_STATS: {os.strerror(err)}')
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
        self.fd = -1


def fdinfo(pid, fd):
    info = {}
    try:
        with open(f'/proc/{pid}/fdinfo/{fd}') as f:
            for line in f:
                key, _, val = line.partition(':')
                info[key.strip()] = val.strip()
    except OSError:
        pass
    return info


def bpf_fds(pid, kind):
    """fd -> fdinfo for the process's fds of one kind (bpf-prog, bpf_link)."""
    out = {}
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink(f'/proc/{pid}/fd/{fd}') == 'anon_inode:' + kind:
                out[fd] = fdinfo(pid, fd)
        except OSError:
            pass
    return out


def tracepoint_category(name):
    hits = glob.glob(f'{TRACEFS}/events/*/{name}')
    return os.path.basename(os.path.dirname(hits[0])) if hits else None


def attached_hooks(pid):
    """The hooks a running tracer is attached to, as floor arguments; and the
    links we could not express that way."""
    progs = {i.get('prog_id'): i for i in bpf_fds(pid, 'bpf-prog').values()}
    hooks, unknown = [], []
    for link in bpf_fds(pid, 'bpf_link').values():
        kind, name = link.get('link_type'), link.get('tp_name')
        if kind == 'perf' and link.get('event_type') == 'tracepoint':
            cat = tracepoint_category(name)
            if cat:
                hooks.append(f'tracepoint:{cat}/{name}')
                continue
        elif kind == 'raw_tracepoint' and name:
            ptype = progs.get(link.get('prog_id'), {}).get('prog_type')
            mech = 'tp_btf' if ptype == PROG_TYPE_TRACING else 'raw_tp'
            hooks.append(f'{mech}:{name}')
            continue
        unknown.append(f'{kind} {name or ""}'.strip())
    return sorted(set(hooks)), unknown


def busy_processes(interval=0.5, threshold=20.0):
    """Other processes using more than threshold % of a CPU right now:
    what makes this run's figures noisy."""
    def sample():
        ticks = {}
        for pid in os.listdir('/proc'):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f'/proc/{pid}/stat') as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index('(') + 1:stat.rindex(')')]
            fields = stat[stat.rindex(')') + 2:].split()
            ticks[pid] = (comm, int(fields[11]) + int(fields[12]))
        return ticks

    before = sample()
    time.sleep(interval)
    after = sample()
    hz = os.sysconf('SC_CLK_TCK')
    busy = []
    for pid, (comm, t) in after.items():
        if pid in before:
            pct = (t - before[pid][1]) * 100.0 / hz / interval
            if pct > threshold:
                busy.append(f'{comm} (pid {pid}, {pct:.0f}%)')
    return busy


def ensure_tracefs():
    if os.path.isdir(f'{TRACEFS}/events'):
        return None
    subprocess.run(['mount', '-t', 'tracefs', 'nodev', TRACEFS], check=True)
    return f'tracefs was not mounted: the suite mounted it at {TRACEFS} ' \
           'and left it mounted (other sessions may rely on it).'


# ---------------------------------------------------------------- processes

GEN_CPU = None  # the CPU load generators are pinned to (None: not pinned)


def spawn(argv, out=subprocess.DEVNULL, err=subprocess.DEVNULL, cpu=None):
    """A child in its own session, so a Ctrl-C reaches only us and we end it
    in order; pinned to one CPU when cpu is given."""
    pin = None if cpu is None else \
        (lambda: os.sched_setaffinity(0, {cpu}))  # noqa: E731
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=err, start_new_session=True, preexec_fn=pin)
    LIVE.add(p)
    return p


def reap(p, sig=signal.SIGINT, timeout=15.0):
    """Signal a child, wait for it; returns (status, rusage)."""
    if p.returncode is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.killed = True
                os.kill(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        p.rusage = ru
    LIVE.discard(p)
    return p.returncode, getattr(p, 'rusage', None)


def end_all_children():
    for p in list(LIVE):
        try:
            reap(p, timeout=5.0)
        except ChildProcessError:
            LIVE.discard(p)


def vm_hwm_kib(pid):
    """Peak RSS so far. Not ru_maxrss: that also counts the forked copy of
    this Python process the child was before its exec."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_generator(argv, timeout=300):
    # Pinned: on these VMs an unpinned loop's ns/op depends on which CPU it
    # lands on (up to 1.5x), which would swamp a floor of ~100 ns.
    p = spawn(argv, out=subprocess.PIPE, err=subprocess.PIPE, cpu=GEN_CPU)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise RuntimeError(f'{" ".join(argv)}: timed out')
    finally:
        LIVE.discard(p)
    m = re.search(rb'([0-9.]+) ns/op', out)
    if p.returncode or not m:
        raise RuntimeError(f'{" ".join(argv)}: exit {p.returncode}: '
                           f'{err.decode(errors="replace").strip()}')
    return float(m.group(1))


def first_line(path, pattern=None):
    try:
        with open(path, errors='replace') as f:
            for line in f:
                line = line.strip()
                if line and (not pattern or re.search(pattern, line)):
                    return line
    except OSError:
        pass
    return ''


class TracerFailed(Exception):
    pass


class Session:
    """One run of one tracer: started, attached, then stopped."""

    def __init__(self, tracer, env, tag, argv=None):
        self.t = tracer
        self.argv = argv or tracer.argv
        base = os.path.join(env.tmp, f'{tracer.slug}-{tag}')
        self.out, self.err = base + '.out', base + '.err'
        self.proc = None
        self.startup_ms = self.ready_ms = None
        self.prog_fds = {}

    def start(self, prober_argv, timeout=30.0):
        with open(self.out, 'wb') as out, open(self.err, 'wb') as err, \
                BpfStats():
            prober = spawn(prober_argv) if prober_argv and self.t.events \
                else None
            try:
                if prober:
                    time.sleep(0.03)  # making events before the launch
                t0 = time.monotonic()
                self.proc = spawn(self.argv, out, err)
                self._wait_attached(t0, timeout)
            finally:
                if prober:
                    reap(prober, signal.SIGTERM)
        time.sleep(0.05)  # let it finish whatever follows its first event

    def _wait_attached(self, t0, timeout):
        ready_re = self.t.ready
        links, links_since = -1, t0
        while True:
            now = time.monotonic()
            if self.proc.poll() is not None:
                LIVE.discard(self.proc)
                why = first_line(self.err, r'(?i)fail|error|cannot|denied') \
                    or first_line(self.err) or 'no message'
                raise TracerFailed(f'exited {self.proc.returncode}: {why}')
            if self.startup_ms is None and self.t.events:
                self.prog_fds = bpf_fds(self.proc.pid, 'bpf-prog')
                if any(int(i.get('run_cnt', 0)) > 0
                       for i in self.prog_fds.values()):
                    # Stamped when seen: never earlier than it happened.
                    self.startup_ms = (time.monotonic() - t0) * 1000
            if ready_re and self.ready_ms is None and \
                    first_line(self.err, ready_re):
                self.ready_ms = (time.monotonic() - t0) * 1000
            if self.startup_ms is not None and \
                    (not ready_re or self.ready_ms is not None):
                return
            if not self.t.events and self.ready_ms is not None:
                self.startup_ms = self.ready_ms
                return
            if not self.t.events and not ready_re:
                # No event to see, no ready line: its BPF links, once their
                # number has not changed for 50 ms.
                n = len(bpf_fds(self.proc.pid, 'bpf_link'))
                if n != links:
                    links, links_since = n, now
                elif n and now - links_since > 0.05:
                    self.startup_ms = self.ready_ms = \
                        (links_since - t0) * 1000
                    self.t.notes.add('attached taken from its BPF links')
                    return
            if self.startup_ms is not None and self.ready_ms is None and \
                    now - t0 > self.startup_ms / 1000 + 2.0:
                self.t.notes.add('no ready line ("Tracing...") on stderr')
                return
            if self.ready_ms is not None and now - t0 > 3.0:
                self.startup_ms = None  # ready, yet no event: note it
                self.t.notes.add('no event seen by its programs at start; '
                                 'attached taken from its ready line')
                return
            if now - t0 > timeout:
                reap(self.proc, signal.SIGKILL)
                raise TracerFailed(f'not attached after {timeout:.0f} s')
            time.sleep(0.0005)

    def prog_stats(self):
        """fd info (run_cnt, run_time_ns, prog_id) of its programs, now,
        with 'hook': the tracepoint names its links attach it to."""
        progs = list(bpf_fds(self.proc.pid, 'bpf-prog').values())
        hooks = {}
        for link in bpf_fds(self.proc.pid, 'bpf_link').values():
            hooks.setdefault(link.get('prog_id'), []).append(
                link.get('tp_name') or link.get('link_type', '?'))
        for p in progs:
            p['hook'] = '+'.join(hooks.get(p.get('prog_id'), []))
        return progs

    def stop(self):
        SEEN_PROGS.update(int(i['prog_id']) for i in
                          bpf_fds(self.proc.pid, 'bpf-prog').values()
                          if 'prog_id' in i)
        self.maxrss_kib = vm_hwm_kib(self.proc.pid)
        status, ru = reap(self.proc)
        self.status = status
        self.cpu_s = ru.ru_utime + ru.ru_stime if ru else None
        if getattr(self.proc, 'killed', False):
            self.t.notes.add('did not exit within 15 s of SIGINT: killed')
        elif status not in (0, -signal.SIGINT, 130):
            self.t.notes.add(f'exit status {status} on SIGINT: '
                             f'{first_line(self.err)}')
        return self


# ---------------------------------------------------------------- the plan

class Tracer:
    def __init__(self, name, kind, argv=None, ready=None, events=True,
                 floor=None, ref=None, hooks=None):
        self.name, self.kind, self.argv = name, kind, argv
        self.slug = re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')
        self.ready = ready  # regex of the stderr line it prints when ready
        self.events = events  # does the workload's prober fire its hooks?
        self.floor = floor  # floor on the hooks it attached (ours)
        self.ref = ref  # floor on the reference hooks for it
        self.hooks = hooks or []
        self.samples, self.startup, self.rss, self.ready_ms = [], [], [], []
        self.added = []  # ns/op over the no-tracer runs beside each run
        self.bpf = None  # [(prog name, run_cnt, run_time_ns)]
        self.error = None
        self.notes = set()

    def med(self, values=None):
        v = self.samples if values is None else values
        return statistics.median(v) if v else None


# The floor every tracer on a workload is compared with, whatever hooks our
# tool chose: the hooks a conventional tool attaches for that workload.
REFERENCE = {
    'open': ['tracepoint:syscalls/sys_enter_openat',
             'tracepoint:syscalls/sys_exit_openat'],
    'read': ['tracepoint:syscalls/sys_enter_read',
             'tracepoint:syscalls/sys_exit_read'],
    'connect': ['tracepoint:sock/inet_sock_set_state'],
    'dio': ['tp_btf:block_rq_issue', 'tp_btf:block_rq_complete'],
}
# Each of our tools' reference floor; also its own floor when its hooks
# cannot be read from its links.
TOOL_REFERENCE = {
    'opensnoop': REFERENCE['open'],
    'readlat': REFERENCE['read'],
    'tcpconnect': REFERENCE['connect'],
    'tcpretrans': ['tracepoint:tcp/tcp_retransmit_skb'],
    'biolatency': REFERENCE['dio'],
}


class Workload:
    def __init__(self, key, title, gen, probe, n):
        self.key, self.title, self.gen, self.probe, self.n = \
            key, title, gen, probe, n
        self.tracers = []
        self.floors = {}  # tuple(hooks) -> floor Tracer
        self.ref = None  # the reference floor

    def floor_for(self, hooks, label, bench, events=True):
        """The floor on these hooks (made once per workload); events:
        whether the workload's prober fires them."""
        key = tuple(sorted(hooks))
        if key not in self.floors:
            t = Tracer(f'floor: {label}', 'floor',
                       [os.path.join(bench, 'floor')] + list(key),
                       ready=r'^Tracing', hooks=list(key), events=events)
            self.floors[key] = t
            self.tracers.append(t)
        self.floors[key].events |= events
        return self.floors[key]


def describe_hooks(hooks):
    by_mech = {}
    for h in hooks:
        mech, _, name = h.partition(':')
        by_mech.setdefault(mech, []).append(name.split('/')[-1])
    return '; '.join(f'{m} {"+".join(n)}' for m, n in by_mech.items())


class Env:
    def __init__(self, args):
        self.args = args
        self.load_start = os.getloadavg()[0]
        self.busy_start = busy_processes()
        self.tmp = tempfile.mkdtemp(prefix='bpfkit-bench-')
        self.notes = []
        self.loop = None
        self.target = os.path.join(self.tmp, 'open-target')
        self.probe_file = os.path.join(self.tmp, 'probe-target')
        for path in (self.target, self.probe_file):
            open(path, 'w').close()
        self.dio_path, self.dio_what = self._make_dio_target()

    def _make_dio_target(self):
        img = os.path.join(self.tmp, 'dio.img')
        with open(img, 'wb') as f:
            f.write(b'\0' * (16 << 20))
        r = subprocess.run(['losetup', '-f', '--show', img],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            self.loop = r.stdout.strip()
            return self.loop, f'{self.loop} (a loop device over a 16 MiB ' \
                              'file, made and removed by the suite)'
        self.notes.append(f'losetup failed ({r.stderr.strip()}): O_DIRECT '
                          'reads go to a file on the root disk')
        return img, 'a 16 MiB file on the root disk'

    def cleanup(self):
        if self.loop:
            subprocess.run(['losetup', '-d', self.loop])
            self.loop = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def tool_path(args, name):
    path = os.path.join(args.tools, name)
    return path if os.access(path, os.X_OK) else None


def discover(env, path, wl_probe, events):
    """Run one of our tools once (also a warm-up): the hooks it attaches."""
    t = Tracer(os.path.basename(path), 'ours', [path], ready=r'^Tracing',
               events=events)
    s = Session(t, env, 'discover')
    s.start(wl_probe)
    hooks, unknown = attached_hooks(s.proc.pid)
    s.stop()
    return hooks, unknown


def make_plan(env, p):
    args, bench = env.args, env.args.bin
    b = lambda name: os.path.join(bench, name)  # noqa: E731
    wls = [
        Workload('open', 'openat()+close() of one file',
                 lambda n: [b('open_loop'), str(n), env.target],
                 [b('open_loop'), '1000000000', env.probe_file, '100'],
                 p['open']),
        Workload('read', '1-byte read() from /dev/zero',
                 lambda n: [b('read_loop'), str(n)],
                 [b('read_loop'), '1000000000', '100'], p['read']),
        Workload('connect', 'TCP connect+accept+close on loopback',
                 lambda n: [b('connect_loop'), str(n)],
                 [b('connect_loop'), '1000000000', '200'], p['connect']),
        Workload('dio', '4 KiB O_DIRECT read',
                 lambda n: [b('dio_loop'), str(n), env.dio_path],
                 [b('dio_loop'), '1000000000', env.dio_path, '200'],
                 p['dio']),
    ]
    W = {w.key: w for w in wls}
    for w in wls:
        w.tracers.append(Tracer('no tracer', 'none'))

    for w in wls:
        hooks = REFERENCE[w.key]
        w.ref = w.floor_for(hooks, f'reference ({describe_hooks(hooks)})',
                            bench)
    # The read floor in the other two mechanisms too, whatever readlat uses.
    for label, hooks in (
            ('raw_tp pair', ['raw_tp:sys_enter', 'raw_tp:sys_exit']),
            ('tp_btf pair', ['tp_btf:sys_enter', 'tp_btf:sys_exit'])):
        W['read'].floor_for(hooks, f'{label} ({describe_hooks(hooks)})',
                            bench)

    ours = [('opensnoop', 'open', True), ('readlat', 'read', True),
            ('tcpconnect', 'connect', True), ('tcpretrans', 'connect', False),
            ('biolatency', 'dio', True), ('oomkill', None, False)]
    startup_only = []
    skipped = []
    for name, wkey, events in ours:
        path = tool_path(args, name)
        if not path:
            skipped.append(name)
            continue
        if wkey is None:
            startup_only.append(Tracer(f'bpfkit {name}', 'ours', [path],
                                       ready=r'^Tracing', events=False))
            continue
        w = W[wkey]
        try:
            hooks, unknown = discover(env, path, w.probe, events)
        except (TracerFailed, RuntimeError) as e:
            t = Tracer(f'bpfkit {name}', 'ours', [path])
            t.error = f'failed to start: {e}'
            w.tracers.append(t)
            continue
        if not hooks or unknown:
            env.notes.append(f'{name}: attach points not all readable '
                             f'({", ".join(unknown) or "none"}); its own '
                             'floor is the default hook set')
            hooks = TOOL_REFERENCE[name]
        floor = w.floor_for(hooks, f'{name}\'s own hooks '
                            f'({describe_hooks(hooks)})', bench, events)
        ref = TOOL_REFERENCE[name]
        ref = w.floor_for(ref, f'reference for {name} '
                          f'({describe_hooks(ref)})', bench, events)
        w.tracers.append(Tracer(f'bpfkit {name}', 'ours', [path],
                                ready=r'^Tracing', events=events,
                                floor=floor, ref=ref))
    if skipped:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env.notes.append('not built, skipped: ' + ', '.join(
            os.path.relpath(os.path.join(args.tools, n), top)
            for n in skipped))

    def peer(w, name, argv, events=True):
        if not os.access(argv[0], os.X_OK):
            env.notes.append(f'peer {name}: {argv[0]} not installed')
            return
        w.tracers.append(Tracer(name, 'peer', argv, events=events,
                                ref=w.ref))

    peer(W['open'], 'libbpf-tools opensnoop', [f'{PEER_DIR}/opensnoop'])
    peer(W['open'], 'bpftrace: count opens',
         [BPFTRACE, '-e', 'tracepoint:syscalls:sys_enter_openat '
          '{ @opens[comm] = count(); }'])
    peer(W['open'], 'bpftrace: print opens',
         [BPFTRACE, '-e', 'tracepoint:syscalls:sys_enter_openat '
          '{ printf("%d %s %s\\n", pid, comm, str(args->filename)); }'])
    peer(W['read'], 'bpftrace: read latency hist',
         [BPFTRACE, '-e', 'tracepoint:syscalls:sys_enter_read '
          '{ @s[tid] = nsecs } tracepoint:syscalls:sys_exit_read '
          '/@s[tid]/ { @h = hist(nsecs - @s[tid]); delete(@s[tid]); }'])
    peer(W['dio'], 'libbpf-tools biolatency', [f'{PEER_DIR}/biolatency'])
    # Floors first in their workload's table, peers last.
    order = {'none': 0, 'floor': 1, 'ours': 2, 'peer': 3}
    for w in wls:
        w.tracers.sort(key=lambda t: order[t.kind])
    # Peers that fail on kernels without kprobes: tried, and reported.
    for name in ('tcpconnect', 'oomkill'):
        path = f'{PEER_DIR}/{name}'
        if os.access(path, os.X_OK):
            startup_only.append(Tracer(f'libbpf-tools {name}', 'peer',
                                       [path], events=False))
    return wls, startup_only


# ---------------------------------------------------------------- phases

def over_budget(env, skipping=None):
    """Past the time budget? If so and skipping names what is left out,
    say so in the report's notes (once per thing)."""
    over = time.monotonic() - T0 > env.args.budget
    if over and skipping:
        note = f'time budget ({env.args.budget:.0f} s) reached: skipped ' \
               f'{skipping}'
        if note not in env.notes:
            env.notes.append(note)
    return over


def measure_once(env, w, t, tag):
    """One run of the workload under tracer t; returns its ns/op."""
    if t.kind == 'none':
        t.samples.append(run_generator(w.gen(w.n)))
        return t.samples[-1]
    s = Session(t, env, tag)
    s.start(w.probe)
    try:
        t.samples.append(run_generator(w.gen(w.n)))
    finally:
        s.stop()
        for path in (s.out, s.err):
            os.unlink(path)
    if s.startup_ms is not None:
        t.startup.append(s.startup_ms)
    if s.ready_ms is not None:
        t.ready_ms.append(s.ready_ms)
    if s.maxrss_kib:
        t.rss.append(s.maxrss_kib)
    return t.samples[-1]


def phase_cost(env, wls, rounds):
    """Rounds of: none, tracer 1, none, tracer 2, ..., none. A tracer's
    added cost in a round is its ns/op minus the mean of the no-tracer runs
    just before and after it: the speed of these machines drifts over
    seconds, and a baseline taken next to each run cancels most of that."""
    for w in wls:
        for r in range(rounds):
            if over_budget(env):
                env.notes.append(f'time budget reached: {w.key} stopped '
                                 f'after {r} rounds')
                break
            none = w.tracers[0]
            live = [t for t in w.tracers[1:] if not t.error]
            k = r % len(live) if live else 0
            before = measure_once(env, w, none, f'r{r}')
            for t in live[k:] + live[:k]:  # rotated: no fixed order
                try:
                    ns = measure_once(env, w, t, f'r{r}')
                except TracerFailed as e:
                    t.error = str(e)
                    t.notes.add(f'failed in round {r + 1}, not run again: '
                                f'{e}')
                    log(f'{w.key}: {t.name}: {e}')
                    continue
                after = measure_once(env, w, none, f'r{r}')
                t.added.append(ns - (before + after) / 2)
                before = after
            log(f'{w.key} round {r + 1}/{rounds}: ' + ', '.join(
                f'{t.name.split(" (")[0]} {t.added[-1]:+.0f}' for t in live
                if t.added and not t.error))


def phase_bpf_stats(env, wls):
    """One more run of each tracer with BPF stats on: its programs' own
    average run time per event."""
    for w in wls:
        for t in w.tracers:
            if t.kind == 'none' or t.error or \
                    over_budget(env, 'part of the BPF run time figures'):
                continue
            with BpfStats():
                s = Session(t, env, 'stats')
                try:
                    s.start(w.probe)
                except TracerFailed as e:
                    t.notes.add(f'failed in the BPF statistics run: {e}')
                    continue
                try:
                    run_generator(w.gen(w.n))
                    progs = s.prog_stats()
                    names = prog_names([i.get('prog_id') for i in progs])
                finally:
                    s.stop()
                    os.unlink(s.out)
                    os.unlink(s.err)
            t.bpf = sorted(((names.get(i.get('prog_id'), '?') +
                             (f' ({i["hook"]})' if i['hook'] else ''),
                             int(i.get('run_cnt', 0)),
                             int(i.get('run_time_ns', 0))) for i in progs),
                           key=lambda x: -x[1])
        log(f'{w.key}: BPF run time per event read')


def prog_names(ids):
    r = subprocess.run(['bpftool', 'prog', 'show', '-j'], capture_output=True,
                       text=True)
    try:
        progs = json.loads(r.stdout)
    except ValueError:
        return {}
    return {str(p['id']): p.get('name', '?') for p in progs
            if str(p['id']) in ids}


def count_lines(path, needle, check_json):
    """Lines containing needle; and of those, how many are not valid JSON
    (None unless check_json)."""
    n, bad = 0, 0
    with open(path, 'rb') as f:
        for line in f:
            if needle in line:
                n += 1
                if check_json:
                    try:
                        json.loads(line)
                    except ValueError:
                        bad += 1
    return n, bad if check_json else None


def wait_output_settled(path, timeout=30.0):
    """Until the tracer has written what it had (its file stops growing)."""
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        size = os.path.getsize(path)
        now = time.monotonic()
        if size - last > 64 * 1024:
            last, stable_since = size, now
        elif now - stable_since > 0.3:
            return
        time.sleep(0.05)


def phase_delivery(env, wl_open, n):
    """n opens at full speed with opensnoop writing to a file: lost events
    (counted in the output, and as the tool reports them), CPU time."""
    rows = []
    cands = [t for t in wl_open.tracers
             if t.kind == 'ours' or t.name == 'libbpf-tools opensnoop']
    for t in cands:
        modes = [('text', [])]
        if t.kind == 'ours':
            modes.append(('JSON (-j)', ['-j']))
        for mode, extra in modes:
            if t.error or over_budget(env, 'part of the delivery test'):
                continue
            target = os.path.join(env.tmp, f'deliver-{len(rows)}')
            open(target, 'w').close()
            s = Session(t, env, f'deliver{len(rows)}', t.argv + extra)
            try:
                s.start(wl_open.probe)
            except TracerFailed as e:
                rows.append(dict(tracer=t.name, mode=mode, error=str(e)))
                continue
            try:
                nsop = run_generator([os.path.join(env.args.bin, 'open_loop'),
                                      str(n), target], timeout=600)
                wait_output_settled(s.out)
            finally:
                s.stop()
            seen, bad = count_lines(s.out, target.encode(), bool(extra))
            with open(s.err, errors='replace') as f:
                lost_lines = [ln.strip() for ln in f if 'lost' in ln.lower()]
            rows.append(dict(tracer=t.name, mode=mode, n=n, seen=seen,
                             lost=n - seen, reported=lost_lines, bad=bad,
                             cpu=s.cpu_s, nsop=nsop, rss=s.maxrss_kib,
                             out_mb=os.path.getsize(s.out) / 1e6))
            os.unlink(s.out)
            os.unlink(s.err)
            log(f'delivery: {t.name} {mode}: {seen}/{n} seen, '
                f'{s.cpu_s:.2f} s CPU')
    return rows


def phase_startup_only(env, tracers, runs):
    """A few seconds at most: it runs even past the time budget."""
    for t in tracers:
        for r in range(runs):
            if t.error:
                break
            s = Session(t, env, f'start{r}')
            try:
                s.start(None, timeout=10.0)
            except TracerFailed as e:
                t.error = str(e)
                break
            s.stop()
            os.unlink(s.out)
            os.unlink(s.err)
            for values, v in ((t.startup, s.startup_ms),
                              (t.ready_ms, s.ready_ms),
                              (t.rss, s.maxrss_kib)):
                if v is not None:
                    values.append(v)
        log(f'start-up: {t.name}: ' +
            (t.error or f'{fmt(t.med(t.startup), ".1f")} ms'))


def leftover_programs(ids):
    r = subprocess.run(['bpftool', 'prog', 'show', '-j'], capture_output=True,
                       text=True)
    try:
        return [p['id'] for p in json.loads(r.stdout) if p['id'] in ids]
    except ValueError:
        return []


# ---------------------------------------------------------------- report

def fmt(v, spec='.0f'):
    return '-' if v is None else format(v, spec)


def spread(values, spec='.0f'):
    if not values:
        return '-'
    return f'{statistics.median(values):{spec}} ({min(values):{spec}}..' \
           f'{max(values):{spec}})'


def added(w, t):
    return statistics.median(t.added) if t.added else None


def fires(w, floor):
    """Do the floor's hooks fire about once an operation or more? (From its
    BPF statistics run; True when unknown.)"""
    if floor.bpf is None:
        return True
    return sum(cnt for _, cnt, _ in floor.bpf) >= w.n / 2


def ratio(w, t, floor):
    """Added cost over the floor's (0 when the tracer's is below zero:
    noise); None where the floor's is not above zero, or its hooks do not
    fire in this workload."""
    if t.kind == 'none' or not floor or floor is t or not fires(w, floor):
        return None
    a, f = added(w, t), added(w, floor)
    if a is None or not f or f <= 0:
        return None
    return max(a, 0) / f


def ratio_text(r):
    return '-' if r is None else f'{r:.2f}x'


def mib(kib_values):
    return [k / 1024 for k in kib_values if k]


def machine_rows(env, mode, p):
    cpu = '?'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem_gib = int(f.readline().split()[1]) / (1 << 20)

    def out(cmd):
        r = subprocess.run(cmd, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else '?'

    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = out(['git', '-C', top, 'rev-parse', '--short', 'HEAD'])
    dirty = out(['git', '-C', top, 'status', '--porcelain', '--',
                 'bpf', 'tools', 'lib', 'bench'])
    return [
        ('machine', f'{cpu}, {os.cpu_count()} CPUs, {mem_gib:.0f} GiB'),
        ('kernel', f'{platform.release()} ({platform.machine()})'),
        ('date', datetime.datetime.now(datetime.timezone.utc)
         .strftime('%Y-%m-%d %H:%M UTC')),
        ('commit', commit + (' with uncommitted changes' if dirty else '')),
        ('peers', 'libbpf-tools ' +
         out(['dpkg-query', '-W', '-f=${Version}', 'libbpf-tools']) +
         ', ' + out([BPFTRACE, '--version'])),
        ('mode', f'{mode}: {p["rounds"]} runs per configuration, '
         'interleaved; load generators pinned to ' +
         (f'CPU {GEN_CPU}' if GEN_CPU is not None else 'no CPU')),
        ('load average (1 min)', f'{env.load_start:.2f} at start, '
         f'{os.getloadavg()[0]:.2f} at end' +
         (' (a busy machine: figures are noisy)' if
          max(env.load_start, os.getloadavg()[0]) > 0.7 else '')),
        ('other busy processes (> 20% of a CPU)',
         'at start: ' + (', '.join(env.busy_start) or 'none') +
         '; at end: ' + (', '.join(busy_processes()) or 'none')),
    ]


def mark(ok):
    return 'met' if ok else '**missed**'


def targets_table(wls, startup_only, delivery):
    rows = ['| tool | added cost / floor (<= 1.5x) | lost at full speed '
            '(0) | start-up (<= 15 ms) | peak RSS (<= 14 MiB) | ahead of '
            'every peer here |', '|---|---|---|---|---|---|']
    for w in wls + [None]:
        tracers = w.tracers if w else startup_only
        for t in tracers:
            if t.kind != 'ours':
                continue
            base = t.name.split()[-1]
            peers = [pt for pt in tracers if pt.kind == 'peer' and
                     not pt.error and (pt.added or pt.startup) and
                     (w or pt.name.endswith(base))]
            if t.error and not t.samples:
                rows.append(f'| {t.name} | {t.error} | | | | |')
                continue
            cells = [t.name]
            rs = []
            floors = [('own hooks', t.floor), ('reference', t.ref)]
            if t.floor is t.ref:
                floors = [('own hooks = reference', t.floor)]
            for what, fl in floors if w else []:
                if not fl:
                    continue
                r = ratio(w, t, fl)
                why = 'floor not above no tracer' if fires(w, fl) else \
                    'its hooks do not fire in this workload'
                rs.append(f'{what}: {why}' if r is None else
                          f'{r:.2f}x {what} {mark(r <= TARGET_RATIO)}')
            cells.append('; '.join(rs) or '-')
            d = [x for x in delivery if x['tracer'] == t.name and 'lost' in x]
            cells.append(', '.join(f'{x["lost"]} ({x["mode"]}) '
                                   f'{mark(x["lost"] == 0)}' for x in d)
                         or '-')
            st = t.med(t.startup)
            cells.append('-' if st is None else
                         f'{st:.1f} ms {mark(st <= TARGET_STARTUP_MS)}')
            rss = t.med(mib(t.rss))
            cells.append('-' if rss is None else
                         f'{rss:.1f} MiB {mark(rss <= TARGET_RSS_MIB)}')
            verdicts = []
            for pt in peers:
                lose = []
                if w and added(w, t) is not None and added(w, pt) is not \
                        None and added(w, t) >= added(w, pt):
                    lose.append('cost')
                if pt.startup and t.startup and \
                        t.med(t.startup) >= pt.med(pt.startup):
                    lose.append('start-up')
                if pt.rss and t.rss and t.med(t.rss) >= pt.med(pt.rss):
                    lose.append('RSS')
                verdicts.append(f'{pt.name}: ' + ('ahead' if not lose else
                                                  '**behind on ' +
                                                  ', '.join(lose) + '**'))
            cells.append('; '.join(verdicts) or 'no peer runs here')
            rows.append('| ' + ' | '.join(cells) + ' |')
    return rows


def cost_table(w):
    rows = ['| tracer | ns/op median (min..max) | added ns/op median '
            '(min..max) | added / '
            'its reference floor | added / floor on its own hooks | '
            'start-up ms '
            '| peak RSS MiB |', '|---|---|---|---|---|---|---|']
    for t in w.tracers:
        if t.error and not t.samples:
            rows.append(f'| {t.name} | {t.error} | | | | | |')
            continue
        ref = t.ref or (w.ref if t.kind == 'floor' and fires(w, t)
                        else None)
        rows.append('| ' + ' | '.join([
            t.name, spread(t.samples),
            '-' if t.kind == 'none' else spread(t.added, '+.0f'),
            ratio_text(ratio(w, t, ref)), ratio_text(ratio(w, t, t.floor)),
            spread(t.startup, '.1f'), spread(mib(t.rss), '.1f')]) + ' |')
    return rows


def dump_raw(path, wls, startup_only, delivery):
    """Every sample, for whoever wants more than the report shows."""
    def tracer(t):
        return dict(name=t.name, kind=t.kind, argv=t.argv, hooks=t.hooks,
                    ns_per_op=t.samples, added_ns_per_op=t.added,
                    startup_ms=t.startup,
                    ready_ms=t.ready_ms, vm_hwm_kib=t.rss, bpf=t.bpf,
                    error=t.error, notes=sorted(t.notes),
                    floor=t.floor.name if t.floor else None,
                    ref=t.ref.name if t.ref else None)
    raw = dict(workloads=[dict(key=w.key, title=w.title, n=w.n,
                               tracers=[tracer(t) for t in w.tracers])
                          for w in wls],
               startup_only=[tracer(t) for t in startup_only],
               delivery=delivery)
    with open(path, 'w') as f:
        json.dump(raw, f, indent=1)


def write_report(env, path, mode, p, wls, startup_only, delivery,
                 leftovers):
    L = ['# Benchmarks', '',
         'Written by `make bench` (bench/run.py); `make bench QUICK=1` is a '
         'short smoke run. Rerun it to measure your own machine: figures '
         'from different machines or runs are not comparable, ratios '
         'measured side by side in one run are.', '',
         '| | |', '|---|---|']
    L += [f'| {k} | {v} |' for k, v in machine_rows(env, mode, p)]
    L += ['', '## Targets', '',
          'Issue 7\'s targets against this run\'s figures (shown, not '
          'asserted). Added cost is ns added to each operation over no '
          'tracer. A floor is empty BPF programs attached to a set of '
          'hooks: "own hooks" are exactly the hooks the tool attached '
          '(read from its BPF links), "reference" the hooks a conventional '
          'tool attaches for that workload (e.g. the sys_enter_openat + '
          'sys_exit_openat tracepoint pair for opens).', '']
    L += targets_table(wls, startup_only, delivery)
    L += ['', '## Cost per operation', '',
          'Each round runs the workload once under each tracer (floors, our '
          'tools, peers; the order rotates from round to round) with a run '
          'without tracer before, between and after them. A run\'s added '
          'cost is its ns/op minus the mean of the two no-tracer runs beside '
          'it (these machines\' speed drifts over seconds); the table shows '
          'medians over the rounds with min..max. Start-up: launch to the first '
          'event seen by the tracer\'s BPF programs. Peak RSS: VmHWM of the '
          'tracer just before it is stopped.', '']
    for w in wls:
        floors = ', '.join(f'`{" ".join(t.hooks)}`'
                           for t in w.floors.values())
        L += [f'### {w.title} ({w.n:,} per run)', '']
        if w.key == 'dio':
            L += [f'On {env.dio_what}.', '']
        L += cost_table(w)
        L += ['', f'Floor hooks: {floors}.', '']
        notes = sorted({f'{t.name}: {n}' for t in w.tracers for n in t.notes})
        L += [f'- {n}' for n in notes]
        if notes:
            L.append('')
    L += ['## Event delivery at full speed', '',
          'opensnoop writing to a file while one process opens one file '
          'at full speed. Lost = opens made minus lines naming that file '
          'in the output (ground truth); "reported" is what the tool '
          'itself says on stderr. CPU: the tracer\'s user+system time over '
          'its whole life.', '',
          '| tracer | output | opens | lines seen | lost | reported by '
          'the tool | tracer CPU s | ns/op while tracing | output MB | '
          'peak RSS MiB |', '|---|---|---|---|---|---|---|---|---|---|']
    for d in delivery:
        if 'error' in d:
            L.append(f'| {d["tracer"]} | {d["mode"]} | {d["error"]} | | | '
                     '| | | | |')
            continue
        rep = '; '.join(d['reported']) or 'nothing'
        if len(d['reported']) > 3:
            total = sum(int(m) for ln in d['reported']
                        for m in re.findall(r'(?i)lost (\d+)', ln))
            rep = f'{len(d["reported"])} lines like "{d["reported"][0]}", ' \
                  f'{total:,} in all'
        if d['bad'] is not None:
            rep += f' ({d["bad"]} lines not valid JSON)'
        L.append(f'| {d["tracer"]} | {d["mode"]} | {d["n"]:,} | '
                 f'{d["seen"]:,} | {d["lost"]:,} | {rep} | {d["cpu"]:.2f} | '
                 f'{d["nsop"]:.0f} | {d["out_mb"]:.0f} | '
                 f'{d["rss"] / 1024:.1f} |')
    L += ['', '## BPF programs\' own run time', '',
          'One extra run per tracer with BPF_ENABLE_STATS on: average '
          'run_time_ns / run_cnt of each program (the counters include '
          'events of every process, and the statistics themselves add a '
          'little to each run). Programs that never ran are left out.', '',
          '| workload | tracer | program | runs | avg ns per run |',
          '|---|---|---|---|---|']
    for w in wls:
        for t in w.tracers:
            for name, cnt, ns in t.bpf or []:
                if not cnt:
                    continue
                L.append(f'| {w.key} | {t.name} | {name} | {cnt:,} | '
                         f'{fmt(ns / cnt if cnt else None)} |')
    L += ['', '## Start-up and peak RSS of tracers without a workload', '',
          'Launched and stopped; attached taken from the ready line.', '',
          '| tracer | start-up ms | peak RSS MiB | status |',
          '|---|---|---|---|']
    for t in startup_only:
        L.append(f'| {t.name} | {spread([x for x in t.startup if x], ".1f")}'
                 f' | {spread(mib(t.rss), ".1f")} | '
                 f'{t.error or ("runs" if t.startup else "not run")} |')
    L += ['', '## Notes', '']
    L += [f'- {n}' for n in env.notes]
    L.append(f'- BPF programs left in the kernel by the suite: '
             f'{len(leftovers)}' + (f' (ids {leftovers})' if leftovers
                                    else '') + '.')
    L.append(f'- Wall time of the run: {time.monotonic() - T0:.0f} s.')
    with open(path + '.tmp', 'w') as f:
        f.write('\n'.join(L) + '\n')
    os.replace(path + '.tmp', path)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tools', required=True, help='our tools\' directory')
    ap.add_argument('--bin', required=True, help='generators and floor')
    ap.add_argument('--results', required=True, help='BENCHMARKS.md path')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--budget', type=float, help='seconds before phases '
                    'are cut short')
    ap.add_argument('--only', help='comma list of workloads to run')
    ap.add_argument('--cpu', type=int, default=os.cpu_count() - 1,
                    help='CPU to pin the load generators to (-1: none; '
                    'default: the last)')
    args = ap.parse_args()
    mode = 'quick' if args.quick else 'full'
    p = dict(QUICK if args.quick else FULL)
    if args.budget is None:
        args.budget = p['budget']
    global GEN_CPU
    GEN_CPU = args.cpu if args.cpu >= 0 else None
    if os.geteuid() != 0:
        sys.exit('bench: run as root (it loads BPF programs)')
    # SIGINT too: a shell starts background jobs with it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)

    env = None
    try:
        note = ensure_tracefs()
        env = Env(args)
        if note:
            env.notes.append(note)
        with open('/proc/sys/kernel/bpf_stats_enabled') as f:
            if f.read().strip() != '0':
                env.notes.append('kernel.bpf_stats_enabled was already on: '
                                 'every BPF run carried the statistics\' '
                                 'cost')
        log(f'{mode} run; temporary files in {env.tmp}; O_DIRECT on '
            f'{env.dio_path}')
        wls, startup_only = make_plan(env, p)
        if args.only:
            wls = [w for w in wls if w.key in args.only.split(',')]
        for w in wls:
            log(f'{w.key}: ' + ', '.join(t.name for t in w.tracers))
        phase_cost(env, wls, p['rounds'])
        phase_bpf_stats(env, wls)
        wl_open = next((w for w in wls if w.key == 'open'), None)
        delivery = phase_delivery(env, wl_open, p['deliver']) \
            if wl_open else []
        phase_startup_only(env, startup_only, p['rounds'])
        leftovers = leftover_programs(SEEN_PROGS)
        dump_raw(os.path.join(args.bin, 'results.json'), wls, startup_only,
                 delivery)
        write_report(env, args.results, mode, p, wls, startup_only,
                     delivery, leftovers)
        log(f'results written to {args.results}')
    except Interrupted as e:
        print(f'\nbench: interrupted ({e}); cleaning up',
              file=sys.stderr)
        return 130
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # cleanup runs to the end
        end_all_children()
        if env:
            env.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
