#!/usr/bin/env python3
"""ingot-train --profile's closing line on the CPU back end: its tok/s is the
median of the steps' rates after the 3 warm-up ones (what --metrics gives
per step as tok_per_s), not their mean, which one short interval swamps (the
CUDA back end's drain at the end of a run gives one); its CPU figure is the
steps' CPU seconds over their wall time (cpu_pct x host_wall_ms summed, over
host_wall_ms summed), not the mean of the steps' percentages; the CPU back end
times its forward, backward and optimizer phases; the GPU-only figures
(power_w, power_capped, syncs) are null here and the power line is absent. The start line says what runs: the profiled steps of
the configured run, on its schedule (it said "1000 steps" for --profile 10).
usage: test_profile_summary.py INGOT_TRAIN"""
import json
import os
import re
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        m = os.path.join(tmp, "m.jsonl")
        r = subprocess.run([binary, "--device", "cpu", "--synthetic", "--vocab", "300", "--model",
                            "tiny", "--batch", "2", "--batch-tokens", "128", "--steps", "1000",
                            "--profile", "10", "--val-every", "0", "--metrics", m],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"ingot-train exit {r.returncode}: {r.stderr[-400:]}")
        out = r.stdout + r.stderr
        steps = [json.loads(l) for l in open(m) if '"loss"' in l]
    head = "128 tokens/step; --profile: 10 steps (1 to 10 of the configured 1000, on its schedule)"
    if head not in out or "1000 steps," in out:
        fail(f"start line does not say the 10 profiled steps of 1000: {out[:600]}")
    rates = [s["tok_per_s"] for s in steps if s["step"] > 3]
    if len(steps) != 10 or len(rates) != 7 or min(rates) <= 0:
        fail(f"{len(steps)} step records, {len(rates)} after the warm-up: {rates}")
    for s in steps:
        if s.get("power_w", 0) is not None or s.get("power_capped", 0) is not None:
            fail(f"step {s['step']}: power_w {s.get('power_w')!r}, power_capped "
                 f"{s.get('power_capped')!r}: want null on the CPU")
    got = re.search(r"profile: median of (\d+) steps after 3 warm-up: (\d+) tok/s", out)
    if not got or int(got.group(1)) != 7:
        fail(f"closing line missing or wrong step count: {out[-600:]}")
    want = sorted(rates)[3]
    mean = sum(rates) / len(rates)
    if abs(int(got.group(2)) - want) > 1:
        fail(f"summary {got.group(2)} tok/s, median of the steps {want:.0f} (mean {mean:.0f})")
    for s in steps:
        bad = [k for k in ("fwd_ms", "bwd_ms", "opt_ms", "cpu_pct", "host_wall_ms")
               if not isinstance(s.get(k), (int, float)) or s[k] <= 0]
        if bad or s.get("syncs", 0) is not None:
            fail(f"step {s['step']}: {bad} not positive numbers, syncs {s.get('syncs')!r}: {s}")
    late = [s for s in steps if s["step"] > 3]
    cpu = 100.0 * sum(s["cpu_pct"] / 100.0 * s["host_wall_ms"] for s in late) / sum(
        s["host_wall_ms"] for s in late)
    mean_pct = sum(s["cpu_pct"] for s in late) / len(late)
    got_cpu = re.search(r"means: CPU ([0-9.]+)% of a core", out)
    if not got_cpu or abs(float(got_cpu.group(1)) - cpu) > 0.06:
        fail(f"closing CPU {got_cpu and got_cpu.group(1)}%, the steps' CPU seconds over their "
             f"wall {cpu:.2f}% (the mean of their % {mean_pct:.2f}): {out[-300:]}")
    if "profile: GPU power" in out:
        fail("a power line without NVML")
    # a figure the CPU does not have is "n/a", not "n/a%"
    if "MFU n/a;" not in out or "n/a%" in out:
        fail(f"unknown figures on the CPU: {out[-400:]}")
    print(f"profile summary: {got.group(2)} tok/s = the steps' median {want:.0f} "
          f"(their mean would be {mean:.0f}); CPU {got_cpu.group(1)}% = {cpu:.2f}% weighted "
          f"(mean of the steps' % {mean_pct:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
