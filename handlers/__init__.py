"""SCF entry points: each parses its event, loads settings, calls one lib function."""
