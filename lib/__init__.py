"""cos-batch-autopilot: CI batch jobs on a schedule and on uploads, and reports of what they did."""
