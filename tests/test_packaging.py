"""Packaging: the Debian package (make deb) installs, runs a tool against a
real event from its installed path, and purges without a trace; every
option of every tool's --help is in its man page and its bash completion.

The package is built once per run (from a copy of the working tree, in a
temporary OUT) and reused; BPFKIT_DEB=path/to/bpfkit_*.deb skips the build.
"""
import atexit
import glob
import os
import re
import shutil
import subprocess
import tempfile

from kitlib import ROOT, BUILD, Skip, Tool, require_bpf, spawn_python, \
    release, tempdir

PKG = "bpfkit"
PREFIX = "bpfkit-"
LIBEXEC = "/usr/lib/bpfkit/bin"
BUILD_TIMEOUT = 600

_deb = {}


def tools():
    """The Makefile's TOOLS: tools/*.c, sorted."""
    return sorted(os.path.basename(p)[:-2]
                  for p in glob.glob(os.path.join(ROOT, "tools", "*.c")))


def built_deb():
    """Path of the package, built at most once per run."""
    if os.environ.get("BPFKIT_DEB"):
        return os.environ["BPFKIT_DEB"]
    if "path" in _deb:
        return _deb["path"]
    if not shutil.which("dpkg-buildpackage") and os.geteuid() != 0:
        raise Skip("dpkg-dev not installed (scripts/setup.sh deb, as root)")
    out = tempfile.mkdtemp(prefix="bpfkit-test-deb-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    p = subprocess.run(["make", "-C", ROOT, f"OUT={out}", "DEB_SRC=worktree",
                        "deb"], capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    assert p.returncode == 0, \
        f"make deb failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    debs = glob.glob(os.path.join(out, "deb", f"{PKG}_*.deb"))
    assert len(debs) == 1, f"expected one {PKG}_*.deb: {debs}"
    _deb["path"] = debs[0]
    return debs[0]


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PKG],
                       capture_output=True, text=True)
    return p.returncode == 0 and "installed" in p.stdout.split()


def deb_paths(deb):
    """The files and symlinks the package ships (not its directories)."""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                         text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        fields = line.split(None, 5)
        if line.startswith("d"):
            continue
        name = fields[5].split(" -> ")[0]
        paths.append(name[1:] if name.startswith("./") else name)
    return paths


# --- what --help, a man page and a completion say -------------------------

def help_options(path):
    """Every option word of path --help, by a plain reading of argp's
    layout (independent of scripts/gen-man.py's parser)."""
    text = subprocess.run([path, "--help"], capture_output=True, text=True,
                          check=True, timeout=30).stdout
    opts = set()
    for line in text.splitlines():
        m = re.match(r"^ {1,8}(-.*?)(?: {2,}|$)", line)
        if m:
            opts.update(re.findall(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)",
                                   m.group(1)))
    assert "--help" in opts and len(opts) > 10, f"{path}: {sorted(opts)}"
    return opts


def man_options(page):
    """Option words in the OPTIONS section of a man page, as man shows it."""
    if not shutil.which("man"):
        raise Skip("man (man-db) not installed")
    text = subprocess.run(["man", "-l", page], capture_output=True,
                          text=True, check=True, timeout=30,
                          env=dict(os.environ, MANWIDTH="200",
                                   LC_ALL="C.UTF-8", MANPAGER="cat",
                                   PAGER="cat")).stdout
    text = text.replace("\u2212", "-").replace("\u2010", "-")
    m = re.search(r"^OPTIONS\n(.*?)^[A-Z][A-Z ]+\n", text, re.M | re.S)
    assert m, f"{page}: no OPTIONS section:\n{text[:2000]}"
    opts = set()
    for line in m.group(1).splitlines():
        if line.strip().startswith("-"):
            spec = re.split(r" {2,}", line.strip())[0]
            opts.update(re.findall(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)",
                                   spec))
    return opts, text


