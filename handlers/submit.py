"""SCF entry point `submit`: timer ticks and COS uploads become CI batch jobs."""
from __future__ import annotations

from typing import Any, Dict

from handlers import frozen_imports

with frozen_imports():
    import qcloud_cos  # noqa: F401 - lib imports it on first use; here it is imported with the rest, frozen

    from lib.client import make_client
    from lib.config import Settings
    from lib.events import TimerEvent
    from lib.invocation import Invocation, handle
    from lib.submit.run import Deps
    from lib.submit.timer import submit_timer
    from lib.submit.uploads import submit_upload


def _run(event: Any, settings: Settings, invocation: Invocation) -> Dict[str, Any]:
    deps = Deps(client=make_client(settings), time_limit=invocation.time_limit)
    if invocation.request_id:
        deps.owner = invocation.request_id
    submit = submit_timer if isinstance(event, TimerEvent) else submit_upload
    return submit(settings, event, deps).model_dump(mode="json")


def main_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    return handle("submit", event, context, _run)
