#!/usr/bin/env python3
"""Generate a man page per tool from the tool's own --help.

The option tables that drive --help (lib/kit.c's common options and each
tool's argp_option array) are the only source of the OPTIONS section, so the
page cannot drift from the program. Around them:

  NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXAMPLES, EXIT STATUS  from --help
  OUTPUT sections (text, JSON fields, histograms)   from docs/TOOL.md
  JSON FIELDS etc.   README.md's "TOOL's ..." sections (field tables)
  OUTPUT CONVENTIONS README.md's "Output: ..." section (before its subsections)
  other sections     docs/TOOL.md's remaining ones (limits, how it works);
                     not its "Options" (--help is the source) or "Testing"
  OVERHEAD        figures from BENCHMARKS.md, and docs/TOOL.md's notes
  ATTACH MECHANISMS  man/common.md, then docs/TOOL.md's "How it attaches"
  ENVIRONMENT, FILES, SEE ALSO                      man/common.md
  any section        man/TOOL.md, when it exists: its "## " sections replace
                     the page's section of the same title, or are added
                     before OVERHEAD (text written for the man page only)

Usage: gen-man.py --build DIR --out DIR [--prefix bpfkit-] TOOL...
The page of TOOL is OUT/PREFIXTOOL.8, for the command PREFIXTOOL.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION = "8"


# --- argp's --help -------------------------------------------------------

class Option:
    def __init__(self, short, long, arg, optional_arg, doc, group):
        self.short = short          # "-p" or None
        self.long = long            # "--pid" or None
        self.arg = arg              # "PID[,PID...]" or None
        self.optional_arg = optional_arg
        self.doc = doc
        self.group = group          # "" for the tool's own, else header

    def names(self):
        return [n for n in (self.short, self.long) if n]


class Help:
    def __init__(self):
        self.name = ""
        self.usage = []        # argument parts after the name
        self.summary = ""      # first line of the doc
        self.description = []  # further paragraphs
        self.options = []
        self.examples = []     # (command, comment)
        self.exit_status = ""


def parse_spec(spec):
    """'-p, --pid=PID[,PID...]' -> (short, long, arg, optional)."""
    short = long = arg = None
    optional = False
    for form in [f.strip() for f in spec.split(",") if f.strip()]:
        if form.startswith("--"):
            m = re.match(r"^(--[^=\[\s]+)(\[?=([^\]]*)\]?)?$", form)
            if not m:
                raise ValueError(f"unparsed option form {form!r}")
            long = m.group(1)
            if m.group(3):
                arg = m.group(3)
                optional = m.group(2).startswith("[")
        elif form.startswith("-"):
            m = re.match(r"^(-[^-\s])(?:(\[)?\s*([^\]]+)\]?)?$", form)
            if not m:
                # "-p, --pid": argp's comma also appears inside args
                # such as "PID[,PID...]"; glue those back on.
                raise ValueError(f"unparsed option form {form!r}")
            short = m.group(1)
            if m.group(3):
                arg = m.group(3)
                optional = bool(m.group(2))
        elif arg is not None:
            arg += "," + form   # a comma inside the argument
        else:
            raise ValueError(f"unparsed option form {form!r}")
    return short, long, arg, optional


def parse_help(text):
    h = Help()
    lines = text.splitlines()
    i = 0
    m = re.match(r"^Usage: (\S+)\s*(.*)$", lines[0])
    if not m:
        raise ValueError("--help does not start with 'Usage:'")
    h.name = m.group(1)
    usage = m.group(2)
    i = 1
    while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
        usage += " " + lines[i].strip()
        i += 1
    h.usage = usage.split()
    para = []
    while i < len(lines) and lines[i].strip():
        para.append(lines[i].strip())
        i += 1
    h.summary = " ".join(para)
    # the option list: up to argp's "Mandatory or optional" note
    group = ""
    opt = None
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("Mandatory or optional"):
            while i < len(lines) and lines[i].strip():
                i += 1
            break
        if not line.strip():
            opt = None
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if indent <= 2 and body.endswith(":") and not body.startswith("-"):
            group = body[:-1]
            opt = None
        elif body.startswith("-") and indent <= 8:
            parts = re.split(r"\s{2,}", body, maxsplit=1)
            short, long, arg, optional = parse_spec(parts[0])
            opt = Option(short, long, arg, optional,
                         parts[1] if len(parts) > 1 else "", group)
            h.options.append(opt)
        elif opt is not None:
            opt.doc = (opt.doc + " " + body).strip()
        else:
            raise ValueError(f"unexpected line in the options: {line!r}")
    # after the options: paragraphs (examples, exit status, other text)
    paras, cur = [], []
    for line in lines[i:]:
        if line.strip():
            cur.append(line)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    for p in paras:
        if p[0].strip() == "Examples:":
            for line in p[1:]:
                cmd, _, comment = line.strip().partition("#")
                h.examples.append((cmd.strip(), comment.strip()))
        elif p[0].startswith("Exit status:"):
            h.exit_status = " ".join(l.strip() for l in p)[
                len("Exit status:"):].strip()
        else:
            h.description.append(" ".join(l.strip() for l in p))
    return h


def tool_help(build, tool):
    path = os.path.join(build, tool)
    p = subprocess.run([path, "--help"], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"{path} --help exited {p.returncode}: "
                           f"{p.stderr.strip()}")
    return parse_help(p.stdout)


# --- roff ------------------------------------------------------------------

def esc(s):
    """Plain text to roff (no font changes)."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return s


