#!/usr/bin/env python3
"""Prints the ninja targets (paths relative to the build directory) that the tests of the
given meson suites need: each test's executable and what it depends on (`depends :`, e.g.
the ksn program the CLI tests run). `./dev.sh test` builds only these in build-tsan/, where
only the integration and soak suites run.

usage: test_targets.py BUILD_DIR SUITE...
"""
import json
import os
import subprocess
import sys


def introspect(build_dir, what):
    out = subprocess.run(["meson", "introspect", build_dir, what], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    build_dir = os.path.abspath(sys.argv[1])
    suites = set(sys.argv[2:])
    files = {t["id"]: t["filename"] for t in introspect(build_dir, "--targets")}
    wanted = set()
    for test in introspect(build_dir, "--tests"):
        # meson names a suite "<project>:<suite>".
        if not any(s.split(":")[-1] in suites for s in test["suite"]):
            continue
        for target in test["depends"]:
            for f in files.get(target, []):
                wanted.add(os.path.relpath(f, build_dir))
    if not wanted:
        sys.exit(f"test_targets.py: no test of suites {sorted(suites)} in {build_dir}")
    print("\n".join(sorted(wanted)))


if __name__ == "__main__":
    main()
