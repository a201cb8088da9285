"""Run every unit-test binary built from tests/unit/*.c."""
import glob
import os
import subprocess

from kitlib import BUILD, ROOT


def test_unit_binaries():
    sources = sorted(glob.glob(os.path.join(ROOT, "tests/unit/*.c")))
    assert sources
    failed = []
    for src in sources:
        exe = os.path.join(BUILD, "tests",
                           os.path.splitext(os.path.basename(src))[0])
        assert os.path.exists(exe), f"{exe} not built (make unit)"
        p = subprocess.run([exe], capture_output=True, text=True,
                           timeout=120)
        print(p.stdout.strip())
        if p.returncode:
            failed.append(f"{exe}: {p.stderr.strip()}")
    assert not failed, "\n".join(failed)
