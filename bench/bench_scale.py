"""A large class, graded on the local pool and on a local Dask cluster: speed, memory, leftovers.

    .venv/bin/python bench/bench_scale.py [--students 1000] [--assignment NAME ...]
                                          [--scheduler local|dask|both] [--workers N]
                                          [--sample K] [--timeout SECONDS] [--keep DIR]

For each assignment (default: every one with typical mistakes):

1. builds a course and a class of N students (autograder.dev.samples): the perfect solution,
   every typical mistake of the assignment's catalogue and a blank submission in turn, and
   every HOSTILE_EVERY-th student (more often in a small class) one of the hostile
   submissions below instead;
2. grades a sample of K students (hostile ones included) alone, in a fresh run with one
   worker: the reference;
3. grades the whole class with `autograder grade` on the local pool, then on a real Dask
   cluster on loopback (`dask scheduler` and one `dask worker` process per core), each in a
   fresh copy of the course, while sampling every process of the run (the writer, the fork
   server, the workers, their zygotes, the Dask scheduler and workers) twice a second;
4. prints the wall time, students per second, the CPU seconds of every process of the run
   (the Dask cluster's included), each process's peak memory (RSS), and checks
   that memory and /dev/shm stay flat from the first hundred students (half of a smaller class)
   to the last, that nothing is left in /dev/shm or /tmp, and that the sample's gradebook
   cells agree with the reference.

Exit status 1 when a check fails. Not part of `make test`: `make bench-scale N=1000`.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.dev import samples, scaffold  # noqa: E402
from autograder.course import seeds as secrets  # noqa: E402
from autograder.sandbox.isolation import SCRATCH_ROOT  # noqa: E402
from autograder.sandbox.share import SHARE_PREFIX, SHARE_ROOT  # noqa: E402
from bench_autograde import cpu_of_children, same_cell, save_results  # noqa: E402

HOSTILE_EVERY = 97   # in a large class; a small one gets each hostile kind about twice
SLEEPER = "3517"     # how long the litterer's detached process would sleep: how we find it again
# name -> what the student's first solution cell becomes (the rest of the notebook is perfect)
HOSTILE = {
    "endless_loop": "while True:\n    pass\n",
    "memory_bomb": "hoard = [bytearray(1 << 28) for _ in range(64)]\n",
    "litter": ("import os, subprocess\n"
               "for folder in ('/tmp', '/dev/shm', '/var/tmp', os.getcwd()):\n"
               "    try:\n"
               "        open(os.path.join(folder, 'bench-scale-litter-' + str(os.getpid())), 'w').write('x' * 4096)\n"
               "    except OSError:\n"
               "        pass\n"
               f"subprocess.Popen(['sleep', '{SLEEPER}'], start_new_session=True)\n"),
    "not_a_notebook": None,            # the file is random bytes
}
LITTER = "bench-scale-litter-"
# growth allowed from the early students to the last, per process and for /dev/shm
FLAT_FACTOR, FLAT_SLACK_MB = 1.10, 64


# ------------------------------------------------------------------------------- the class

def roster(n: int, source_dir: Path) -> dict[str, object]:
    kinds = samples.kinds(source_dir)
    hostile = list(HOSTILE)
    every = max(5, min(HOSTILE_EVERY, n // (2 * len(hostile))))
    out: dict[str, object] = {}
    for i in range(n):
        if i % every == every - 1:
            out[f"s{i:05d}"] = ("hostile", hostile[(i // every) % len(hostile)])
        else:
            out[f"s{i:05d}"] = kinds[i % len(kinds)]
    return out


def _make_hostile(folder: Path, kind: str) -> None:
    notebooks = sorted(folder.glob("*.ipynb"))
    if HOSTILE[kind] is None:
        notebooks[0].write_bytes(os.urandom(20_000))
        return
    import nbformat
    from autograder.intake.cells import is_solution
    nb = nbformat.read(notebooks[0], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and is_solution(c))
    cell.source = HOSTILE[kind] + cell.source
    nbformat.write(nb, notebooks[0])


def build_course(dest: Path, n: int, assignment: str) -> tuple[Path, dict]:
    course = scaffold.make_course(dest)
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    plan = roster(n, course / "source" / assignment)
    plain = {s: ("perfect" if isinstance(k, tuple) else k) for s, k in plan.items()}
    # one submission of each kind written by autograder.dev.samples, copied for the others
    first = {}
    for student, kind in plain.items():
        first.setdefault(kind, student)
    written = samples.write_class(course, {s: k for k, s in first.items()}, assignment=assignment)
    for student, kind in plain.items():
        if student != first[kind]:
            shutil.copytree(written[first[kind]], course / "submitted" / student / assignment)
    for student, kind in plan.items():
        if isinstance(kind, tuple):
            _make_hostile(course / "submitted" / student / assignment, kind[1])
    secrets.course_secret(str(course))
    return course, plan


def sample_of(plan: dict, k: int) -> list[str]:
    """k students spread over the class, every hostile one among the first of them."""
    hostile = [s for s, kind in plan.items() if isinstance(kind, tuple)]
    rest = [s for s in plan if s not in hostile]
    step = max(1, len(rest) // max(1, k - len(hostile)))
    return sorted((hostile + rest[::step])[:max(k, len(hostile))])


# ------------------------------------------------------------------------------- watching a run

def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "PPid"):
                    out[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return out


# what each process of a run is, by the root it descends from and how deep: a root's kind,
# then its children's, grandchildren's ...; deeper still is a notebook's own process
ROLES = {"grade": ["autograder grade (the writer)", "fork server", "grading worker", "zygote"],
         "dask worker": ["dask nanny", "dask worker", "zygote"],
         "dask scheduler": ["dask scheduler"]}
STUDENT = "a notebook's process (student code)"


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _roles(tree: dict[int, int], roots: list[int], kinds: dict[int, str]) -> dict[int, str]:
    out = {}
    for pid in tree:
        depth, top = 0, pid
        while top not in roots and top in tree:
            top, depth = tree[top], depth + 1
        chain = ROLES.get(kinds.get(top, ""), ["?"])
        out[pid] = chain[depth] if depth < len(chain) else STUDENT
    return out


def _tree(roots: list[int]) -> dict[int, int]:
    """pid -> parent pid for the roots and all their descendants."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _status(int(entry)).get("PPid")
            if ppid is not None:
                parents[int(entry)] = ppid
    found, frontier = {}, [r for r in roots if r in parents]
    while frontier:
        pid = frontier.pop()
        found[pid] = parents[pid]
        frontier += [c for c, p in parents.items() if p == pid and c not in found]
    return found


