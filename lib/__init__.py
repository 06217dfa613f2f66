"""cos-batch-autopilot: CI batch jobs on a schedule and on uploads, and reports of what they did."""
import os

# We use no pydantic plugins. Looking for them scans every installed distribution's entry points when the first
# model is built: about 6 ms of each cold start here, more on a runtime with many packages. A value set by the
# deployment wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# The modules that define models on the submit path (config, events, jobs, state, submit, client) leave out
# `from __future__ import annotations`: with it, pydantic evaluates every field's annotation string when the class
# is built, about 5 ms of each cold start. Their annotations therefore run on Python 3.9 as written.
