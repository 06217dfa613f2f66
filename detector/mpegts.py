"""MPEG-TS detection, the stream Tencent's ImageInspect exists to catch.

Modelled on ffmpeg's mpegts_probe: sync byte 0x47 every 188 (TS), 192 (M2TS, 4-byte timestamp
first) or 204 (TS with Reed-Solomon) bytes, tolerating a few junk bytes before the first packet.
"""

from __future__ import annotations

from typing import Optional, Tuple

PACKET_SIZES = (188, 192, 204)
_SYNC = 0x47
# How many packets a head probe checks; fewer only when the tail holds fewer.
_PROBE_PACKETS = 8
# Junk tolerated before the first sync byte, beyond one packet length.
_PROBE_JUNK = 64
# Anywhere-in-a-region scans need a longer run: random data must not look like a stream.
SCAN_PACKETS = 16


def _not_constant(buf: bytes, k: int, size: int) -> bool:
    """A run of 0x47 bytes (a flat grey image) is not a packet."""
    return buf.count(_SYNC, k, k + size) < size // 2


def probe(buf: bytes, start: int, stop: int) -> Optional[Tuple[int, int]]:
    """(sync offset, packet size) if a TS stream starts near `start`, else None."""
    for size in PACKET_SIZES:
        limit = min(stop, start + size + _PROBE_JUNK)
        k = buf.find(b"\x47", start, limit)
        while k >= 0:
            syncs = (stop - k - 1) // size + 1
            if syncs >= 2:
                count = min(syncs, _PROBE_PACKETS)
                if buf[k : k + size * (count - 1) + 1 : size] == bytes([_SYNC]) * count and _not_constant(
                    buf, k, size
                ):
                    return k, size
            k = buf.find(b"\x47", k + 1, limit)
    return None


def scan(buf: bytes, start: int, stop: int, packets: int = SCAN_PACKETS) -> Optional[int]:
    """Earliest offset in [start, stop) where a run of `packets` TS packets begins, else None."""
    need = bytes([_SYNC]) * packets
    best: Optional[int] = None
    for size in PACKET_SIZES:
        if stop - start < size * (packets - 1) + 1:
            continue
        for phase in range(size):
            # One strided slice per phase lines the sync bytes up, so bytes.find does the search.
            col = buf[start + phase : stop : size]
            i = col.find(need)
            while i >= 0:
                k = start + phase + i * size
                if best is not None and k >= best:
                    break
                if _not_constant(buf, k, size):
                    best = k
                    break
                # Jump over a flat 0x47 run but re-check its last packets: a stream may follow it.
                rest = col[i:]
                run_end = i + len(rest) - len(rest.lstrip(b"\x47"))
                i = col.find(need, max(i + 1, run_end - packets + 1))
    return best