def _shm_bytes(pids: set[int]) -> int:
    total = 0
    for folder in glob.glob(os.path.join(SHARE_ROOT, SHARE_PREFIX + "*")):
        owner = os.path.basename(folder).removeprefix(SHARE_PREFIX).split("-", 1)[0]
        if owner.isdigit() and int(owner) in pids:
            for path in glob.glob(os.path.join(folder, "*")):
                try:
                    total += os.stat(path).st_blocks * 512
                except OSError:
                    pass
    return total


class Watcher(threading.Thread):
    """Samples every process of a run: its RSS and role, the /dev/shm its sandboxes hold."""

    def __init__(self, roots: dict[int, str], interval: float = 0.5):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval       # pid -> its kind (a key of ROLES)
        self.peak: dict[int, tuple[str, int]] = {}            # pid -> (role, peak RSS kB)
        self.pids: set[int] = set()
        self.samples: list[tuple[float, dict[int, int], int]] = []   # (time, pid -> RSS kB, shm bytes)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def sample(self) -> None:
        rss = {}
        tree = _tree(list(self.roots))
        roles = _roles(tree, list(self.roots), self.roots)
        for pid in tree:
            st = _status(pid)
            if "VmRSS" not in st:
                continue
            rss[pid] = st["VmRSS"]
            role = self.peak[pid][0] if pid in self.peak else roles[pid]
            self.peak[pid] = (role, max(self.peak.get(pid, (role, 0))[1], st.get("VmHWM", 0), st["VmRSS"]))
        self.pids |= set(rss)
        self.samples.append((time.perf_counter(), rss, _shm_bytes(self.pids)))

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def _long_lived(watcher: Watcher, t_from: float, t_to: float) -> dict[int, tuple[int, int]]:
    """pid -> (largest RSS in the window, largest RSS after it) for the processes seen in both:
    the writer, the fork server, the workers and their zygotes (not a notebook's own process,
    which only lives for its notebook)."""
    early: dict[int, int] = {}
    late: dict[int, int] = {}
    for t, rss, _ in watcher.samples:
        target = early if t_from <= t <= t_to else late if t > t_to else None
        if target is not None:
            for pid, kb in rss.items():
                target[pid] = max(target.get(pid, 0), kb)
    return {pid: (early[pid], late[pid]) for pid in early if pid in late and watcher.peak[pid][0] != STUDENT}


