"""Running `python -m ops` as a person does: a real process, a clean environment, a private HOME."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Dict, Mapping, Optional

from emulator.testing import DEFAULT_REGION, TEST_SECRET_ID, TEST_SECRET_KEY, EmulatorHandle
from tests.support.settings import BUCKET

ROOT = Path(__file__).resolve().parents[2]


def bucket_env(emu: EmulatorHandle, **extra: str) -> Dict[str, str]:
    """Settings that reach `emu`, without credentials (each test says where those come from)."""
    return {"COS_BUCKET": BUCKET, "COS_REGION": DEFAULT_REGION, "COS_EMULATOR_URL": emu.url, **extra}


def credentials() -> Dict[str, str]:
    return {"TENCENTCLOUD_SECRETID": TEST_SECRET_ID, "TENCENTCLOUD_SECRETKEY": TEST_SECRET_KEY}


class Ran:
    """One finished CLI process: exit code, stdout, stderr."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.code, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)  # the whole of stdout must be one document

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def process_env(env: Mapping[str, str], home: Path) -> Dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": str(home), **env}


def cli(*argv: str, env: Mapping[str, str], home: Path, stdin: str = "", timeout: float = 60,
        cwd: Optional[Path] = None) -> Ran:
    proc = subprocess.run([sys.executable, "-m", "ops", *argv], cwd=cwd or ROOT, env=process_env(env, home),
                          input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    return Ran(proc)


def no_traceback(ran: Ran) -> bool:
    return "Traceback" not in ran.err and "Traceback" not in ran.out


class Tty(io.StringIO):
    """stdin at a terminal: a person types the answer."""

    def isatty(self) -> bool:
        return True


def in_process(*argv: str, environ: Mapping[str, str], clock: datetime, stdin: Optional[IO[str]] = None) -> Ran:
    """`python -m ops` as ops.cli.main in this process, on `environ` at `clock`, retrying without back-off sleeps."""
    from ops.cli import main
    from tests.support.entries import no_sleep, quick_client

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=dict(environ), stdin=stdin or io.StringIO(), stdout=out, stderr=err,
                clock=lambda: clock, client_factory=quick_client, sleep=no_sleep)
    return Ran(subprocess.CompletedProcess(list(argv), code, out.getvalue(), err.getvalue()))