def completion_words(script, cmd, words):
    """COMPREPLY of the completion script for a command line (the last
    word is the one being completed), run in a real bash."""
    prog = ('source "$1"; shift; COMP_WORDS=("$@"); '
            'COMP_CWORD=$(($# - 1)); '
            'f=$(complete -p "$CMD" | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p"); '
            '[ -n "$f" ] || exit 3; "$f"; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", prog, "bash", script, cmd, *words],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, CMD=cmd))
    assert p.returncode == 0, f"{script}: rc {p.returncode}: {p.stderr}"
    return set(p.stdout.split())


def check_documented(tool, binary, page, compl):
    """binary's options are exactly its man page's and its completion's."""
    want = help_options(binary)
    cmd = PREFIX + tool
    in_man, text = man_options(page)
    assert want == in_man, (f"{tool}: --help and man page differ: "
                            f"missing {sorted(want - in_man)}, "
                            f"extra {sorted(in_man - want)}")
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES",
                "EXIT STATUS", "OVERHEAD", "ATTACH MECHANISMS"):
        assert re.search(rf"^{sec}$", text, re.M), f"{tool}: no {sec}"
    for mech in ("tp_btf", "raw_tp", "tracepoint", "fentry", "kprobe"):
        assert mech in text.split("ATTACH MECHANISMS", 1)[1], \
            f"{tool}: {mech} not in ATTACH MECHANISMS"
    see_also = text.split("\nSEE ALSO\n", 1)[1]
    for other in tools():
        if other != tool:
            assert f"{PREFIX}{other}(8)" in see_also, \
                f"{tool}: SEE ALSO lacks {PREFIX}{other}(8)"
    got = completion_words(compl, cmd, [cmd, "-"])
    assert want <= got, f"{tool}: not completed: {sorted(want - got)}"
    extra = got - want - {"--"}
    assert not extra, f"{tool}: completion offers {sorted(extra)}"


# --- tests -------------------------------------------------------------------

def test_every_option_in_man_and_completion():
    """Generated from the built tools: every --help option of every tool
    is documented in its man page and offered by its completion."""
    with tempdir() as d:
        for script, sub in (("gen-man.py", "man"),
                            ("gen-completion.py", "completion")):
            subprocess.run(["python3", os.path.join(ROOT, "scripts", script),
                            "--build", BUILD, "--out", os.path.join(d, sub),
                            *tools()], check=True, timeout=120)
        for tool in tools():
            check_documented(tool, os.path.join(BUILD, tool),
                             os.path.join(d, "man", f"{PREFIX}{tool}.8"),
                             os.path.join(d, "completion", PREFIX + tool))
        # values: attach mechanisms as a list, "--opt=" split by bash
        compl = os.path.join(d, "completion", PREFIX + "opensnoop")
        cmd = PREFIX + "opensnoop"
        assert completion_words(compl, cmd, [cmd, "--attach", "=",
                                             "raw_tp,tr"]) == \
            {"raw_tp,tracepoint"}
        assert completion_words(compl, cmd, [cmd, "-p", str(os.getpid())]) \
            >= {str(os.getpid())}
        # after "--": a command (here without the bash-completion package)
        assert "python3" in completion_words(compl, cmd,
                                             [cmd, "-T", "--", "python"])
        # values the help text enumerates ("ns (default), us or ms")
        if "readlat" in tools():
            compl = os.path.join(d, "completion", PREFIX + "readlat")
            cmd = PREFIX + "readlat"
            assert completion_words(compl, cmd, [cmd, "--unit", "=", ""]) \
                == {"ns", "us", "ms"}
            assert completion_words(compl, cmd, [cmd, "--syscalls",
                                                 "read,prea"]) == \
                {"read,pread64", "read,preadv", "read,preadv2"}


def test_man_sections_from_sources():
    """Hand-written man/TOOL.md sections replace or add to the generated
    ones; README's "TOOL's JSON fields" table becomes JSON FIELDS."""
    with tempdir() as d:
        src = os.path.join(d, "src")
        os.mkdir(src)
        shutil.copy(os.path.join(ROOT, "man", "common.md"), src)
        with open(os.path.join(src, "opensnoop.md"), "w") as f:
            f.write("## Overhead\n\nHand-written overhead marker-one.\n\n"
                    "## Notes\n\nA hand-written note, marker-two.\n")
        subprocess.run(["python3", os.path.join(ROOT, "scripts",
                                                "gen-man.py"),
                        "--build", BUILD, "--out", d, "--man-src", src,
                        "opensnoop"], check=True, timeout=60)
        _, text = man_options(os.path.join(d, f"{PREFIX}opensnoop.8"))
    sections = re.findall(r"^([A-Z][A-Z ()-]+)$", text, re.M)
    assert sections.count("OVERHEAD") == 1 and "NOTES" in sections, \
        sections
    overhead = text.split("\nOVERHEAD\n", 1)[1].split("\nATTACH", 1)[0]
    assert "marker-one" in overhead and "make bench" not in overhead, \
        overhead
    assert "marker-two" in text.split("\nNOTES\n", 1)[1]
    # README.md's opensnoop field table, with each field's type
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    if "### opensnoop's JSON fields" in readme:
        fields = text.split("\nJSON FIELDS\n", 1)[1]
        assert re.search(r"^ +dfd +\(integer\)", fields, re.M), fields


