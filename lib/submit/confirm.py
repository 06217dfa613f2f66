"""An operator's answer to a held plan: confirm sends exactly its body once, decline drops it; both are recorded."""

import importlib

from lib import logs
from lib.config import Settings
from lib.errors import PlanError
from lib.irreversible import check_irreversible
from lib.jobs import JobBody
from lib.plans import HeldPlan, PlanStore, is_plan_id, plan_claim
from lib.spend import SpendLedger
from lib.state import StateStore
from lib.submit.run import Deps, JobRef, lease_ttl

# Each kind's path rebuilds and sends its own plans: `confirm_held(settings, deps, plan, store, count) -> JobRef` in the
# module that held it (it re-derives the body from the source, refuses one that differs, and finishes what holding
# interrupted: a timer's checkpoint, a batch's ledger, an inventory part).
PATHS = {"timer": "lib.submit.timer", "upload": "lib.submit.uploads", "batch": "lib.submit.coalesce",
         "inventory": "lib.submit.inventory"}


def check_plan_id(plan_id: str) -> None:
    """Refuse a malformed id before any call (it names an object key and a claim)."""
    if not is_plan_id(plan_id):
        raise PlanError(f"plan id {plan_id[:80]!r} is not one (16 hex digits, as `plans list` shows them)")


def load_plan(settings: Settings, deps: Deps, plan_id: str) -> HeldPlan:
    check_plan_id(plan_id)
    plan = PlanStore(deps.client, settings.state_prefix, deps.clock).get(plan_id)
    if plan is None:
        raise PlanError(f"no plan {plan_id} under {settings.state_prefix}plans/ (or it failed its checks, see the "
                        "log); `plans list` shows the held ones")
    return plan


def confirm_plan(settings: Settings, deps: Deps, plan_id: str) -> JobRef:
    """Send the held body exactly once, whatever the caps say (it counts toward the day); a second confirm finds
    the job. Under the plan's own claim, so two confirms at once are one; a confirm killed half-way is rerun."""
    check_irreversible(settings, deps.client)  # the body is rebuilt from these settings: it deletes if they do
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    check_plan_id(plan_id)
    with store.holding(plan_claim(plan_id, deps.owner, deps.clock()), lease_ttl(settings, deps.time_limit)):
        plan = load_plan(settings, deps, plan_id)
        if plan.status in ("declined", "expired"):
            raise PlanError(f"plan {plan_id} was {plan.status} at {plan.decided_at}; nothing was sent. A declined "
                            "window stays skipped; the rule's next run covers what comes after it")
        plans = PlanStore(deps.client, settings.state_prefix, deps.clock)
        if plan.expired(deps.clock(), settings.plan_expiry_days):
            plans.decide(plan, "expired")
            raise PlanError(f"plan {plan_id} expired (PLAN_EXPIRY_DAYS={settings.plan_expiry_days}); nothing was sent")
        ledger = SpendLedger(deps.client, settings, deps.clock, deps.sleep, owner=deps.owner)

        def count() -> None:
            # Called by the path once its checks passed, right before it sends: a refused confirm counts nothing,
            # and a confirm killed after sending is counted by its rerun (found by the job's name) before it ends.
            ledger.reserve(plan.body.Name, plan.estimate, lambda _today: "", override=True)

        path = importlib.import_module(PATHS[plan.source.kind])
        ref: JobRef = path.confirm_held(settings, deps, plan, store, count)
        if plan.status != "confirmed":
            plans.decide(plan, "confirmed", job_id=ref.job_id)
        logs.log("plan_confirmed", plan_id=plan_id, job_id=ref.job_id, job_name=ref.name, created=ref.created)
    return ref


def decline_plan(settings: Settings, deps: Deps, plan_id: str) -> HeldPlan:
    """Drop a pending plan: nothing is sent, and the rule's next run goes on past it (its path reads the decline)."""
    store = StateStore(deps.client, settings.state_prefix, deps.clock)
    check_plan_id(plan_id)
    with store.holding(plan_claim(plan_id, deps.owner, deps.clock()), lease_ttl(settings, deps.time_limit)):
        plan = load_plan(settings, deps, plan_id)
        if plan.status == "confirmed":
            raise PlanError(f"plan {plan_id} was confirmed at {plan.decided_at} as job {plan.job_id}; cancel the job "
                            f"with `python -m ops jobs cancel {plan.job_id}` instead")
        if plan.status != "pending":
            return plan
        declined = PlanStore(deps.client, settings.state_prefix, deps.clock).decide(plan, "declined")
        logs.log("plan_declined", plan_id=plan_id, job_name=plan.body.Name, objects=plan.count.objects,
                 reason=plan.reason)
    return declined


def held_body_problem(plan: HeldPlan, rebuilt: JobBody) -> str:
    """Why the stored body is not what its path builds for the plan's source now ('' if it is): checked before a
    confirm sends it, since a plan is read back from the bucket."""
    if plan.body.Name != rebuilt.Name:
        return f"its job name {plan.body.Name[:160]!r} is not {rebuilt.Name!r}, the name its source derives"
    if plan.body != rebuilt:
        return ("its body differs from what the current settings build for its source (a setting changed since it "
                "was held, or the plan was edited); run with the settings the function had, or decline it")
    return ""
