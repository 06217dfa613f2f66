"""Warm latency: the submit handler's wall time against the bare SDK create call it wraps, in one warm child
process (the emulator stays in the runner), alternating, median of each and of the per-pair ratios."""
from __future__ import annotations

import json
from typing import Any, Dict

from bench.cold import FIRST_TICK, timer_event
from bench.common import CHILD_REPORT, emulator_env, median, run_child
from bench.seed import job_body

WARM = CHILD_REPORT + """
import time, statistics
from datetime import datetime, timedelta
from handlers.submit import main_handler
from qcloud_cos import CosConfig, CosS3Client
_e = _os.environ
sdk = CosS3Client(CosConfig(Region=_e["COS_REGION"], SecretId=_e["TENCENTCLOUD_SECRETID"],
                            SecretKey=_e["TENCENTCLOUD_SECRETKEY"], Token=None, Timeout=10.0, Scheme="http",
                            Proxies={"http": _e["COS_EMULATOR_URL"]}), retry=0)
body = _json.loads(_e["BENCH_BODY"])
first = datetime.strptime(_e["BENCH_TICK"], "%Y-%m-%dT%H:%M:%SZ")
def tick(i):
    return {"Type": "Timer", "TriggerName": "bench-warm", "Message": "",
            "Time": (first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
def bare(i):
    body["Name"] = "bare-%05d" % i
    sdk.ci_create_inventory_trigger_jobs(Bucket=_e["COS_BUCKET"], JobBody=body, ContentType="application/xml")
main_handler(tick(0), {}); bare(0)  # warm: imports done, connections and checkpoint in place
ours, floor = [], []
for i in range(1, int(_e["BENCH_RUNS"]) + 1):
    for which in ((0, 1) if i % 2 else (1, 0)):
        t = time.perf_counter()
        main_handler(tick(i), {"request_id": "w%d" % i}) if which == 0 else bare(i)
        (ours if which == 0 else floor).append(time.perf_counter() - t)
_report(ours=ours, floor=floor)
"""


def measure(handle: Any, runs: int = 40) -> Dict[str, Any]:
    env = emulator_env(handle.url, handle.secret_id, handle.secret_key, INPUT_PREFIX="images/", RULE_NAME="warm",
                       BENCH_BODY=json.dumps(job_body("Job", "bare-00000").to_sdk()), BENCH_RUNS=str(runs),
                       BENCH_TICK=FIRST_TICK.replace(year=2027).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _, rep = run_child(WARM, env)
    ours, floor = rep["ours"], rep["floor"]
    return {"runs": runs, "ours_s": median(ours), "floor_s": median(floor),
            "ratio": median(o / f for o, f in zip(ours, floor))}


__all__ = ["measure", "timer_event"]
