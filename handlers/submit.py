"""SCF entry point `submit`: timer ticks and COS uploads become CI batch jobs."""
from __future__ import annotations

import os
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional

from handlers import frozen_imports

with frozen_imports():
    import qcloud_cos  # noqa: F401 - lib imports it on first use; here it is imported with the rest, frozen

    from lib.client import make_client
    from lib.config import Settings
    from lib.events import TimerEvent
    from lib.invocation import ClientFactory, Invocation, handle
    from lib.submit.run import Deps
    from lib.submit.timer import submit_timer
    from lib.submit.uploads import submit_upload

if TYPE_CHECKING:  # coalescing mode's module: a per-event cold start never imports it
    from lib.submit.coalesce import FlushMemory


def _run(event: Any, settings: Settings, invocation: Invocation, *, client_factory: ClientFactory,
         side_effects: Dict[str, Any]) -> Dict[str, Any]:
    deps = Deps(client=client_factory(settings), time_limit=invocation.time_limit, **side_effects)
    if invocation.request_id:
        deps.owner = invocation.request_id
    submit = submit_timer if isinstance(event, TimerEvent) else submit_upload
    return submit(settings, event, deps).model_dump(mode="json")


def invoke(event: Any, context: Any, *, environ: Mapping[str, str], client_factory: ClientFactory,
           clock: Optional[Callable[[], datetime]] = None, sleep: Optional[Callable[[float], None]] = None,
           memory: Optional[FlushMemory] = None) -> Dict[str, Any]:
    """One invocation with its side effects passed in: on SCF, os.environ and make_client, the real clock and sleep,
    and the warm instance's flush memory (lib.submit.coalesce.INSTANCE); tests pass their own."""
    given = {"clock": clock, "sleep": sleep, "memory": memory}
    side_effects = {name: value for name, value in given.items() if value is not None}
    return handle("submit", event, context, partial(_run, client_factory=client_factory, side_effects=side_effects),
                  environ=environ)


def main_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    return invoke(event, context, environ=os.environ, client_factory=make_client)
