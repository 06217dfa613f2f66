"""Cold invocation: a fresh interpreter running the submit handler once, against the floor of a fresh
interpreter that imports qcloud_cos + pydantic and makes the same create call by hand. Plus import times."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Tuple

from bench import calls
from bench.common import CHILD_REPORT, REPO, child_command, emulator_env, median, quartiles, run_child
from bench.seed import job_body

BUDGET = 1.3
RULE = "bench-cold"
FIRST_TICK = datetime(2026, 1, 5, 0, 0, tzinfo=timezone.utc)

OURS = """import time
_first = time.time()
""" + CHILD_REPORT + """
_t0 = time.perf_counter()
from handlers.submit import main_handler
_t1 = time.perf_counter()
result = main_handler(_event(), {"request_id": "bench-cold"})
_t2 = time.perf_counter()
_report(import_s=_t1 - _t0, run_s=_t2 - _t1, created=[j["created"] for j in result.get("jobs", [])], t_first=_first)
"""

# Ours without its import treatment (handlers.frozen_imports made a no-op): what that treatment saves ours.
OURS_COLLECTING = OURS.replace(
    "\n_t0 = time.perf_counter()\nfrom handlers.submit",
    "\nimport contextlib, handlers\nhandlers.frozen_imports = contextlib.nullcontext\n"
    "_t0 = time.perf_counter()\nfrom handlers.submit",
)
assert OURS_COLLECTING != OURS, "OURS changed: update OURS_COLLECTING's anchor"

# The unavoidable floor: the SDK and pydantic imported, the client configured as lib configures it, one create.
# pydantic 2 imports lazily: `import pydantic` alone loads almost nothing, and no code that uses pydantic avoids
# loading BaseModel, so the floor imports that (FLOOR_LITERAL, the bare `import pydantic`, is reported too).
FLOOR = """import time
_first = time.time()
""" + CHILD_REPORT + """
_t0 = time.perf_counter()
from pydantic import BaseModel
from qcloud_cos import CosConfig, CosS3Client
_t1 = time.perf_counter()
_e = _os.environ
sdk = CosS3Client(CosConfig(Region=_e["COS_REGION"], SecretId=_e["TENCENTCLOUD_SECRETID"],
                            SecretKey=_e["TENCENTCLOUD_SECRETKEY"], Token=None, Timeout=10.0, Scheme="http",
                            Proxies={"http": _e["COS_EMULATOR_URL"]}), retry=0)
data = sdk.ci_create_inventory_trigger_jobs(Bucket=_e["COS_BUCKET"], JobBody=_json.loads(_e["BENCH_BODY"]),
                                            ContentType="application/xml")
_t2 = time.perf_counter()
_report(import_s=_t1 - _t0, run_s=_t2 - _t1, created=[bool(data.get("JobsDetail"))], t_first=_first)
"""

FLOOR_LITERAL = FLOOR.replace("from pydantic import BaseModel", "import pydantic")

# The floor given ours' import treatment (handlers.frozen_imports): no cyclic collection during the imports, then
# freeze. Ours against this floor is our own overhead, the import-time collection both can skip set aside.
FLOOR_FROZEN = FLOOR.replace(
    "from pydantic import BaseModel\nfrom qcloud_cos import CosConfig, CosS3Client\n",
    "from handlers import frozen_imports\nwith frozen_imports():\n"
    "    from pydantic import BaseModel\n    from qcloud_cos import CosConfig, CosS3Client\n",
)
assert FLOOR_FROZEN != FLOOR, "FLOOR changed: update FLOOR_FROZEN's anchor"

# The floor plus one pydantic model that validates the body: defining the first model loads pydantic's lazy
# schema machinery (the stage table's second row), which any program that uses pydantic models pays and the floor never does.
FLOOR_MODEL = FLOOR.replace(
    "from qcloud_cos import CosConfig, CosS3Client\n",
    "from qcloud_cos import CosConfig, CosS3Client\nclass _Body(BaseModel):\n    Name: str\n    Type: str\n",
).replace(
    "data = sdk.ci_create_inventory_trigger_jobs(",
    "_Body.model_validate(_json.loads(_e[\"BENCH_BODY\"]))\ndata = sdk.ci_create_inventory_trigger_jobs(",
)
assert FLOOR_MODEL.count("_Body") == 2, "FLOOR changed: update FLOOR_MODEL's anchors"

# Ours, stage by stage: the floor's imports first, then pydantic's first model (the lazy machinery any model loads),
# then what our modules add, then the tick, then a second tick in the same process (its time is the round trips and
# our code, with every import already paid). It also counts our model classes built at import and left deferred.
STAGES = CHILD_REPORT + """
import sys, time
from datetime import datetime, timedelta
import lib  # sets PYDANTIC_DISABLE_PLUGINS, as it does before ours' first model
from handlers import frozen_imports
with frozen_imports():  # around all the stages' imports, as handlers.submit puts it around its own
    _t0 = time.perf_counter()
    from pydantic import BaseModel
    import qcloud_cos
    _t1 = time.perf_counter()
    class _First(BaseModel):
        x: int
    _tm = time.perf_counter()
    from handlers.submit import main_handler
