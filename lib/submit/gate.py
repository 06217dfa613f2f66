"""The guard every job passes before it is sent: count, price, the caps, the day's ledger; past a cap, a held plan."""

from typing import NamedTuple, Optional

from lib import logs
from lib.config import Settings
from lib.jobs import JobBody
from lib.plans import HeldPlan, PlanSource, PlanStore, plan_id_of
from lib.spend import Count, Estimate, SpendLedger, any_cap, cap_reason, estimate
from lib.submit.run import Deps


class Gate(NamedTuple):
    """What the guard decided: `plan` None means send (the job is on today's ledger); else it is held or declined."""

    estimate: Estimate
    plan: Optional[HeldPlan] = None

    @property
    def send(self) -> bool:
        return self.plan is None


def gate(settings: Settings, deps: Deps, body: JobBody, count: Count, source: PlanSource, *,
         renew: bool = False) -> Gate:
    """Send (count the job on today's ledger) or hold it as a plan; call it under the source's claim, before the job.

    A plan already stored for this source answers first: pending or declined or expired, nothing is sent; confirmed,
    the job exists (the caller's ensure_job finds it by name). One GET, then the ledger's listings and one PUT.
    `renew`: a declined or expired plan concerned an earlier window held in the same place; this one is judged anew."""
    est = estimate(settings, count)
    plans = PlanStore(deps.client, settings.state_prefix, deps.clock)
    # Without a cap nothing is ever held, so there is no plan to meet (a timer rule still follows its declines).
    capped = any_cap(settings)
    stored = plans.get(plan_id_of(source.kind, source.claim)) if capped else None
    if stored is not None and stored.status != "confirmed":
        if stored.expired(deps.clock(), settings.plan_expiry_days):
            stored = plans.decide(stored, "expired")
            logs.log("plan_expired", plan_id=stored.plan_id, job_name=stored.body.Name)
        if not (renew and stored.status in ("declined", "expired") and stored.body.Name != body.Name):
            return Gate(est, stored)
    ledger = SpendLedger(deps.client, settings, deps.clock, deps.sleep, owner=deps.owner)
    # Without a cap nothing can be held: the job is only counted, without the day's claim.
    held = ledger.reserve(body.Name, est, lambda today: cap_reason(settings, est, today), override=not capped)
    figures = {"job_name": body.Name, "objects": count.objects, "complete": count.complete, "method": count.method,
               "cost": None if est.cost is None else str(est.cost), "currency": est.currency}
    if not held.reason:
        logs.log("job_counted", **figures)
        return Gate(est)
    plan = plans.hold(HeldPlan(plan_id=plan_id_of(source.kind, source.claim), source=source, body=body, estimate=est,
                               reason=held.reason, held_at=deps.clock()), renew=renew)
    logs.log("job_held", plan_id=plan.plan_id, reason=plan.reason, **figures)
    return Gate(est, plan)


def held_note(plan: HeldPlan) -> str:
    """The line a result, a log and the report give a plan that stopped a job."""
    if plan.status == "pending":
        return (f"HELD job {plan.body.Name} as plan {plan.plan_id}: {plan.estimate.shown()}; {plan.reason}; nothing "
                f"was sent. Send it with `python -m ops plans confirm {plan.plan_id}`, or drop it with "
                f"`python -m ops plans decline {plan.plan_id}`")
    return f"job {plan.body.Name} not sent: plan {plan.plan_id} was {plan.status}"
