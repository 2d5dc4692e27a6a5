#!/usr/bin/python3
"""Every command in scripts/ and scripts/launch answers --help (and -h) with its usage
on stdout, exit 0, before any side effect; an option it does not know, given where a
BUILD_DIR/OUT_DIR/N would go, is a usage error (exit 2), also before any side effect.
Commands: the files named *.sh, *.sbatch, or *.py with a '-' in the name (an '_' in
the name marks a module or a sourced helper, not a command); each must be executable.
An argparse script names the missing argument rather than the unknown option; exit 2
is what is checked there. slurm.sbatch passes every argument to ingot-train.

Safe on a broken script: the scripts run from a copy of scripts/ in a temporary tree,
from an empty working directory, with stand-ins ahead on PATH for everything that
builds, installs, downloads or launches (each records its call and fails), pip and
curl pointed at a closed proxy, and HOME in the temporary tree. A check fails when a
stand-in was called or a file appeared in the working directory, the copied tree or
HOME.
    test_scripts_help.py SOURCE_ROOT"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

STAND_INS = ("apt-get", "sudo", "dpkg-query", "meson", "ninja", "cmake", "make", "cc", "gcc",
             "c++", "g++", "nvcc", "nvidia-smi", "compute-sanitizer", "pip", "pip3", "curl",
             "wget", "git", "mpirun", "torchrun", "srun", "sbatch", "spm_train", "spm_encode",
             "ingot-train", "ingot-pretok", "ingot-dump", "timeout")
# commands whose arguments are another program's: only their --help is theirs
PASS_ARGS_ON = ("slurm.sbatch",)


def commands(scripts):
    out = []
    for d in (scripts, os.path.join(scripts, "launch")):
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isfile(path) or "_" in name:
                continue
            if name.endswith((".sh", ".sbatch")) or (name.endswith(".py") and "-" in name):
                out.append(os.path.relpath(path, os.path.dirname(scripts)))
    return out


def snapshot(top):
    """Every path under top (files and directories), and their sizes."""
    seen = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            seen[os.path.relpath(p, top)] = os.lstat(p).st_size if n in files else -1
    return seen


def main():
    root = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="ingot-scripts-help-")
    try:
        return run(root, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(root, tmp):
    repo, work, home, stubs = (os.path.join(tmp, d) for d in ("repo", "work", "home", "stubs"))
    shutil.copytree(os.path.join(root, "scripts"), os.path.join(repo, "scripts"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for d in (work, home, stubs):
        os.mkdir(d)
    calls = os.path.join(tmp, "calls")
    for name in STAND_INS:
        p = os.path.join(stubs, name)
        with open(p, "w") as f:
            f.write('#!/bin/sh\necho "%s $*" >>"%s"\nexit 1\n' % (name, calls))
        os.chmod(p, 0o755)
    env = dict(os.environ)
    env.update(PATH=stubs + os.pathsep + env.get("PATH", "/usr/bin:/bin"), HOME=home,
               PYTHONDONTWRITEBYTECODE="1", PIP_NO_INDEX="1", http_proxy="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="",
               PYTHON=os.path.join(stubs, "python3-stand-in"), TMPDIR=os.path.join(tmp, "t"),
               INGOT_TRAIN=os.path.join(stubs, "ingot-train"),
               INGOT_PRETOK=os.path.join(stubs, "ingot-pretok"), MPLBACKEND="Agg")
    os.mkdir(env["TMPDIR"])
    fails = 0

    def check(cond, what):
        nonlocal fails
        print(("ok   " if cond else "FAIL ") + what)
        fails += not cond
        return bool(cond)

    cmds = commands(os.path.join(repo, "scripts"))
    check(len(cmds) >= 20, "%d commands found in scripts/ and scripts/launch" % len(cmds))
    for rel in cmds:
        path = os.path.join(repo, rel)
        name = os.path.basename(rel)
        with open(path, "rb") as f:
            first = f.readline()
        check(first.startswith(b"#!") and os.stat(path).st_mode & stat.S_IXUSR,
              "%s: executable, with a #! line" % rel)
        cases = [(["--help"], 0), (["-h"], 0)]
        if name not in PASS_ARGS_ON:
            cases.append((["--no-such-option"], 2))
        for args, want in cases:
            before = (snapshot(repo), snapshot(home), snapshot(env["TMPDIR"]))
            try:
                p = subprocess.run([path] + args, cwd=work, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=60)
                rc, so, se = p.returncode, p.stdout.decode(errors="replace"), \
                    p.stderr.decode(errors="replace")
            except (subprocess.TimeoutExpired, OSError) as e:
                rc, so, se = None, "", str(e)
            what = "%s %s" % (rel, " ".join(args))
            ok = check(rc == want, "%s: exit %s (want %d)" % (what, rc, want))
            if want == 0:
                ok &= check(name in so and so.count("\n") >= 3,
                            "%s: usage on stdout, naming %s" % (what, name))
            else:
                ok &= check("--no-such-option" in se or (name.endswith(".py") and se),
                            "%s: stderr says why" % what)
            made = sorted(os.listdir(work))
            for n in made:
                p_ = os.path.join(work, n)
                shutil.rmtree(p_) if os.path.isdir(p_) else os.remove(p_)
            ok &= check(not made, "%s: nothing created in the working directory %s"
                        % (what, made or ""))
            after = (snapshot(repo), snapshot(home), snapshot(env["TMPDIR"]))
            for where, b, a in zip(("the scripts' tree", "HOME", "TMPDIR"), before, after):
                diff = sorted(set(a.items()) ^ set(b.items()))
                ok &= check(not diff, "%s: %s unchanged %s" % (what, where, diff[:5] or ""))
            called = open(calls).read() if os.path.exists(calls) else ""
            if called:
                os.remove(calls)
            ok &= check(not called, "%s: nothing built, installed, downloaded or started %s"
                        % (what, called.split("\n")[:3] if called else ""))
            if not ok:
                print("   | stdout: " + so[-400:].replace("\n", "\n   | "))
                print("   | stderr: " + se[-400:].replace("\n", "\n   | "))
    print("%d failure(s)" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
