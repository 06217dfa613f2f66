"""cos-batch-autopilot: CI batch jobs on a schedule and on uploads, and reports of what they did."""
import os

# We use no pydantic plugins. Looking for them scans every installed distribution's entry points when the first
# model is built: about 6 ms of each cold start here, more on a runtime with many packages. A value set by the
# deployment wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
