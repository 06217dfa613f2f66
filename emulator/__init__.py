"""Local emulator of the Tencent COS + CI APIs this project uses, driven by the unmodified SDK over HTTP.

Never deployed. Start it with ``python -m emulator`` or, in tests, with
:func:`emulator.testing.run_emulator` / the ``emulator`` pytest fixture.
"""