# ------------------------------------------------------------------------------- one run

def leftovers(since: float, pids: set[int]) -> list[str]:
    """What a run left behind: share folders of its processes, the hostile students' litter,
    and grader scratch folders made since the run started (on a shared machine the last may
    be another run's: they are named, not counted as ours for sure)."""
    found = []
    for folder in glob.glob(os.path.join(SHARE_ROOT, SHARE_PREFIX + "*")):
        owner = os.path.basename(folder).removeprefix(SHARE_PREFIX).split("-", 1)[0]
        if owner.isdigit() and int(owner) in pids:
            found.append(folder)
    for root in ("/tmp", "/dev/shm", "/var/tmp"):
        found += glob.glob(os.path.join(root, LITTER + "*"))
    found += [f"process {pid}: sleep {SLEEPER}, started by a submission"
              for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if _cmdline(pid).split() == ["sleep", SLEEPER]]
    for path in glob.glob(os.path.join(SCRATCH_ROOT, "autograder-*")):
        try:
            if os.stat(path).st_ctime >= since:
                found.append(path + " (made during the run)")
        except OSError:
            pass
    return found


def grade_class(course: Path, assignment: str, *, workers: int | None, scheduler: str | None,
                timeout: float, notebooks_per_student: int, early_students: int,
                watch_also: dict[int, str] | None = None) -> dict:
    cmd = [scaffold.venv_bin("autograder"), "grade", assignment, "--timeout", str(timeout)]
    if workers:
        cmd += ["--workers", str(workers)]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    started_wall = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=course, env=scaffold.course_env(course), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    watcher = Watcher({proc.pid: "grade", **(watch_also or {})})
    watcher.start()
    done, t_early, tail = 0, None, []
    for line in proc.stdout:
        tail = (tail + [line])[-40:]
        if line.startswith("[") and "/" in line.split("]", 1)[0]:
            done += 1
            if t_early is None and done >= early_students * notebooks_per_student:
                t_early = time.perf_counter()
    code = proc.wait()
    wall = time.perf_counter() - t0
    watcher.sample()
    watcher.stop()
    (course / "scale-grade.log").write_text("".join(tail))
    if code not in (0, 1):            # 1: some notebooks failed, as hostile ones do
        raise SystemExit(f"autograder grade exited {code}:\n{''.join(tail)}")
    shm_early = max((s for t, _, s in watcher.samples if t <= (t_early or t0)), default=0)
    shm_late = max((s for t, _, s in watcher.samples if t > (t_early or t0)), default=0)
    time.sleep(1.0)                    # the pool's processes have left; let the kernel finish with them
    return {"wall": wall, "notebooks": done, "exit": code, "t_early": (t_early or t0) - t0,
            "peak": watcher.peak, "flat": _long_lived(watcher, t0, t_early or t0),
            "shm_early": shm_early, "shm_late": shm_late,
            "left": leftovers(started_wall, watcher.pids), "tail": "".join(tail[-3:])}


