#!/usr/bin/env python3
"""scripts/gpu-power.sh with a stand-in nvidia-smi (no GPU needed):
- the summary counts only the samples under load (above a quarter of the
  board's 700 W limit), gives their median and mean power and SM clock, and
  the share the software power cap (reason bit 0x4) held;
- the command's exit status comes back unchanged;
- without nvidia-smi, without a command or with a bad interval it says why
  and exits 2, and the command is not run.
usage: test_gpu_power.py SCRIPTS_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile

FAKE_SMI = """#!/usr/bin/env bash
case "$*" in
*power.limit*) echo "700.00" ;;
*-lms*)
    echo "690.50, 1620, 0x0000000000000004"
    echo "680.00, 1600, 0x0000000000000004"
    echo "120.00, 1980, 0x0000000000000000"
    echo "695.00, 1650, 0x0000000000000000"
    echo "[N/A], [N/A], [N/A]"
    exec sleep 60 ;;
*) exit 0 ;;
esac
"""


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(script, args, path):
    env = dict(os.environ, PATH=path)
    return subprocess.run(["bash", script] + args, env=env, capture_output=True, text=True,
                          timeout=60)


def main():
    script = os.path.join(sys.argv[1], "gpu-power.sh")
    with tempfile.TemporaryDirectory() as tmp:
        fake = os.path.join(tmp, "fake")
        bare = os.path.join(tmp, "bare")
        os.mkdir(fake)
        os.mkdir(bare)
        with open(os.path.join(fake, "nvidia-smi"), "w") as f:
            f.write(FAKE_SMI)
        os.chmod(os.path.join(fake, "nvidia-smi"), 0o755)
        # a PATH with the tools the script needs and no nvidia-smi
        for tool in ("bash", "python3", "mktemp", "basename", "dirname", "sed", "rm", "tr",
                     "head", "sleep", "sh", "touch", "awk"):
            where = shutil.which(tool)
            if not where:
                fail(f"{tool} not found on this machine")
            os.symlink(where, os.path.join(bare, tool))
        with_smi = fake + os.pathsep + bare

        r = run(script, ["-i", "50", "-l", "fake run", "--", "sleep", "0.5"], with_smi)
        want = ("gpu-power: fake run: 3 of 4 samples under load: power median 690.5 W, mean "
                "688.5 W (limit 700 W); SM clock median 1620 MHz, mean 1623 MHz; power-capped "
                "in 66.7% of them")
        if r.returncode != 0 or want not in r.stdout:
            fail(f"summary: rc {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")

        r = run(script, ["--", "sh", "-c", "exit 3"], with_smi)
        if r.returncode != 3 or "gpu-power: sh:" not in r.stdout:
            fail(f"exit status: rc {r.returncode} (want 3), stdout {r.stdout!r}, stderr {r.stderr!r}")

        marker = os.path.join(tmp, "ran")
        r = run(script, ["--", "touch", marker], bare)
        if r.returncode != 2 or "nvidia-smi not found" not in r.stderr or os.path.exists(marker):
            fail(f"without nvidia-smi: rc {r.returncode}, stderr {r.stderr!r}, "
                 f"command run: {os.path.exists(marker)}")
        for args, why in ((["--"], "no command given"), (["-i", "x", "--", "true"], "whole milliseconds"),
                          (["-i", "5", "--", "true"], "10 ms is the shortest")):
            r = run(script, args, with_smi)
            if r.returncode != 2 or why not in r.stderr:
                fail(f"{args}: rc {r.returncode} (want 2), stderr {r.stderr!r}")
        r = run(script, ["-h"], with_smi)
        if (r.returncode != 0 or "scripts/gpu-power.sh [-i MS]" not in r.stdout
                or "set -" in r.stdout):
            fail(f"-h: rc {r.returncode}, stdout {r.stdout!r}")
    print("gpu-power: summary, exit status, refusals and -h ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
