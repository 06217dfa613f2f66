"""`make bench`: cold start, memory, API calls, latency and emulator throughput, written to docs/benchmarks.md.

    python -m bench [--quick] [--out docs/benchmarks.md] [--only cold,imports,package,report,upload,latency,
                                                            throughput,detector,upload-batch,inventory,count]

One emulator runs in this process (a thread); every measured function runs in a fresh child interpreter
pointed at it, so the emulator's memory and CPU are not the function's. Ratios are measured side by side in the
same run because absolute times on a shared 2-core machine drift."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from bench import coalesce, cold, count, functions, inventory, latency, render, throughput
from bench.common import BUCKET, REPO, machine, pin_cpus

ALL = ("cold", "imports", "package", "report", "upload", "latency", "throughput", "detector", "upload-batch",
       "inventory", "count")


def _step(name: str, fn: Callable[[], Any]) -> Any:
    print(f"bench: {name} ...", flush=True)
    started = time.perf_counter()
    try:
        return fn()
    finally:
        print(f"bench: {name} done in {time.perf_counter() - started:.1f}s", flush=True)


def run(only: List[str], quick: bool) -> Dict[str, Any]:
    from emulator.testing import run_emulator

    results: Dict[str, Any] = {"machine": machine(), "quick": quick, "pinning": pin_cpus()}
    sizes = {
        "pairs": 3 if quick else 40, "import_runs": 2 if quick else 9, "package_runs": 1 if quick else 3,
        "report_n": (0, 1, 101) if quick else functions.REPORT_N, "upload_r": (1, 2) if quick else functions.UPLOAD_R,
        "warm_runs": 4 if quick else 40, "images": 200 if quick else 10000,
    }
    results["sizes"] = sizes
    with run_emulator() as handle:
        handle.backend.create_bucket(BUCKET)
        if "cold" in only:
            results["cold"] = _step("cold invocation", lambda: cold.measure_invocations(handle, sizes["pairs"]))
        if "imports" in only:
            targets = {"handlers.submit": "handlers.submit", "handlers.report": "handlers.report",
                       "floor: pydantic.BaseModel + qcloud_cos": "qcloud_cos; from pydantic import BaseModel",
                       "handlers.submit + qcloud_cos": "handlers.submit, qcloud_cos"}
            if functions.report_available() is not None:
                targets.pop("handlers.report")
            results["imports"] = _step("import times", lambda: cold.measure_imports(targets, sizes["import_runs"]))
            results["import_breakdown"] = _step(
                "import breakdown", lambda: cold.import_breakdown("handlers.submit, qcloud_cos", 1 if quick else 3))
        if "package" in only:
            results["package"] = _step("deployment tree import", lambda: cold.measure_package(sizes["package_runs"]))
        if "report" in only:
            reason = functions.report_available()
            if reason is not None:
                results["report"] = {"skipped": reason}
            else:
                results["report"] = {"runs": [_step(f"report over {n} jobs per Type",
                                                    lambda n=n: functions.run_report(handle, n))
                                              for n in sizes["report_n"]]}
        if "report" in only and functions.report_available() is None:
            results["report_latency"] = _step(
                f"report at {functions.IN_REGION_LATENCY * 1000:.0f} ms per call",
                lambda: functions.run_report_at_latency(handle, quick))
        if "upload" in only:
            results["upload"] = [_step(f"upload event of {r} records", lambda r=r: functions.run_upload(handle, r))
                                 for r in sizes["upload_r"]]
        if "latency" in only:
            handle.reset()
            handle.backend.create_bucket(BUCKET)
            results["latency"] = _step("warm latency", lambda: latency.measure(handle, sizes["warm_runs"]))
        if "throughput" in only:
            results["throughput"] = _step("emulator throughput",
                                          lambda: throughput.measure(handle, sizes["images"]))
        if "upload-batch" in only:
            results["upload_batch"] = _step("coalesced uploads", lambda: coalesce.measure(handle, quick))
        if "inventory" in only:
            results["inventory"] = _step("inventory rule", lambda: inventory.measure(handle, quick))
        if "count" in only:
            results["count"] = _step("counting a Prefix window", lambda: count.measure(handle, quick))
    if "detector" in only:
        results["detector"] = _step("detector", lambda: _detector(quick))
    return results


def _detector(quick: bool) -> Dict[str, Any]:
    """bench/detector.py's own benchmark, run through its functions; its section is rendered by its render()."""
    from bench import detector

    mb, reps = (4, 1) if quick else (64, 5)
    with tempfile.TemporaryDirectory(prefix="bench-detector-") as tmp:
        rows = [detector.bench_format(fmt, mb, reps, Path(tmp)) for fmt in detector.FORMATS]
    return {"rows": rows, "section": detector.render(rows, mb, reps),
            "goals": {str(r["format"]): detector._goal(r) for r in rows}}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the machinery, not the budgets")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated subset of " + ",".join(ALL))
    args = parser.parse_args(argv)
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    unknown = sorted(set(only) - set(ALL))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.perf_counter()
    results = run(only, args.quick)
    results["runtime_s"] = time.perf_counter() - started
    render.write(args.out, results)
    print(f"bench: wrote {args.out} in {results['runtime_s']:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
