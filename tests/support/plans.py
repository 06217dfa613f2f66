"""Held plans from a test's side: the operator's confirm and decline as the CLI calls them, on a function's settings."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional

from lib.client import CiClient, make_client
from lib.config import load_settings
from lib.plans import HeldPlan, PlanStore
from lib.submit.confirm import confirm_plan, decline_plan
from lib.submit.run import Deps, JobRef
from tests.support.entries import no_sleep


def operator_deps(client: CiClient, clock: Optional[Callable[[], datetime]] = None) -> Deps:
    return Deps(client=client, sleep=no_sleep) if clock is None else Deps(client=client, clock=clock, sleep=no_sleep)


def confirm(env: Mapping[str, str], client: CiClient, plan_id: str,
            clock: Optional[Callable[[], datetime]] = None) -> JobRef:
    return confirm_plan(load_settings(env), operator_deps(client, clock), plan_id)


def decline(env: Mapping[str, str], client: CiClient, plan_id: str,
            clock: Optional[Callable[[], datetime]] = None) -> HeldPlan:
    return decline_plan(load_settings(env), operator_deps(client, clock), plan_id)


def stored_plans(env: Mapping[str, str], client: CiClient) -> List[HeldPlan]:
    return PlanStore(client, load_settings(env).state_prefix, lambda: datetime.now(timezone.utc) + timedelta(days=3650)).list()


def confirm_entry(event: Mapping[str, Any], context: Mapping[str, Any]) -> Dict[str, Any]:
    """`plans confirm` in a kill harness process (tests.reliability.kill_child's `entry`): event {"plan_id": ...},
    the process's environment and the real client, its clock the harness's."""
    settings = load_settings(os.environ)
    deps = Deps(client=make_client(settings), time_limit=context["time_limit_in_ms"] / 1000)
    return confirm_plan(settings, deps, event["plan_id"]).model_dump(mode="json")
