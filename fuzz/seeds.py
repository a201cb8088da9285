#!/usr/bin/env python3
"""Write the seed corpora in fuzz/corpus/<target>/ (run from anywhere).

Seeds are small, readable starting points in each target's input format;
the fuzzer grows its own corpus from them in build-fuzz/corpus/. Rerun
after changing an input format; `fuzz/run.sh -m` merges coverage the
fuzzer found back in."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for s in seeds:
        name = "seed-" + hashlib.sha1(s).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)


def parse_seeds():
    out = []
    u = lambda v: struct.pack("<Q", v)
    for mode, lo, hi, cap, s in [
            (0, 0, 10, 0, b"7"), (0, 1, 4194304, 0, b"4194304"),
            (0, 0, 2**64 - 1, 0, b"18446744073709551615"),
            (0, 0, 2**64 - 1, 0, b"18446744073709551616"),
            (0, 0, 100, 0, b"-1"), (0, 0, 100, 0, b"+1"), (0, 0, 9, 0, b""),
            (0, 0, 100, 0, b"0x10"), (0, 0, 100, 0, b" 1"),
            (1, 0, 0, 0, b"1.5"), (1, 0, 0, 0, b"0.000000001"),
            (1, 0, 0, 0, b"0"), (1, 0, 0, 0, b"1."), (1, 0, 0, 0, b".5"),
            (1, 0, 0, 0, b"315360000.999999999"), (1, 0, 0, 0, b"1e3"),
            (2, 1, 65535, 64, b"80,443,8080"), (2, 1, 65535, 2, b"1,2,3"),
            (2, 1, 65535, 64, b"1,,2"), (2, 1, 65535, 64, b"1,"),
            (2, 1, 4194304, 64, b"0"), (2, 0, 9, 64, b"00000000000000000000000000000001")]:
        out.append(bytes([mode]) + u(lo) + u(hi) + bytes([cap]) + s)
    return out


def escape_seeds():
    return [b"", b"plain/path.txt", b"new\nline\ttab\rcr", b"\x1b[31mred\x1b[0m",
            b"bad\xffutf8\xc0\x80", "caf\u00e9 \u65e5\u672c".encode(),
            b"\xf0\x9f\x98\x80emoji", b"\xc2\x9b31m C1 CSI",
            "\u202egnp.exe".encode(), b"back\\slash \"quote\"",
            b"\xed\xa0\x80surrogate", b"\xf4\x90\x80\x80too-big",
            b"nul\x00inside", b"\xe2\x80", b"\x7fdel", "\ufeffbom".encode()]


def json_seeds():
    # op bytes: 0 obj, 1 arr, 2 strn, 3 str/null, 4 u64, 5 s64, 6 double,
    # 7 bool, 8 null, 9 small u64, 10 member, 11 close
    return [bytes([2, 3, ord("k"), ord("e"), ord("y"), 2, 2, ord("v"), 0xff]),
            bytes([1, 1, 4]) + struct.pack("<Q", 2**64 - 1) + bytes([11, 11]),
            bytes([6, 1]) + struct.pack("<d", float("nan")) +
            bytes([6, 1]) + struct.pack("<d", 1e308) +
            bytes([6, 1]) + struct.pack("<d", -0.0),
            bytes([5, 0]) + struct.pack("<q", -2**63),
            bytes([10, 3, 97, 98, 99, 4, 0x1b, 0x5b, 0x41, 0x0a]),
            bytes([0] * 20 + [1] * 20 + [8] + [11] * 40),
            bytes([7, 0, 1, 7, 1, 1, 8, 0])]


def output_seeds():
    row = lambda a, b, v, d, kt: (struct.pack("<H", len(a)) + a +
                                  struct.pack("<H", len(b)) + b +
                                  struct.pack("<Q", v) + struct.pack("<d", d) +
                                  struct.pack("<Q", kt))
    return [b"\x00\xff\xff" + row(b"bash", b"/etc/passwd", 3, 1.5, 10**12),
            b"\x01\x00\x00" + row(b"new\nline", b"\x1b[2J\xff", 2**64 - 1,
                                  float("inf"), 5),
            b"\x01\xfe\x03" + row(b"x" * 15, b"/" + b"a" * 254, 1 << 33,
                                  -0.0, 2**61),
            b"\x00\x01\x00" + row(b"", b"", 0, float("nan"), 0) * 3]


def metrics_seeds():
    fam = lambda sel, nl, help_, labels, scale, bounds, cap: (
        bytes([1, sel, nl, len(help_)]) + help_ + bytes(labels) +
        bytes([scale, len(bounds)]) +
        b"".join(bytes([0]) + struct.pack("<Q", b) for b in bounds) +
        bytes([cap]))
    op = lambda k, o, x, vals: (bytes([k, o]) + struct.pack("<Q", x) +
                                b"".join(bytes([len(v)]) + v for v in vals))
    vals = [b"bash", b'q"uote\\', b"nl\n", b"\xff\xfe", b"", b"x"]
    return [
        fam(0, 1, b"Events.", [0], 0, [], 0) + b"\x00" +
        op(0, 0, 5 << 24, vals) + op(0, 1, 7, vals),
        fam(2 | (1 << 2), 1, b"Latency.", [1], 9, [1000, 2000, 4000], 2) +
        b"\x00" + op(0, 3, 1500, vals) + op(0, 3, 99999, vals[1:] + [b""]) +
        op(0, 3, 5, [b"c"] * 6) + op(0, 3, 5, [b"d"] * 6),
        fam(1 | (2 << 2), 2, b"A gauge.", [4, 7], 0, [], 1) + b"\x00" +
        op(0, 2, 0x7ff8000000000000, vals) + op(0, 2, 0x7ff0000000000000,
                                                  [b"y"] * 6),
        fam(0 | 0x40 | (11 << 2), 0, b"Run time.", [], 9, [], 0) + b"\x02" +
        b"\x00" + op(0, 1, 123456789, vals),
    ]


def metrics_input_seeds():
    acc = [b"application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
           b"text/plain;version=0.0.4;q=0.9,*/*;q=0.1",
           b"application/openmetrics-text; version=0.0.1; q=0.75, "
           b"text/plain; q=0.5",
           b"*/*", b"", b"application/openmetrics-text;q=\"1\"",
           b"Application/OpenMetrics-Text;q=0"]
    addrs = [b":9100", b"127.0.0.1:9100", b"[::1]:9100", b"[::]:0",
             b"::1:9100", b"localhost:http", b"127.0.0.1:65536",
             b"127.0.0.1:", b"[::1]9100", b"x" * 200 + b":1"]
    return ([b"\x01\x00\x00" + a for a in acc] +
            [b"\x00\x7f\x07" + a for a in addrs] +
            [b"\x00\x04\x02" + addrs[1]])


def options_seeds():
    argvs = [[b"-p", b"1,2,3"], [b"-d", b"1.5"], [b"--duration=0"],
             [b"-j", b"-T", b"-v"], [b"-u", b"0"], [b"-u", b"-1"],
             [b"--cgroup", b"/sys/fs/cgroup/unified"],
             [b"--cgroup", b"/nonexistent"], [b"--attach", b"tp_btf,raw_tp"],
             [b"--attach=kprobe,bogus"], [b"--buffer-size", b"16"],
             [b"--buffer-size", b"24"], [b"-n", b"bash"],
             [b"-n", b"a-name-too-long-for-comm"], [b"-c", b"5"],
             [b"-c", b"0"], [b"-P", b"80,443"], [b"-P", b"80,,443"],
             [b"-P", b"70000"], [b"--", b"true"], [b"--"],
             [b"-p", b"1", b"--", b"true"], [b"--", b"/nonexistent/cmd"],
             [b"1", b"5"], [b"1", b"5", b"7"], [b"0.5"], [b"x"], [b"-h"],
             [b"--help"], [b"--bogus"], [b"-e", b"-m"], [b"-pabc"],
             [b"-t", b"1"], [b"--tid=999999"], [b"-p", b"4194305"],
             [b"-p", b",".join([b"1"] * 70)], [b"--ext"], [b"--u=5"]]
    out = []
    for i, a in enumerate(argvs):
        out.append(bytes([i % 8]) + b"\0".join(a))
    return out


if __name__ == "__main__":
    write("fuzz_parse", parse_seeds())
    write("fuzz_escape", escape_seeds())
    write("fuzz_json", json_seeds())
    write("fuzz_output", output_seeds())
    write("fuzz_metrics", metrics_seeds())
    write("fuzz_metrics_input", metrics_input_seeds())
    write("fuzz_options", options_seeds())
