#!/usr/bin/env python3
"""Generate bash completion for each tool from the tool's own --help
(parsed by gen-man.py), with completion/bpfkit.bash.in as the template.

Usage: gen-completion.py --build DIR --out DIR [--prefix bpfkit-]
                         [--libexec /usr/lib/bpfkit/bin] TOOL...
The file of TOOL is OUT/PREFIXTOOL (bash-completion loads completions by
command name). It completes every option, the values of the options whose
help enumerates them ("unit: ns (default), us or ms") or whose argument
has a known kind (PIDs, paths, disks, comms), and the command after "--".
"""
import argparse
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def gen_man():
    spec = importlib.util.spec_from_file_location(
        "gen_man", os.path.join(HERE, "gen-man.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MECHS = "tp_btf raw_tp tracepoint fentry kprobe"

# "Latency unit: ns (default), us or ms", "..., from read, readv, recvmsg":
# the values an option's help text enumerates after a colon or "from"
_WORD = r"[a-z][a-z0-9_]*(?: \(default\))?"
_CHOICES = re.compile(rf"(?:: |\bfrom )({_WORD}(?:(?:,? or |, ){_WORD})+)"
                      r"(?=$|[ .;,)(])")


def choices(opt):
    """The values opt's help enumerates, or []."""
    m = _CHOICES.search(opt.doc)
    if not m:
        return []
    items = re.split(r",? or |, ", m.group(1))
    return [i.replace(" (default)", "") for i in items]


def value_completion(opt):
    """Shell code completing the argument of opt, or None."""
    arg = opt.arg or ""
    listed = choices(opt)
    is_list = ("," in arg or arg == "LIST" or
               "comma-separated" in opt.doc)
    if "MECH" in arg:
        return f'_bpfkit_list "$cur" "{" ".join(listed) or MECHS}"'
    if listed:
        words = " ".join(listed)
        if is_list:
            return f'_bpfkit_list "$cur" "{words}"'
        return f'COMPREPLY=($(compgen -W "{words}" -- "$cur"))'
    if arg.startswith("PID") or arg.startswith("TID"):
        words = "$(cd /proc && compgen -G '[0-9]*')"
        if "," in arg:
            return f'_bpfkit_list "$cur" "{words}"'
        return f'COMPREPLY=($(compgen -W "{words}" -- "$cur"))'
    if opt.long == "--cgroup":
        return 'COMPREPLY=($(compgen -d -- "$cur"))'
    if arg in ("PATH", "FILE"):
        return 'COMPREPLY=($(compgen -f -- "$cur"))'
    if arg.startswith("DISK"):
        return ('COMPREPLY=($(compgen -W "$(ls /sys/block 2>/dev/null)" '
                '-- "$cur"))')
    if arg == "COMM":
        return ('COMPREPLY=($(compgen -W "$(cat /proc/[0-9]*/comm '
                '2>/dev/null | sort -u)" -- "$cur"))')
    return None


def render(tool, h, cmd, libexec, template):
    opts, arg_opts, cases = [], [], []
    for o in h.options:
        opts += o.names()
        if o.arg:
            arg_opts += o.names()
            code = value_completion(o)
            if code:
                cases.append(f"\t\t{'|'.join(o.names())})\n"
                             f"\t\t\t{code} ;;")
    repl = {
        "@TOOL@": tool,
        "@CMD@": cmd,
        "@FUNC@": tool.replace("-", "_"),
        "@COMMAND@": "1" if "COMMAND" in " ".join(h.usage) else "0",
        "@OPTS@": " ".join(opts + (["--"] if "COMMAND" in " ".join(h.usage)
                                   else [])),
        "@ARG_OPTS@": "|".join(arg_opts) or "--no-such-option",
        "@ARG_CASES@": "\n".join(cases),
        "@PATHS@": os.path.join(libexec, tool) if libexec else "",
    }
    out = template
    for k, v in repl.items():
        out = out.replace(k, v)
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", default="bpfkit-")
    ap.add_argument("--libexec", default="/usr/lib/bpfkit/bin")
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args(argv)
    gm = gen_man()
    with open(os.path.join(ROOT, "completion", "bpfkit.bash.in")) as f:
        template = f.read()
    os.makedirs(a.out, exist_ok=True)
    for tool in a.tools:
        h = gm.tool_help(a.build, tool)
        cmd = a.prefix + tool
        path = os.path.join(a.out, cmd)
        with open(path + ".tmp", "w") as f:
            f.write(render(tool, h, cmd, a.libexec, template))
        os.rename(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
