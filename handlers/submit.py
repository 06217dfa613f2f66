"""SCF entry point `submit`: timer ticks and COS uploads become CI batch jobs."""
from __future__ import annotations

import os
from functools import partial
from typing import Any, Dict, Mapping

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


def _run(event: Any, settings: Settings, invocation: Invocation, *, client_factory: ClientFactory) -> Dict[str, Any]:
    deps = Deps(client=client_factory(settings), time_limit=invocation.time_limit)
    if invocation.request_id:
        deps.owner = invocation.request_id
    submit = submit_timer if isinstance(event, TimerEvent) else submit_upload
    return submit(settings, event, deps).model_dump(mode="json")


def invoke(event: Any, context: Any, *, environ: Mapping[str, str], client_factory: ClientFactory) -> Dict[str, Any]:
    """One invocation with its environment and client factory passed in; on SCF, os.environ and make_client."""
    return handle("submit", event, context, partial(_run, client_factory=client_factory), environ=environ)


def main_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    return invoke(event, context, environ=os.environ, client_factory=make_client)