def libbpf_tools_files():
    """Files of Debian's libbpf-tools when it is installed here, else
    None: bpfkit must install beside it."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}",
                        "libbpf-tools"], capture_output=True, text=True)
    if p.returncode != 0 or "installed" not in p.stdout.split():
        return None
    out = subprocess.run(["dpkg", "-L", "libbpf-tools"], capture_output=True,
                         text=True, check=True).stdout.split()
    return {q: os.stat(q).st_ino for q in out if os.path.isfile(q)}


def test_deb_install_run_purge():
    """dpkg -i the package, trace a real open with the installed
    bpfkit-opensnoop, check the installed docs, then dpkg -P: nothing of
    the package is left."""
    require_bpf()
    if installed():
        raise Skip(f"{PKG} is already installed here; not touching it")
    deb = built_deb()
    paths = deb_paths(deb)
    for t in tools():
        for p in (f"{LIBEXEC}/{t}", f"/usr/sbin/{PREFIX}{t}",
                  f"/usr/share/man/man8/{PREFIX}{t}.8.gz",
                  f"/usr/share/bash-completion/completions/{PREFIX}{t}"):
            assert p in paths, f"{p} not in the package: {paths}"
    info = subprocess.run(["dpkg-deb", "-f", deb, "Depends"],
                          capture_output=True, text=True).stdout
    for dep in ("libbpf1", "libmicrohttpd12"):
        assert dep in info, f"Depends lacks {dep}: {info}"
    peer = libbpf_tools_files()
    if peer is not None:
        clash = set(peer) & {"/" + q.lstrip("/") for q in paths}
        assert not clash, f"files also in libbpf-tools: {sorted(clash)}"
    try:
        p = subprocess.run(["dpkg", "-i", deb], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, f"dpkg -i: {p.stdout}{p.stderr}"
        assert installed()
        for t in tools():
            link = f"/usr/sbin/{PREFIX}{t}"
            assert os.path.realpath(link) == f"{LIBEXEC}/{t}", link
        # man finds the page by name, in its standard place
        if shutil.which("man"):
            w = subprocess.run(["man", "-w", PREFIX + "opensnoop"],
                               capture_output=True, text=True).stdout
            assert w.strip() == \
                f"/usr/share/man/man8/{PREFIX}opensnoop.8.gz", w
        # bash-completion's on-demand loader finds it by command name
        loader = "/usr/share/bash-completion/bash_completion"
        if os.path.exists(loader):
            prog = (f'source {loader}; __load_completion "$1" && '
                    'complete -p "$1"')
            p = subprocess.run(["bash", "-c", prog, "bash",
                                PREFIX + "opensnoop"], capture_output=True,
                               text=True, timeout=30)
            assert p.returncode == 0 and \
                p.stdout.split()[-1] == PREFIX + "opensnoop", \
                f"bash-completion does not load it: {p.stdout}{p.stderr}"
        # the installed docs match the installed programs
        for t in tools():
            check_documented(
                t, f"/usr/sbin/{PREFIX}{t}",
                f"/usr/share/man/man8/{PREFIX}{t}.8.gz",
                f"/usr/share/bash-completion/completions/{PREFIX}{t}")
        # a real event, traced by the installed tool (an absolute name
        # passes through kitlib's BUILD join unchanged)
        with tempdir() as d:
            target = os.path.join(d, "packaged-open-target")
            with open(target, "w") as f:
                f.write("x")
            child = spawn_python(f"open({target!r}).close()")
            try:
                with Tool(f"/usr/sbin/{PREFIX}opensnoop", "-j", "-p",
                          child.pid) as tool:
                    tool.wait_ready()
                    release(child)
                    tool.wait_for(lambda: target.encode() in tool.out,
                                  what="the child's open")
                    rc = tool.stop()
            finally:
                child.kill()
                child.wait()
        assert rc == 0, f"rc {rc}: {tool.stderr}"
        ev = [e for e in tool.json() if e["path"] == target]
        assert len(ev) == 1, ev
        assert ev[0]["pid"] == child.pid and ev[0]["fd"] >= 0 and \
            ev[0]["err"] == 0, ev[0]
    finally:
        p = subprocess.run(["dpkg", "-P", PKG], capture_output=True,
                           text=True, timeout=120)
    assert p.returncode == 0, f"dpkg -P: {p.stdout}{p.stderr}"
    assert not installed()
    p = subprocess.run(["dpkg", "-L", PKG], capture_output=True, text=True)
    assert p.returncode != 0, f"dpkg -L still lists {PKG}: {p.stdout}"
    left = [q for q in paths if os.path.lexists("/" + q.lstrip("/"))]
    assert not left, f"left behind: {left}"
    for d in (LIBEXEC, os.path.dirname(LIBEXEC), f"/usr/share/doc/{PKG}"):
        assert not os.path.exists(d), f"left behind: {d}"
    # libbpf-tools' own opensnoop & co. untouched by install and purge
    if peer is not None:
        assert libbpf_tools_files() == peer, "libbpf-tools' files changed"
