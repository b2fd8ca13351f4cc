#!/usr/bin/env python3
"""Compares the search algorithms on one trained supernet and the host-cpu target, at three latency
bounds (tight, middle, loose: 20%, 50% and 80% of the way from the min to the max subnet's
measured latency), against hand-picked subnets (max, min, uniform middle, and per bound the largest
uniform subnet under it).

Every algorithm gets the same number of accuracy evaluations (--budget). After the searches, every
chosen and hand-picked subnet is measured again on host-cpu in interleaved rounds (the median of
the rounds' medians, so drift hits all alike) and tested on the Fashion-MNIST test set with
`hwnas eval` (batch norm recalibrated), the same procedure for all.

Latency is host-cpu against a reference network (--reference, default elastic-mobile:min; ""
for raw medians): every measurement pairs each run with a run of the reference and scales the
ratio to the reference's latency measured once at the start (OUT/target.json), so the bounds,
the searches and the re-measurement agree although this machine's speed drifts by up to 2x over
minutes (docs/hw-targets.md).

  bench/search_compare.py --hwnas build/hwnas --supernet runs/sn/checkpoint.hwnas --out runs/compare

Results: OUT/compare.json and a markdown table on stdout. Re-running skips finished searches.
"""
import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time


def run_json(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def uniform_arch(level_k, level_e, level_d):
    """elastic-mobile with every block at one kernel/expand choice and every stage at one depth level."""
    ks, es, ds = [3, 5], [2, 4, 6], [[1, 2], [1, 2, 3], [1, 2, 3], [1, 2]]
    depth = [d[min(level_d, len(d) - 1)] for d in ds]
    return {"depth": depth, "kernel": [ks[level_k]] * 10, "expand": [es[level_e]] * 10}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hwnas", default="build/hwnas")
    p.add_argument("--supernet", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--budget", type=int, default=30)
    p.add_argument("--algos", default="random,evolution,netadapt,fpnas,flash")
    p.add_argument("--fractions", default="0.2,0.5,0.8", help="bounds as fractions of the min..max latency range")
    p.add_argument("--rounds", type=int, default=5, help="interleaved measurement rounds of the final subnets")
    p.add_argument("--runs", type=int, default=50, help="timed runs per measurement")
    p.add_argument("--eval-threads", default="2")
    p.add_argument("--seed", default="0")
    p.add_argument("--val-images", default="2000", help="validation images per subnet evaluation (hwnas search --val-images)")
    p.add_argument("--recal-batches", default="10", help="BN recalibration batches per evaluation (hwnas search --recal-batches)")
    p.add_argument("--reference", default="elastic-mobile:min",
                   help="host-cpu reference network the latencies are scaled against (\"\" for raw medians)")
    p.add_argument("--set", action="append", default=[], help="ALGO:KEY=VALUE passed to that algorithm's --set")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    hw = a.hwnas

    target = "host-cpu"
    if a.reference:
        target = os.path.join(a.out, "target.json")
        if not os.path.exists(target):
            raw = [run_json([hw, "measure", "--target", "host-cpu", "--net", a.reference, "--runs", "100"])
                   ["cost"]["latency_ms"] for _ in range(5)]
            write_json(target, {"kind": "host-cpu", "name": "host-cpu", "reference": a.reference,
                                "reference_ms": round(statistics.median(raw), 4)})
        print(f"host-cpu scaled to {a.reference} at {json.load(open(target))['reference_ms']} ms", file=sys.stderr)

    def measure(arch_file, runs):
        return run_json([hw, "measure", "--target", target, "--space", "elastic-mobile", "--arch", arch_file,
                         "--runs", str(runs)])["cost"]["latency_ms"]

    archs_dir = os.path.join(a.out, "archs")
    os.makedirs(archs_dir, exist_ok=True)

    def arch_file(name, arch):
        f = os.path.join(archs_dir, name + ".json")
        if not os.path.exists(f):
            write_json(f, arch)
        return f

    bounds_file = os.path.join(a.out, "bounds.json")
    if not os.path.exists(bounds_file):
        lo = statistics.median(measure("min", 100) for _ in range(3))
        hi = statistics.median(measure("max", 100) for _ in range(3))
        fr = [float(x) for x in a.fractions.split(",")]
        write_json(bounds_file, {"min_ms": lo, "max_ms": hi,
                                 "bounds": {n: round(lo + f * (hi - lo), 4) for n, f in zip(["tight", "middle", "loose"], fr)}})
    bounds = json.load(open(bounds_file))
    print(f"host-cpu latency: min {bounds['min_ms']:.3f} ms, max {bounds['max_ms']:.3f} ms; bounds {bounds['bounds']}",
          file=sys.stderr)

    sets = {}
    for s in a.set:
        algo, kv = s.split(":", 1)
        sets.setdefault(algo, []).append(kv)

    results = {}
    for bname, bound in bounds["bounds"].items():
        for algo in a.algos.split(","):
            d = os.path.join(a.out, bname, algo)
            done = os.path.join(d, "run.json")
            if not os.path.exists(done):
                cmd = [hw, "search", "--supernet", a.supernet, "--target", target, "--constraint",
                       f"latency_ms<={bound}", "--algo", algo, "--budget", str(a.budget), "--seed", a.seed,
                       "--out", d, "--eval-threads", a.eval_threads, "--val-images", a.val_images,
                       "--recal-batches", a.recal_batches, "--no-test", "--quiet"]
                for kv in sets.get(algo, []):
                    cmd += ["--set", kv]
                print("+ " + " ".join(cmd), file=sys.stderr)
                t0 = time.time()
                line = run_json(cmd)
                line["wall_seconds"] = time.time() - t0
                write_json(done, line)
            line = json.load(open(done))
            info = json.load(open(os.path.join(d, "search.json")))
            results[(bname, algo)] = {"arch": line["best"], "val_accuracy": line["accuracy"],
                                      "search_latency_ms": line["cost"]["latency_ms"], "feasible": line["feasible"],
                                      "evaluations": line["evaluations"], "seconds": info["seconds"],
                                      "file": arch_file(f"{bname}-{algo}", line["best"])}

    # Hand-picked subnets: max, min, uniform middle, and per bound the largest uniform one under it
    # (by the search-time single measurement; re-measured below with everything else).
    hand = {"max": "max", "min": "min", "uniform-middle": arch_file("uniform-middle", uniform_arch(0, 1, 1))}
    uniform = {}
    for k, e, dl in itertools.product(range(2), range(3), range(3)):
        name = f"uniform-k{k}-e{e}-d{dl}"
        f = arch_file(name, uniform_arch(k, e, dl))
        uniform[name] = f
    uni_lat_file = os.path.join(a.out, "uniform_latency.json")
    if not os.path.exists(uni_lat_file):
        write_json(uni_lat_file, {n: measure(f, a.runs) for n, f in uniform.items()})
    uni_lat = json.load(open(uni_lat_file))
    for bname, bound in bounds["bounds"].items():
        fits = [(uni_lat[n], n) for n in uniform if uni_lat[n] <= bound]
        if fits:
            hand[f"uniform-largest-{bname}"] = uniform[max(fits)[1]]

    finals = {f"{b}-{al}": r["file"] for (b, al), r in results.items()}
    finals.update(hand)
    final_file = os.path.join(a.out, "final.json")
    final = json.load(open(final_file)) if os.path.exists(final_file) else {}
    todo = [n for n in finals if n not in final]
    if todo:
        per = {n: [] for n in todo}
        for r in range(a.rounds):
            for n in todo:
                per[n].append(measure(finals[n], a.runs))
        for n in todo:
            acc = run_json([hw, "eval", "--checkpoint", a.supernet, "--arch", finals[n], "--threads", a.eval_threads])
            final[n] = {"latency_ms": statistics.median(per[n]), "rounds_ms": per[n],
                        "test_accuracy": acc["test_accuracy"], "arch": finals[n]}
        write_json(final_file, final)

    rows = []
    print(f"\nhost-cpu, budget {a.budget} evaluations per algorithm; latency = median of {a.rounds} interleaved "
          f"rounds of {a.runs} runs; test accuracy with BN recalibrated (hwnas eval)\n")
    print("| bound | method | test acc | latency ms | meets bound | val acc (search) | evals | search s |")
    print("|---|---|---|---|---|---|---|---|")
    for bname, bound in bounds["bounds"].items():
        for algo in a.algos.split(","):
            r, f = results[(bname, algo)], final[f"{bname}-{algo}"]
            rows.append({"bound": bname, "bound_ms": bound, "method": algo, **r, **f})
            print(f"| {bname} {bound:.3f} | {algo} | {f['test_accuracy']:.4f} | {f['latency_ms']:.3f} | "
                  f"{'yes' if f['latency_ms'] <= bound else 'no'} | {r['val_accuracy']:.4f} | {r['evaluations']} | "
                  f"{r['seconds']:.0f} |")
        for n in [f"uniform-largest-{bname}"]:
            if n in final:
                f = final[n]
                print(f"| {bname} {bound:.3f} | hand: {n} | {f['test_accuracy']:.4f} | {f['latency_ms']:.3f} | "
                      f"{'yes' if f['latency_ms'] <= bound else 'no'} | | | |")
    for n in ["max", "min", "uniform-middle"]:
        f = final[n]
        print(f"| - | hand: {n} | {f['test_accuracy']:.4f} | {f['latency_ms']:.3f} | | | | |")
    write_json(os.path.join(a.out, "compare.json"), {"bounds": bounds, "rows": rows, "final": final,
                                                     "target": json.load(open(target)) if a.reference else target})


if __name__ == "__main__":
    main()
