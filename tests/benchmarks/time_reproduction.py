"""Time the complete reproduction and break it down by study and experiment.

    python tests/benchmarks/time_reproduction.py [--scale paper] [--study S] [--cache DIR] [--root DIR]

runs ``theorylab reproduce`` (default local cluster) with an empty result cache (a fresh
temporary folder unless ``--cache`` names one) and prints: wall seconds, how busy the
workers were (task-seconds and the tasks' CPU seconds), and a table of task-seconds per
experiment (the mean task time the cache records per experiment, times its number of tasks),
largest first.  Outputs go to ``--root`` (default: a temporary folder, so the committed figures
are not touched).  Run it on an idle machine: on a shared one the task-seconds include waiting
for the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIMINGS = "timings.json"


def breakdown(cache: Path) -> list[tuple[str, str, int, float, float]]:
    """(study, experiment, tasks, task-seconds, CPU-s) from the per-experiment timings the cache keeps."""
    rows = []
    for study_dir in sorted(p for p in cache.iterdir() if p.is_dir()):
        path = study_dir / TIMINGS
        if not path.is_file():
            continue
        for experiment, rec in json.loads(path.read_text()).items():
            n = int(rec["n"])
            rows.append((study_dir.name, experiment, n, float(rec["seconds"]) * n, float(rec.get("cpu_seconds", 0)) * n))
    return sorted(rows, key=lambda r: -r[3])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="paper", choices=["quick", "paper"])
    ap.add_argument("--study", help="one study only (default: all)")
    ap.add_argument("--cache", type=Path, help="result cache folder (must be empty; default: a new temp folder)")
    ap.add_argument("--root", type=Path, help="output folder (default: a new temp folder)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="theorylab-bench-") as tmp:
        cache = args.cache or Path(tmp) / "cache"
        root = args.root or Path(tmp) / "out"
        if cache.exists() and any(cache.iterdir()):
            print(f"--cache must be an empty folder (got {cache}, which has entries)", file=sys.stderr)
            return 2
        root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, THEORYLAB_CACHE=str(cache))
        cmd = [sys.executable, "-m", "theorylab.cli", "reproduce", "--scale", args.scale, "--root", str(root)]
        cmd += ["--study", args.study] if args.study else []
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        busy = [line for line in proc.stderr.splitlines() if line.startswith("workers busy")]
        what = f" --study {args.study}" if args.study else ""
        print(f"theorylab reproduce --scale {args.scale}{what}: exit {proc.returncode}, "
              f"{wall:.0f} s wall (cluster start-up, planning, figures and report included)")
        print(busy[-1] if busy else "(no worker report)")
        rows = breakdown(cache)
        total = sum(r[3] for r in rows) or 1.0
        per_study: dict[str, list[float]] = {}
        for study, _, _, seconds, cpu in rows:
            acc = per_study.setdefault(study, [0.0, 0.0])
            acc[0] += seconds
            acc[1] += cpu
        print("\n| study | task-seconds | CPU-s | share |\n|---|---:|---:|---:|")
        for study, (seconds, cpu) in sorted(per_study.items(), key=lambda kv: -kv[1][0]):
            print(f"| `{study}` | {seconds:.0f} | {cpu:.0f} | {seconds / total:.0%} |")
        print("\n| experiment | tasks | task-seconds | CPU-s | share |\n|---|---:|---:|---:|---:|")
        for study, experiment, n, seconds, cpu in rows:
            print(f"| `{study}/{experiment}` | {n} | {seconds:.0f} | {cpu:.0f} | {seconds / total:.0%} |")
        if proc.returncode:
            print(proc.stderr[-2000:], file=sys.stderr)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