def line_start(s):
    """A roff text line must not start with a control character."""
    return "\\&" + s if s[:1] in (".", "'") else s


def inline_md(s):
    """Markdown inline markup to roff: `code`, **bold**, [text](link)."""
    out = []
    pos = 0
    pat = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)]+)\)")
    for m in pat.finditer(s):
        out.append(esc(s[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + esc(m.group(1).replace("\\|", "|"))
                       + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            out.append(esc(m.group(3)))
        pos = m.end()
    out.append(esc(s[pos:]))
    return line_start("".join(out))


def table_cells(line):
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def md_to_roff(md):
    """The markdown our docs use (paragraphs, ###, lists, pipe tables,
    fenced code) to roff body text."""
    out = []
    lines = md.splitlines()
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.append(inline_md(" ".join(para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```"):
            flush()
            out += [".PP", ".RS 4", ".nf"]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(line_start(esc(lines[i])))
                i += 1
            out += [".fi", ".RE"]
            i += 1
            continue
        if s.startswith("#"):
            flush()
            out.append(".SS " + inline_md(s.lstrip("#").strip()))
        elif s.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(table_cells(lines[i]))
                i += 1
            if len(rows) > 1 and all(re.fullmatch(r":?-+:?", c)
                                     for c in rows[1]):
                head, rows = rows[0], rows[2:]
            else:
                head = None
            for r in rows:
                out.append(".TP")
                out.append(inline_md(r[0]))
                rest = r[1:]
                if len(rest) >= 2 and head and len(head) == len(r):
                    # field | type | meaning: "(type) meaning"
                    body = "(" + rest[0] + ") " + "; ".join(rest[1:])
                else:
                    body = "; ".join(rest)
                out.append(inline_md(body))
            continue
        elif re.match(r"^(- |\* |\d+\. )", s):
            flush()
            m = re.match(r"^(- |\* |\d+\. )(.*)$", s)
            item = [m.group(2)]
            i += 1
            while (i < len(lines) and lines[i].strip() and
                   lines[i].startswith(" ") and
                   not re.match(r"^(- |\* |\d+\. )", lines[i].strip())):
                item.append(lines[i].strip())
                i += 1
            tag = "\\(bu" if m.group(1).strip() in "-*" else m.group(1)
            out.append(f".IP {tag} 4")
            out.append(inline_md(" ".join(item)))
            continue
        elif not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    return out


def md_sections(path):
    """{heading: body} of a markdown file's '## ' sections, in order."""
    secs = {}
    if not os.path.exists(path):
        return secs
    cur = None
    with open(path) as f:
        for line in f:
            m = re.match(r"^## (.*)$", line)
            if m:
                cur = m.group(1).strip()
                secs[cur] = []
            elif cur is not None:
                secs[cur].append(line.rstrip("\n"))
    return {k: "\n".join(v).strip() for k, v in secs.items()}


def md_headed(path):
    """[(level, heading, body)] of every '#'-heading of a markdown file,
    body up to the next heading of any level; fenced code is skipped."""
    out = []
    if not os.path.exists(path):
        return out
    cur, fenced = None, False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip().startswith("```"):
                fenced = not fenced
            m = None if fenced else re.match(r"^(#+) (.*)$", line)
            if m:
                cur = [len(m.group(1)), m.group(2).strip(), []]
                out.append(cur)
            elif cur is not None:
                cur[2].append(line)
    return [(lv, h, "\n".join(b).strip()) for lv, h, b in out]


def readme_sections(tool):
    """From README.md: the sections about this tool ("### opensnoop's JSON
    fields" -> ("JSON fields", body)) and the output conventions shared by
    every tool (the "## Output..." section up to its first subsection)."""
    own, conventions = [], None
    for lv, head, body in md_headed(os.path.join(ROOT, "README.md")):
        m = re.match(rf"^{re.escape(tool)}'s (.+)$", head)
        if m:
            own.append((m.group(1), body))
        elif lv == 2 and re.match(r"^output\b", head, re.I):
            # a pointer to the docs/ pages means nothing in a man page
            conventions = "\n\n".join(
                p for p in re.split(r"\n\s*\n", body)
                if "docs/" not in p)
    return own, conventions


# --- BENCHMARKS.md -----------------------------------------------------------

def bench_figures(tool):
    """Lines describing the tool's measured figures, or [] when
    BENCHMARKS.md has none."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    if not os.path.exists(path):
        return [], {}
    info, figures = {}, []
    section, head = None, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                section = line.lstrip("#").strip()
                head = None
                continue
            if not line.startswith("|"):
                continue
            cells = table_cells(line)
            if all(re.fullmatch(r":?-*:?", c) for c in cells):
                continue
            if section == "Benchmarks" and len(cells) == 2:
                info[cells[0]] = cells[1]
                continue
            if head is None:
                head = cells
                continue
            if cells[0].split(" (")[0] != f"bpfkit {tool}":
                continue
            if section in ("Targets",):
                continue
            pairs = [f"{h}: {c}" for h, c in zip(head[1:], cells[1:])
                     if c and c != "-"]
            what = cells[0]
            figures.append(f"{section}, {what}: " + "; ".join(pairs))
    return figures, info


# --- the page --------------------------------------------------------------

OUTPUT_HEADINGS = re.compile(r"output|^histograms?$|fields", re.I)
OVERHEAD_HEADINGS = re.compile(r"^(overhead|cost)", re.I)
ATTACH_HEADINGS = re.compile(r"attach", re.I)
# docs/TOOL.md sections a man page leaves out: --help is the source of the
# options; the tests are for developers
SKIP_HEADINGS = re.compile(r"^(options|usage|examples|test(s|ing)?)\b", re.I)
FIXED_SECTIONS = ("OVERHEAD", "ATTACH MECHANISMS")


def sh_title(heading):
    """'JSON output (`-j`)' -> 'JSON OUTPUT (-j)'."""
    head, paren, rest = heading.replace("`", "").partition(" (")
    return esc(head.upper() + paren + rest)


def option_roff(o):
    forms = []
    names = o.names()
    for n in names:
        f = "\\fB" + esc(n) + "\\fR"
        if o.arg and n == names[-1]:
            a = "\\fI" + esc(o.arg) + "\\fR"
            if n.startswith("--"):
                f += "[=" + a + "]" if o.optional_arg else "=" + a
            else:
                f += "[" + a + "]" if o.optional_arg else " " + a
        forms.append(f)
    return [".TP", ", ".join(forms), line_start(esc(o.doc))]


def overhead_roff(tool, doc):
    out = []
    figures, info = bench_figures(tool)
    if figures:
        where = ", ".join(f"{k} {info[k]}" for k in
                          ("machine", "kernel", "date") if k in info)
        out += [".PP", line_start(esc(
            f"Measured by \"make bench\" (BENCHMARKS.md; {where}). "
            "Added cost is the time added to each operation over no "
            "tracer; figures from other machines are not comparable, "
            "ratios measured side by side are."))]
        for f in figures:
            out += [".IP \\(bu 4", line_start(esc(f))]
    else:
        out += [".PP", line_start(esc(
            f"BENCHMARKS.md has no figures for {tool} yet. Measure the "
            "cost on your own machine with \"make bench\" in bpfkit's "
            "source tree (bench/run.py: the added time per operation "
            "against no tracer and against empty BPF programs on the "
            "same hooks, start-up time, peak RSS, lost events)."))]
    for heading, body in doc.items():
        if OVERHEAD_HEADINGS.search(heading):
            out += md_to_roff(body)
    return out


def all_tools():
    """The Makefile's TOOLS: every tools/NAME.c."""
    d = os.path.join(ROOT, "tools")
    return sorted(f[:-2] for f in os.listdir(d) if f.endswith(".c"))


def render(tool, h, cmd, docs_dir, prefix="bpfkit-", man_dir=None):
    man_dir = man_dir or os.path.join(ROOT, "man")
    doc = md_sections(os.path.join(docs_dir, f"{tool}.md"))
    common = md_sections(os.path.join(man_dir, "common.md"))
    title = cmd.upper()
    out = [f'.\\" Generated by scripts/gen-man.py from "{tool} --help",',
           f'.\\" docs/{tool}.md, README.md, BENCHMARKS.md and man/*.md.'
           ' Do not edit.',
           f'.TH "{esc(title)}" "{SECTION}" "" "bpfkit" "bpfkit tools"',
           ".nh"]
    out += [".SH NAME", f"{esc(cmd)} \\- {esc(h.summary)}"]
    out += [".SH SYNOPSIS", ".ad l",
            f"\\fB{esc(cmd)}\\fR " + " ".join(
                "\\fI" + esc(u) + "\\fR" if u.isupper() or "[" in u
                else esc(u) for u in h.usage),
            ".ad"]
    out += [".SH DESCRIPTION", line_start(esc(h.summary))]
    for p in h.description:
        out += [".PP", line_start(esc(p))]
    out += [".PP",
            f"This is bpfkit's \\fB{esc(tool)}\\fR, installed as "
            f"\\fI/usr/lib/bpfkit/bin/{esc(tool)}\\fR with the symlink "
            f"\\fI/usr/sbin/{esc(cmd)}\\fR (Debian's \\fBlibbpf\\-tools\\fR "
            f"has its own \\fI/usr/sbin/{esc(tool)}\\fR)."]
    if "INTERVAL" in " ".join(h.usage):
        out += [".PP", "With \\fIINTERVAL\\fR, print (and clear) the "
                "results every \\fIINTERVAL\\fR seconds, \\fICOUNT\\fR "
                "times (default: until stopped); without it, once at the "
                "end."]
    if "COMMAND" in " ".join(h.usage):
        out += [".PP", "With \\fB\\-\\-\\fR \\fICOMMAND\\fR [\\fIARGS\\fR], "
                "the tool starts \\fICOMMAND\\fR once everything is "
                "attached, traces only it and its descendants, and exits "
                "with its exit status."]
    out += [".PP", "Once attached, the tool prints a line starting with "
            "\"Tracing\" on standard error."]
    out.append(".SH OPTIONS")
    group = None
    for o in h.options:
        if o.group != group:
            group = o.group
            if group:
                out.append(".SS " + esc(group))
        out += option_roff(o)
    if h.examples:
        out.append(".SH EXAMPLES")
        for c, comment in h.examples:
            if c.split()[0] == tool:
                c = cmd + c[len(tool):]
            out += [".TP", "\\fB" + esc(c) + "\\fR",
                    line_start(esc(comment[:1].upper() + comment[1:]))
                    + "."]
    # Sections of prose: (title as in the source, roff lines), in order.
    secs = []
    used = set()
    for heading, body in doc.items():
        if OUTPUT_HEADINGS.search(heading):
            secs.append((heading, md_to_roff(body)))
            used.add(heading)
    own, conventions = readme_sections(tool)
    for heading, body in own:
        secs.append((heading, md_to_roff(body)))
    if conventions:
        secs.append(("Output conventions", md_to_roff(conventions)))
    for heading, body in doc.items():
        if (heading in used or SKIP_HEADINGS.search(heading) or
                OVERHEAD_HEADINGS.search(heading) or
                ATTACH_HEADINGS.search(heading)):
            continue
        secs.append((heading, md_to_roff(body)))
    # man/TOOL.md: replaces a section of the same title, or adds one
    for heading, body in md_sections(os.path.join(man_dir,
                                                  f"{tool}.md")).items():
        same = [i for i, (h2, _) in enumerate(secs)
                if sh_title(h2) == sh_title(heading)]
        if same:
            secs[same[0]] = (heading, md_to_roff(body))
        else:
            secs.append((heading, md_to_roff(body)))
    fixed = {}
    for heading, lines in secs:
        if sh_title(heading) in FIXED_SECTIONS:
            fixed[sh_title(heading)] = lines
            continue
        out.append(".SH " + sh_title(heading))
        out += lines
    out.append(".SH OVERHEAD")
    if "OVERHEAD" in fixed:
        out += fixed["OVERHEAD"]
    else:
        out += overhead_roff(tool, doc)
    out.append(".SH ATTACH MECHANISMS")
    if "ATTACH MECHANISMS" in fixed:
        out += fixed["ATTACH MECHANISMS"]
    else:
        out += md_to_roff(common.get("Attach mechanisms", ""))
        for heading, body in doc.items():
            if ATTACH_HEADINGS.search(heading):
                out.append(".SS " + esc(heading))
                out += md_to_roff(body)
    if h.exit_status:
        out += [".SH EXIT STATUS", line_start(esc(h.exit_status))]
    for sec in ("Environment", "Files", "See also"):
        if sec in common:
            body = common[sec].replace("TOOL", tool).replace("CMD", cmd)
            out.append(".SH " + sec.upper())
            out += md_to_roff(body)
            if sec == "See also":
                others = [t for t in all_tools() if t != tool]
                if others:
                    out.append(".PP")
                    out.append("The other bpfkit tools: " + ", ".join(
                        f"\\fB{esc(prefix + t)}\\fR({SECTION})"
                        for t in others) + ".")
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--prefix", default="bpfkit-")
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--man-src", default=os.path.join(ROOT, "man"),
                    help="common.md and the optional TOOL.md")
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for tool in a.tools:
        h = tool_help(a.build, tool)
        cmd = a.prefix + tool
        page = render(tool, h, cmd, a.docs, a.prefix, a.man_src)
        path = os.path.join(a.out, f"{cmd}.{SECTION}")
        with open(path + ".tmp", "w") as f:
            f.write(page)
        os.rename(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
