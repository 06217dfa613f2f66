"""The report's inventory section: per inventory rule, the report it last processed, its counts and jobs, or why not.

Read from the rule's stored state (lib.inventory_state.summarise_inventory) and the bucket's inventory configuration;
a missing, late or unprocessed inventory, or refused stored state, is a sentence that makes the report a problem."""

from __future__ import annotations

from datetime import datetime
from typing import List

from lib.client import CiClient
from lib.config import Settings
from lib.errors import CloudError, InventoryConfigError
from lib.report.models import InventoryLine


def inventory_lines(client: CiClient, settings: Settings, now: datetime) -> List[InventoryLine]:
    """The rule the settings name (INPUT_SOURCE=inventory with INVENTORY_ID), or none."""
    if settings.input_source != "inventory" or not settings.inventory_id:
        return []
    return [inventory_line(client, settings, settings.inventory_id, now)]


def inventory_line(client: CiClient, settings: Settings, inventory_id: str, now: datetime) -> InventoryLine:
    """GET Bucket inventory, the newest complete report (a listing and its manifest.checksum), the stored state."""
    # Imported here: a report function without an inventory rule (the default) never pays for them on a cold start.
    from lib.inventory import newest_report, read_configuration, report_root
    from lib.inventory_state import summarise_inventory

    try:
        config = read_configuration(client, inventory_id, settings.bucket)
    except InventoryConfigError as exc:
        return InventoryLine(inventory_id=inventory_id, status="missing", problem=str(exc))
    except CloudError as exc:
        return _unreadable(inventory_id, f"its configuration (GET Bucket inventory): {exc}")
    try:
        newest, _, _ = newest_report(client, report_root(config, settings.bucket))
        summary = summarise_inventory(client, settings, inventory_id, now, config.frequency)
    except CloudError as exc:
        return _unreadable(inventory_id, f"its reports or stored state: {exc}")
    line = InventoryLine(inventory_id=inventory_id, status="ok", day=summary.day, listed=summary.listed,
                         kept=summary.kept, dropped=dict(sorted(summary.dropped.items())), jobs=summary.jobs,
                         job_names=summary.job_names, processed_at=summary.processed_at, newest=newest,
                         problem=summary.problem)
    if summary.day is None:
        # summarise_inventory's two sentences without a processed report: nothing yet, or refused stored state.
        none = summary.problem.endswith("no report processed yet")
        problem = summary.problem + (f"; report {newest} is in the bucket" if none and newest else "")
        return line.model_copy(update={"status": "none" if none else "ignored", "problem": problem})
    if summary.problem:
        if newest is not None and newest > summary.day:
            # The inventory came; the function did not process it in time: its log says why (a refused report).
            return line.model_copy(update={"status": "unprocessed", "problem": (
                f"inventory {inventory_id}: report {newest} is in the bucket but not processed, and the last "
                f"processed ({summary.day}) is older than a {config.frequency} schedule allows; the submit "
                "function's log says why (a refused report is named there), and its timer fallback retries")})
        return line.model_copy(update={"status": "late"})
    return line


def _unreadable(inventory_id: str, what: str) -> InventoryLine:
    return InventoryLine(inventory_id=inventory_id, status="unreadable",
                         problem=f"inventory {inventory_id}: could not read {what}")