class DaskCluster:
    """`dask scheduler` and ``n`` `dask worker` processes (one thread each) on 127.0.0.1."""

    def __init__(self, n: int, workdir: Path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = str(Path(sys.executable).parent / "dask")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        quiet = dict(cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                        "--no-dashboard"], **quiet)]
        for i in range(n):
            self.procs.append(subprocess.Popen([dask, "worker", self.address, "--nthreads", "1", "--nworkers", "1",
                                                "--no-dashboard", "--name", f"w{i}",
                                                "--local-directory", str(workdir)], **quiet))
        from distributed import Client
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(n, timeout=max(1, deadline - time.monotonic()))
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.5)

    @property
    def roots(self) -> dict[int, str]:
        return {p.pid: "dask scheduler" if i == 0 else "dask worker" for i, p in enumerate(self.procs)}

    def close(self) -> None:
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


# ------------------------------------------------------------------------------- checks and report

def compare(reference: dict, graded: dict, students: list[str]) -> list[str]:
    keys = sorted(k for k in reference if k[0] in students)
    return [f"{'/'.join(k)}: reference={reference[k]} run={graded.get(k, 'absent')}" for k in keys
            if not same_cell(reference[k], graded.get(k, "absent"))] + \
           [f"{'/'.join(k)}: absent from the reference" for k in graded if k[0] in students and k not in reference]


def report(name: str, run: dict, students: int, early: int) -> list[str]:
    """Print one run's figures; return the checks that failed."""
    failed = []
    print(f"  {name}: {run['wall']:.1f} s wall for {students} students ({run['notebooks']} notebooks), "
          f"{students / run['wall']:.2f} students/s; first {early} students by {run['t_early']:.1f} s; "
          f"CPU {run['cpu']:.0f} s in all, {run['cpu'] / students:.2f} s per student "
          f"(load average {os.getloadavg()[0]:.1f})")
    by_role: dict[str, list[int]] = {}
    for pid, (role, kb) in run["peak"].items():
        by_role.setdefault(role, []).append(kb)
    print("    peak memory (RSS) by process:")
    for role, kbs in sorted(by_role.items(), key=lambda kv: -max(kv[1])):
        many = f"{len(kbs)} processes, largest" if len(kbs) > 1 else "1 process"
        print(f"      {role:<36} {max(kbs) / 1024:6.0f} MB  ({many})")
    grew = [(pid, e, l) for pid, (e, l) in run["flat"].items() if l > e * FLAT_FACTOR + FLAT_SLACK_MB * 1024]
    print(f"    memory from the first {early} students to the last: "
          + (", ".join(f"{run['peak'][pid][0]} {pid} {e / 1024:.0f} -> {l / 1024:.0f} MB"
                       for pid, (e, l) in sorted(run["flat"].items())) or "no process lived through both"))
    if grew:
        failed.append(f"{name}: memory grew after the first {early} students: {grew}")
    shm_ok = run["shm_late"] <= run["shm_early"] * FLAT_FACTOR + FLAT_SLACK_MB * 2 ** 20
    print(f"    /dev/shm held by the run's sandboxes: {run['shm_early'] / 2 ** 20:.0f} MB early, "
          f"{run['shm_late'] / 2 ** 20:.0f} MB at most after — {'flat' if shm_ok else 'GREW'}")
    if not shm_ok:
        failed.append(f"{name}: /dev/shm grew")
    ours = [p for p in run["left"] if not p.endswith("(made during the run)")]
    print(f"    left in /dev/shm and /tmp: {len(ours)}" + "".join(f"\n      {p}" for p in run["left"]))
    if ours:
        failed.append(f"{name}: left {ours}")
    return failed


