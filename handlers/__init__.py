"""SCF entry points: each parses its event, loads settings, calls one lib function."""
import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def frozen_imports() -> Iterator[None]:
    """Run a cold start's imports without the cyclic collector, then freeze what they created.

    Everything imported lives as long as the container, so collecting during the imports is wasted work (30-60 ms
    per cold start here), and freezing keeps every later collection from scanning it again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