_t2 = time.perf_counter()
def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
ours = {m for m in _subclasses(BaseModel) if m.__module__.startswith("lib.")}
deferred = sum(1 for m in ours if not m.__pydantic_complete__)
event = _event()
main_handler(event, {"request_id": "bench-stages-1"})
_t3 = time.perf_counter()
later = datetime.strptime(event["Time"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=30)
main_handler(dict(event, Time=later.strftime("%Y-%m-%dT%H:%M:%SZ")), {"request_id": "bench-stages-2"})
_t4 = time.perf_counter()
optional = sorted(m for m in ("lib.report", "lib.report.render", "lib.report.delivery", "emulator", "bench") if m in sys.modules)
_report(floor_imports_s=_t1 - _t0, first_model_s=_tm - _t1, our_modules_s=_t2 - _tm, first_tick_s=_t3 - _t2,
        second_tick_s=_t4 - _t3, optional_loaded=optional, modules=len(sys.modules),
        models_at_import=len(ours), models_deferred=deferred)
"""

IMPORT_ONLY = CHILD_REPORT + """
import time
_t0 = time.perf_counter()
import {modules}
_report(import_s=time.perf_counter() - _t0)
"""


def timer_event(tick: datetime) -> Dict[str, Any]:
    return {"Type": "Timer", "TriggerName": RULE, "Time": tick.strftime("%Y-%m-%dT%H:%M:%SZ"), "Message": ""}


def _most_common(breakdowns: List[Counter]) -> Counter:
    keyed = Counter(json.dumps(calls.as_dict(c)) for c in breakdowns)
    return Counter(json.loads(keyed.most_common(1)[0][0])) if keyed else Counter()


def measure_invocations(handle: Any, pairs: int = 20) -> Dict[str, Any]:
    """Paired runs; each ratio is the median of per-pair ratios.

    Each round runs ours, the floor, the frozen floor and ours with the collector left on back to back (the order
    rotates), so they share the machine's speed of that second, then the two other reference floors (their order
    alternates)."""
    env = emulator_env(handle.url, handle.secret_id, handle.secret_key, INPUT_PREFIX="images/")
    log = handle.request_log
    # A warm-up tick writes the rule's checkpoint, so every measured run is a steady-state tick
    # (checkpoint read, lease, duplicate check, create, checkpoint write, lease release).
    run_child(OURS, dict(env, BENCH_EVENT=json.dumps(timer_event(FIRST_TICK))))
    run_child(OURS, dict(env, RULE_NAME="collecting", BENCH_EVENT=json.dumps(timer_event(FIRST_TICK))))
    arms = ("ours", "floor", "frozen", "collecting", "literal", "model")
    runs: Dict[str, List[Dict[str, Any]]] = {arm: [] for arm in arms}
    breakdowns: Dict[str, List[Counter]] = {arm: [] for arm in arms}
    for i in range(pairs):
        tick = FIRST_TICK + timedelta(hours=i + 1)
        floor_env = dict(env, BENCH_BODY=json.dumps(job_body("Job", f"floor-{i:04d}").to_sdk()))
        core = [("ours", OURS, dict(env, BENCH_EVENT=json.dumps(timer_event(tick)))), ("floor", FLOOR, floor_env),
                ("frozen", FLOOR_FROZEN, floor_env),
                ("collecting", OURS_COLLECTING, dict(env, RULE_NAME="collecting",
                                                     BENCH_EVENT=json.dumps(timer_event(tick))))]
        core = core[i % len(core):] + core[:i % len(core)]
        references = [("literal", FLOOR_LITERAL, floor_env), ("model", FLOOR_MODEL, floor_env)]
        if i % 2:
            references.reverse()
        for name, code, child_env in core + references:
            log.clear()
            wall, rep = run_child(code, child_env)
            rep["wall_s"] = wall
            runs[name].append(rep)
            breakdowns[name].append(calls.count(log.snapshot()))
    ours = runs["ours"]

    def per_pair(floor: str, key: str = "return_s", ours: List[Dict[str, Any]] = ours) -> List[float]:
        return [o[key] / f[key] for o, f in zip(ours, runs[floor])]

    # The budget is on spawn-to-return: SCF keeps the process after the handler returns, so the interpreter's exit
    # (about 100 ms here, mostly collecting module cycles) is neither waited for nor billed. Spawn to exit is
    # reported beside it.
    ratios = per_pair("floor")
    keys = ("wall_s", "return_s", "startup_s", "import_s", "run_s", "exit_s")
    return {
        "pairs": pairs,
        "ratio": median(ratios),
        "ratio_iqr": quartiles(ratios),
        "ratio_collecting": median(per_pair("floor", ours=runs["collecting"])),
        "ratio_frozen": median(per_pair("frozen")),
        "ratio_frozen_iqr": quartiles(per_pair("frozen")),
        "ratio_literal": median(per_pair("literal")),
        "ratio_model": median(per_pair("model")),
        "ratio_to_exit": median(per_pair("floor", "wall_s")),
        "ratio_to_exit_iqr": quartiles(per_pair("floor", "wall_s")),
        "ours": {k: median(r[k] for r in ours) for k in keys},
        "floor": {k: median(r[k] for r in runs["floor"]) for k in keys},
        "literal": {k: median(r[k] for r in runs["literal"]) for k in keys},
        "model": {k: median(r[k] for r in runs["model"]) for k in keys},
        "frozen": {k: median(r[k] for r in runs["frozen"]) for k in keys},
        "collecting": {k: median(r[k] for r in runs["collecting"]) for k in keys},
        "ours_rss_mb": median(r["maxrss_kb"] for r in ours) / 1024,
        "floor_rss_mb": median(r["maxrss_kb"] for r in runs["floor"]) / 1024,
        "ours_calls": _most_common(breakdowns["ours"]),
        "floor_calls": _most_common(breakdowns["floor"]),
        "ours_not_created": sum(1 for o in ours if o.get("created") != [True]),
        "pass": median(ratios) <= BUDGET,
        "stages": _stages(env, pairs),
    }


def _stages(env: Dict[str, str], pairs: int) -> Dict[str, Any]:
    runs = []
    for i in range(max(3, pairs // 2)):
        tick = FIRST_TICK + timedelta(days=30 + i)
        _, rep = run_child(STAGES, dict(env, BENCH_EVENT=json.dumps(timer_event(tick))))
        runs.append(rep)
    keys = ("floor_imports_s", "first_model_s", "our_modules_s", "first_tick_s", "second_tick_s",
            "models_at_import", "models_deferred")
    out: Dict[str, Any] = {k: median(r[k] for r in runs) for k in keys}
    out["optional_loaded"] = sorted({m for r in runs for m in r["optional_loaded"]})
    out["runs"] = len(runs)
    return out


def measure_imports(targets: Dict[str, str], runs: int = 9) -> Dict[str, float]:
    """Median import time of each target (comma-separated modules) in fresh interpreters, interleaved."""
    env = emulator_env("http://127.0.0.1:9", "x", "y")
    times: Dict[str, List[float]] = defaultdict(list)
    for _ in range(runs):
        for label, modules in targets.items():
            _, rep = run_child(IMPORT_ONLY.format(modules=modules), env)
            times[label].append(rep["import_s"])
    return {label: median(values) for label, values in times.items()}


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_breakdown(modules: str, runs: int = 3) -> List[Tuple[str, float]]:
    """Self import time by top-level package (median of a few `-X importtime` runs), largest first."""
    env = emulator_env("http://127.0.0.1:9", "x", "y")
    per_run: List[Dict[str, float]] = []
    for _ in range(runs):
        proc = subprocess.run(child_command(sys.executable, "-X", "importtime", "-c", f"import {modules}"), env=env,
                              cwd=str(REPO), capture_output=True, text=True, check=True)
        totals: Dict[str, float] = defaultdict(float)
        for line in proc.stderr.splitlines():
            m = _IMPORTTIME.match(line)
            if m:
                name = m.group(4)
                top = name.split(".")[0]
                if top == "lib" or top == "handlers":
                    top = ".".join(name.split(".")[:2])
                totals[top] += int(m.group(1)) / 1e6
        per_run.append(totals)
    keys = set().union(*per_run)
    merged = {k: median(r.get(k, 0.0) for r in per_run) for k in keys}
    return sorted(merged.items(), key=lambda kv: -kv[1])


PACKAGE_IMPORT = """
import sys, time
sys.path.insert(0, sys.argv[1])
t = time.perf_counter()
import handlers.submit, qcloud_cos
print(time.perf_counter() - t)
"""


def _pyenv_python(minor: str) -> Tuple[List[str], Dict[str, str]]:
    import os

    proc = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False)
    versions = [v.strip() for v in proc.stdout.split() if re.match(rf"^{re.escape(minor)}\.\d+$", v.strip())]
    if not versions:
        raise FileNotFoundError(f"no Python {minor} under pyenv")
    return [f"python{minor}"], dict(os.environ, PYENV_VERSION=versions[-1])


def measure_package(runs: int = 3, minor: str = "3.10") -> Dict[str, Any]:
    """Import handlers.submit + qcloud_cos from the deployment zip extracted, with the target Python and -B, as SCF
    runs it (read-only code directory, no bytecode written): as shipped, and with its .pyc files removed (what
    every cold start would compile). Skipped with a reason when the zip or Python is missing."""
    import shutil
    import tempfile
    import zipfile
    from pathlib import Path

    tag = minor.replace(".", "")
    archive = REPO / "build" / f"cos-batch-autopilot-py{tag}.zip"
    if not archive.exists():
        return {"skipped": f"{archive.relative_to(REPO)} not built (make package)"}
    try:
        cmd, env = _pyenv_python(minor)
    except (FileNotFoundError, OSError) as exc:
        return {"skipped": str(exc)}
    times: Dict[str, List[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="bench-pkg-") as tmp:
        shipped = Path(tmp) / "shipped"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(shipped)
        bare = Path(tmp) / "bare"
        shutil.copytree(shipped, bare, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shipped_pyc = sum(1 for _ in shipped.rglob("*.pyc"))

        def run(label: str, tree: Path) -> None:
            proc = subprocess.run(child_command(*cmd, "-B", "-c", PACKAGE_IMPORT, str(tree)), env=env, capture_output=True,
                                  text=True, check=True, cwd=tmp)
            times[label].append(float(proc.stdout.strip().splitlines()[-1]))

        for _ in range(runs):
            run("pyc", shipped)
            run("no_pyc", bare)
    return {"python": env["PYENV_VERSION"], "archive": archive.name, "shipped_pyc": shipped_pyc, "runs": runs,
            "no_pyc_s": median(times["no_pyc"]), "pyc_s": median(times["pyc"])}
