"""Issue 25 from a test's side: the operator's confirm and decline as the CLI calls them, and what the emulator holds
that a held job must not have left behind (jobs, manifests, spend entries, plans)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional

from emulator.testing import EmulatorHandle
from lib.client import CiClient, make_client
from lib.config import load_settings
from lib.plans import HeldPlan, PlanStore
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.run import Deps, JobRef
from tests.support.entries import no_sleep, quick_client
from tests.support.settings import BUCKET


def operator(environ: Mapping[str, str], *, clock: Optional[Callable[[], datetime]] = None,
             client: Optional[CiClient] = None, owner: str = "operator") -> Deps:
    """The side effects of `python -m ops plans confirm|decline` on the function's environment."""
    settings = load_settings(environ)
    return Deps(client=client or quick_client(settings), clock=clock or (lambda: datetime.now(timezone.utc)),
                sleep=no_sleep, owner=owner, time_limit=30)


def confirm(environ: Mapping[str, str], plan_id: str, **deps: Any) -> JobRef:
    return confirm_plan(load_settings(environ), operator(environ, **deps), plan_id)


def decline(environ: Mapping[str, str], plan_id: str, **deps: Any) -> HeldPlan:
    return decline_plan(load_settings(environ), operator(environ, **deps), plan_id)


def stored_keys(emulator: EmulatorHandle, prefix: str) -> List[str]:
    return emulator.backend.list_keys(BUCKET, prefix=prefix)


def job_names(emulator: EmulatorHandle) -> List[str]:
    """Every batch job CI holds, by name, in creation order."""
    with emulator.backend.lock:
        return [j.name for j in sorted(emulator.backend.jobs.values(), key=lambda j: j.seq)]


def creates(emulator: EmulatorHandle) -> int:
    """How many job creates reached the service."""
    return sum(1 for r in emulator.request_log.snapshot() if r.method == "POST" and r.path == "/inventorytriggerjob")


def left_behind(emulator: EmulatorHandle) -> Dict[str, List[str]]:
    """What a job that was never sent must not have left: a job, its manifest, an entry on the spend ledger."""
    return {"jobs": job_names(emulator), "manifests": stored_keys(emulator, "autopilot/manifests/"),
            "spend": stored_keys(emulator, "autopilot/spend/")}


NOTHING = {"jobs": [], "manifests": [], "spend": []}


def stored_plans(environ: Mapping[str, str], client: CiClient) -> List[HeldPlan]:
    """Every plan stored, read back with its checks (a clock ten years on: none is after it)."""
    return PlanStore(client, load_settings(environ).state_prefix,
                     lambda: datetime.now(timezone.utc) + timedelta(days=3650)).list()


def confirm_entry(event: Mapping[str, Any], context: Mapping[str, Any]) -> Dict[str, Any]:
    """`plans confirm` in a kill harness process (tests.reliability.kill_child's `entry`): event {"plan_id": ...},
    the process's environment and the real client, its clock the harness's."""
    settings = load_settings(os.environ)
    deps = Deps(client=make_client(settings), time_limit=context["time_limit_in_ms"] / 1000)
    return confirm_plan(settings, deps, event["plan_id"]).model_dump(mode="json")
