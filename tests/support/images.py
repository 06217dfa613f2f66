"""Image bytes for handler tests: a minimal PNG, and an MPEG-TS stream to hide after it (ImageInspect flags that)."""
from __future__ import annotations

import struct
import zlib

TS_STREAM = b"".join(b"\x47\x40\x00\x10" + bytes(184) for _ in range(8))


def png() -> bytes:
    """A valid 1x1 greyscale PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
            + chunk(b"IEND", b""))