def measure(assignment: str, args, base: Path) -> tuple[dict, list[str]]:
    n = args.students
    print(f"\n=== {assignment}, {n} students: building the class in {base} ...", flush=True)
    t = time.perf_counter()
    template, plan = build_course(base / "template", n, assignment)
    per_student = len(list((template / "source" / assignment).glob("*.ipynb")))
    hostile = {s: k[1] for s, k in plan.items() if isinstance(k, tuple)}
    print(f"  built in {time.perf_counter() - t:.0f} s; {len(hostile)} hostile: "
          + ", ".join(f"{s} ({k})" for s, k in hostile.items()), flush=True)
    early = min(100, max(1, n // 2))
    sample = sample_of(plan, args.sample)

    reference_course = base / "reference"
    shutil.copytree(template, reference_course)
    for d in (reference_course / "submitted").iterdir():
        if d.name not in sample:
            shutil.rmtree(d)
    print(f"  reference: {len(sample)} students alone, one worker ...", flush=True)
    ref = grade_class(reference_course, assignment, workers=1, scheduler=None, timeout=args.timeout,
                      notebooks_per_student=per_student, early_students=1)
    reference = scaffold.gradebook_cells(reference_course, assignment)
    failed, results = [], {"assignment": assignment, "students": n, "reference_seconds": ref["wall"]}

    pools = ["local", "dask"] if args.scheduler == "both" else [args.scheduler]
    for pool in pools:
        course = base / pool
        shutil.copytree(template, course)
        cluster = None
        cpu0 = cpu_of_children()
        try:
            if pool == "dask":
                workdir = base / "dask-workers"
                workdir.mkdir()
                cluster = DaskCluster(args.workers or len(os.sched_getaffinity(0)), workdir)
            print(f"  {pool}: grading ...", flush=True)
            run = grade_class(course, assignment, workers=args.workers if pool == "local" else None,
                              scheduler=cluster.address if cluster else None, timeout=args.timeout,
                              notebooks_per_student=per_student, early_students=early,
                              watch_also=cluster.roots if cluster else None)
        finally:
            if cluster:
                cluster.close()
        run["cpu"] = cpu_of_children() - cpu0        # the Dask processes are waited for at close
        failed += report(pool, run, n, early)
        diffs = compare(reference, scaffold.gradebook_cells(course, assignment), sample)
        print(f"    gradebook against the reference, cell by cell, {len(sample)} students: "
              f"{sum(1 for k in reference if k[0] in sample)} entries, {len(diffs)} differences"
              + "".join(f"\n      {d}" for d in diffs[:20]))
        if diffs:
            failed.append(f"{pool}: {len(diffs)} gradebook differences from the reference")
        results[pool] = {"wall": run["wall"], "students_per_second": n / run["wall"], "cpu": run["cpu"],
                         "peak_rss_mb": {f"{role} {pid}": kb / 1024 for pid, (role, kb) in run["peak"].items()},
                         "flat": {str(pid): v for pid, v in run["flat"].items()},
                         "shm_mb": [run["shm_early"] / 2 ** 20, run["shm_late"] / 2 ** 20],
                         "left": run["left"], "differences": diffs}
        if not args.keep:
            shutil.rmtree(course, ignore_errors=True)
    return results, failed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=1000, metavar="N", help="class size (default 1000)")
    ap.add_argument("--assignment", action="append", default=None, metavar="NAME",
                    help="repeatable; default: every assignment of the course with typical mistakes")
    ap.add_argument("--scheduler", choices=("local", "dask", "both"), default="both")
    ap.add_argument("--workers", type=int, default=None, help="local workers, and Dask workers (default: all cores)")
    ap.add_argument("--sample", type=int, default=24, metavar="K",
                    help="students graded alone as the reference, hostile ones included (default 24)")
    ap.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                    help="`autograder grade --timeout`: what the endless loop costs (default 10)")
    ap.add_argument("--keep", default=None, metavar="DIR", help="build the courses here and keep them")
    args = ap.parse_args(argv)

    assignments = args.assignment or [p.name for p in sorted((REPO / "source").iterdir())
                                      if samples.catalogue(str(REPO), p.name).mistakes]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-scale-"))
    results, failed = [], []
    try:
        for a in assignments:
            base = root / a
            if base.exists():
                shutil.rmtree(base)
            base.mkdir(parents=True)
            result, bad = measure(a, args, base)
            results.append(result)
            failed += bad
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("\nsummary:")
    for r in results:
        for pool in ("local", "dask"):
            if pool in r:
                p = r[pool]
                print(f"  {r['assignment']:<12} {r['students']} students, {pool:<5}: {p['wall']:7.1f} s, "
                      f"{p['students_per_second']:.2f} students/s, CPU {p['cpu'] / r['students']:.2f} s per student, "
                      f"largest grader process {max(v for k, v in p['peak_rss_mb'].items() if STUDENT not in k):.0f} MB")
    print(f"results: {save_results('scale', results)}")
    for f in failed:
        print(f"FAILED: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
