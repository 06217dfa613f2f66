"""Shared pieces of the benchmarks: the machine, fresh child interpreters, the emulator's settings, statistics."""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench-1250000000"
REGION = "ap-guangzhou"
MB = 1024 * 1024


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:  # noqa: BLE001 - a version string is decoration
        return "?"


def machine() -> Dict[str, str]:
    """What the figures ran on: they are only comparable on the same machine, hence the ratios."""
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "os": f"{platform.system()} {platform.release()}",
        "sdk": f"cos-python-sdk-v5 {_version('cos-python-sdk-v5')}, pydantic {_version('pydantic')}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def emulator_env(url: str, secret_id: str, secret_key: str, **extra: str) -> Dict[str, str]:
    """The environment an SCF function would have, pointed at the emulator; nothing inherited but PATH/HOME."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update({
        "PYTHONPATH": str(REPO), "PYTHONHASHSEED": "0",
        "COS_BUCKET": BUCKET, "COS_REGION": REGION, "COS_EMULATOR_URL": url,
        "TENCENTCLOUD_SECRETID": secret_id, "TENCENTCLOUD_SECRETKEY": secret_key,
    })
    env.update(extra)
    return env


class ChildFailed(RuntimeError):
    pass


# With two or more CPUs the runner (and the emulator's threads, which inherit its affinity) stays on CPU 0 and
# every measured child runs on CPU 1: the function and the service it calls do not share a core, and the
# scheduler does not migrate either mid-run. On one 2-core machine this halved the spread of per-pair ratios.
_PIN: List[str] = []


def pin_cpus() -> str:
    """Pin the runner to CPU 0 and children to CPU 1 when possible; say what was done."""
    global _PIN
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    taskset = shutil.which("taskset")
    if len(cpus) < 2 or taskset is None:
        return "not pinned (needs 2 CPUs and taskset)"
    os.sched_setaffinity(0, {cpus[0]})
    _PIN = [taskset, "-c", str(cpus[1])]
    return f"runner and emulator on CPU {cpus[0]}, measured children on CPU {cpus[1]}"


def child_command(*args: str) -> List[str]:
    """argv for a measured child: pinned to the children's CPU when pin_cpus() has run."""
    return [*_PIN, *args]


def run_child(code: str, env: Mapping[str, str], *, timeout: float = 600.0,
              python: str = sys.executable) -> Tuple[float, Dict[str, Any]]:
    """Run `python -c code` in a fresh interpreter; return (wall seconds from spawn to exit, what it reported).

    The child reports by writing JSON to the file named in BENCH_OUT; its stdout (our JSON log lines) is
    discarded, as SCF would ship it elsewhere."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", prefix="bench-child-") as out:
        child_env = dict(env, BENCH_OUT=out.name)
        spawned = time.time()
        started = time.perf_counter()
        proc = subprocess.run(child_command(python, "-c", code), env=child_env, cwd=str(REPO), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
        wall = time.perf_counter() - started
        exited = time.time()
        if proc.returncode != 0:
            raise ChildFailed(f"child exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
        text = Path(out.name).read_text()
    report = json.loads(text) if text.strip() else {}
    if "t_first" in report and "t_last" in report:  # wall-clock stamps the child took first and last
        report["startup_s"] = report["t_first"] - spawned
        report["exit_s"] = exited - report["t_last"]
        report["return_s"] = report["t_last"] - spawned  # spawn to the handler's return: what SCF's caller waits
    return wall, report


# Every child starts with this: its event, and how it reports what it measured (JSON into BENCH_OUT).
# Peak memory is VmHWM, the high-water RSS of the child's own address space. Not ru_maxrss: Linux carries the
# parent's peak across fork+exec into the child's ru_maxrss (a child of a 300 MB runner reports 300 MB), and
# the runner holds the emulator's state.
CHILD_REPORT = """
import json as _json, os as _os
def _event():
    path = _os.environ.get("BENCH_EVENT_FILE")
    if path:
        with open(path) as _f:
            return _json.load(_f)
    return _json.loads(_os.environ["BENCH_EVENT"])
def _peak_rss_kb():
    with open("/proc/self/status") as _f:
        for _line in _f:
            if _line.startswith("VmHWM:"):
                return int(_line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def _report(**fields):
    fields["t_last"] = __import__("time").time()
    fields["maxrss_kb"] = _peak_rss_kb()
    with open(_os.environ["BENCH_OUT"], "w") as _f:
        _json.dump(fields, _f)
"""


def median(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.median(data) if data else float("nan")


def quartiles(values: Sequence[float]) -> Tuple[float, float]:
    data = sorted(values)
    if len(data) < 2:
        return (data[0], data[0]) if data else (float("nan"), float("nan"))
    q = statistics.quantiles(data, n=4)
    return q[0], q[2]


def verdict(ok: Optional[bool]) -> str:
    return "n/a" if ok is None else "PASS" if ok else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def table(header: List[str], rows: List[List[str]], align: Optional[str] = None) -> List[str]:
    """A markdown table; align is one letter per column, l or r."""
    spec = align or "l" * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in spec) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
