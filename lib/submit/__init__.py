"""The submit use case: timer ticks and upload events become CI batch jobs (run, ensure, timer, uploads,
coalesce)."""
