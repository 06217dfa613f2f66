"""The kill harness's process side: import the submit handler once, then fork one process per run asked for.

Each run is its own process (as SCF runs it), so a SIGKILL ends it with no clean-up at all. Protocol on
stdin/stdout, one JSON line each: a run spec in; {"pid"} as soon as the run's process exists; then its outcome."""
from __future__ import annotations

import json
import os
import sys
import traceback
from datetime import datetime
from typing import Any, Dict, NoReturn


def _run(spec: Dict[str, Any]) -> NoReturn:
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)  # the run's JSON logs must not mix with the protocol on stdout
    os.dup2(log, 2)
    os.environ.clear()
    os.environ.update(spec["env"])
    frozen = datetime.fromisoformat(spec["now"])

    class FrozenClock(datetime):
        """The run's wall clock: the harness decides when each delivery happens (leases lapse on its time)."""

        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return frozen if tz is None else frozen.astimezone(tz)

    import lib.submit.run
    from handlers.submit import main_handler

    lib.submit.run.datetime = FrozenClock  # type: ignore[misc] - Deps' default clock reads this name
    for target, value in (spec.get("patch") or {}).items():  # e.g. a smaller part size, so one run makes several
        module, _, name = target.rpartition(".")
        setattr(__import__(module, fromlist=[name]), name, value)
    context = {"request_id": spec["request_id"], "time_limit_in_ms": spec["time_limit_ms"]}
    entry = main_handler
    if spec.get("entry"):  # another entry than the submit handler, e.g. an operator's confirm (tests.support.caps)
        module, _, name = spec["entry"].partition(":")
        entry = getattr(__import__(module, fromlist=[name]), name)
    try:
        outcome: Dict[str, Any] = {"result": entry(spec["event"], context)}
        code = 0
    except BaseException as exc:  # noqa: BLE001 - reported to the harness, which decides
        outcome = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        code = 1
    with open(spec["out"], "w", encoding="utf-8") as fh:
        json.dump(outcome, fh, default=str)
    os._exit(code)


def main() -> None:
    import handlers.submit  # noqa: F401 - warm: every run is a fork of this already-imported process

    for line in sys.stdin:
        spec = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _run(spec)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        killed = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        print(json.dumps({"pid": pid, "signal": killed, "exit": os.WEXITSTATUS(status) if not killed else None}),
              flush=True)


if __name__ == "__main__":
    main()
