#!/usr/bin/env python3
"""How much a host-cpu latency drifts between calls, raw and scaled against a reference network.

Alternates `hwnas measure` calls of two elastic-mobile subnets (max and a uniform middle) on a raw
host-cpu target and on one with a reference (docs/hw-targets.md, "Why a reference"), a pause
between rounds, and prints each series' median, range and coefficient of variation.

  bench/host_cpu_reference_drift.py --hwnas build/hwnas --calls 15 --pause 3
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

MIDDLE = '{"depth":[1,2,2,1],"kernel":[3,5,3,5,3,5,3,5,3,5],"expand":[4,4,4,4,4,4,4,4,4,4]}'


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default="build/hwnas")
    p.add_argument("--calls", type=int, default=15)
    p.add_argument("--pause", type=float, default=3.0, help="seconds between rounds")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--reference", default="elastic-mobile:min")
    p.add_argument("--reference-ms", type=float, default=0.2)
    a = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="hwnas_drift_")
    targets = {"raw": {"kind": "host-cpu", "runs": a.runs},
               "scaled": {"kind": "host-cpu", "runs": a.runs, "reference": a.reference, "reference_ms": a.reference_ms}}
    files = {}
    for name, cfg in targets.items():
        files[name] = os.path.join(tmp, name + ".json")
        with open(files[name], "w") as f:
            json.dump(cfg, f)
    series = {}
    for _ in range(a.calls):
        for arch_name, arch in [("max", "max"), ("middle", MIDDLE)]:
            for t in ["raw", "scaled"]:
                out = subprocess.run([a.hwnas, "measure", "--target", files[t], "--space", "elastic-mobile", "--arch", arch],
                                     check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
                series.setdefault(f"{arch_name} {t}", []).append(json.loads(out.strip().splitlines()[-1])["cost"]["latency_ms"])
        time.sleep(a.pause)
    print("| subnet, target | median ms | min-max ms | coefficient of variation |")
    print("|---|---|---|---|")
    for k, v in series.items():
        print(f"| {k} | {statistics.median(v):.3f} | {min(v):.3f}-{max(v):.3f} | "
              f"{100 * statistics.stdev(v) / statistics.mean(v):.1f}% |")


if __name__ == "__main__":
    main()
