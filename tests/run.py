#!/usr/bin/env python3
"""bpfkit test runner.

Runs every test_* function of tests/test_*.py (or of the files named on the
command line, optionally narrowed with FILE::NAME) in order, one at a time,
and ends with the summary line "N passed, N failed, N skipped".

A test fails by raising (assert); it skips by raising kitlib.Skip with the
reason, which is printed. Exit status 0 only when nothing failed.
"""
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import kitlib  # noqa: E402


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def selected(argv):
    if not argv:
        files = sorted(f for f in os.listdir(HERE)
                       if f.startswith("test_") and f.endswith(".py"))
        return [(os.path.join(HERE, f), None) for f in files]
    out = []
    for arg in argv:
        path, _, only = arg.partition("::")
        if not os.path.exists(path):
            path = os.path.join(HERE, os.path.basename(path))
        out.append((path, only or None))
    return out


def main(argv):
    passed = failed = skipped = 0
    failures = []
    start = time.monotonic()
    for path, only in selected(argv):
        mod = load(path)
        tests = [(n, f) for n, f in vars(mod).items()
                 if n.startswith("test_") and callable(f)]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        for name, func in tests:
            if only and name != only:
                continue
            label = f"{os.path.basename(path)}::{name}"
            t0 = time.monotonic()
            try:
                func()
            except kitlib.Skip as e:
                skipped += 1
                print(f"SKIP {label}: {e}", flush=True)
                continue
            except Exception:
                failed += 1
                failures.append(label)
                print(f"FAIL {label} ({time.monotonic() - t0:.1f}s)")
                traceback.print_exc(file=sys.stdout)
                sys.stdout.flush()
                continue
            passed += 1
            print(f"PASS {label} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"\n{len(failures)} failures: {', '.join(failures)}" if failures
          else "", f"(total {time.monotonic() - start:.0f}s)")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
