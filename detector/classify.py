"""Names the data found after an image: MPEG-TS first, then a signature table, then text."""

from __future__ import annotations

import struct
from typing import Callable, NamedTuple, Optional, Tuple

from . import mpegts

# Junk tolerated in front of a signature (stale buffers, a stray CRLF, a few header bytes).
WINDOW = 512
_TEXT_SAMPLE = 64 * 1024
_ASCII_TEXT = bytes(range(0x20, 0x7F)) + b"\t\n\r\f"


class Match(NamedTuple):
    kind: str
    offset: int


def _pe(buf: bytes, at: int, stop: int) -> bool:
    if at + 0x40 > stop:
        return False
    (lfanew,) = struct.unpack_from("<I", buf, at + 0x3C)
    return at + lfanew + 4 <= stop and buf.startswith(b"PE\x00\x00", at + lfanew)


def _gzip(buf: bytes, at: int, stop: int) -> bool:
    return buf.startswith(b"\x08", at + 2)


def _bzip2(buf: bytes, at: int, stop: int) -> bool:
    level = buf[at + 3 : at + 4]
    return len(level) == 1 and level in b"123456789" and buf[at + 4 : at + 10] in (b"1AY&SY", b"\x17rE8P\x90")


def _ftyp(buf: bytes, at: int, stop: int) -> bool:
    if at < 4:
        return False
    (size,) = struct.unpack_from(">I", buf, at - 4)
    return 8 <= size <= 4096


def _fat_macho(buf: bytes, at: int, stop: int) -> bool:
    # CAFEBABE is also a Java class; fat Mach-O has a small architecture count there.
    (count,) = struct.unpack_from(">I", buf, at + 4) if at + 8 <= stop else (0,)
    return 0 < count < 32


def _java(buf: bytes, at: int, stop: int) -> bool:
    return not _fat_macho(buf, at, stop) and at + 8 <= stop


def _mpeg_ps(buf: bytes, at: int, stop: int) -> bool:
    # Pack header: MPEG-2 starts its SCR byte with 01, MPEG-1 with 0010.
    nxt = buf[at + 4 : at + 5]
    return bool(nxt) and (nxt[0] & 0xC0 == 0x40 or nxt[0] & 0xF0 == 0x20)


Check = Optional[Callable[[bytes, int, int], bool]]
# (type, magic, how far the magic sits into the file, extra check). Order breaks ties.
SIGNATURES: Tuple[Tuple[str, bytes, int, Check], ...] = (
    ("ZIP", b"PK\x03\x04", 0, None),
    ("ZIP", b"PK\x05\x06", 0, None),
    ("RAR", b"Rar!\x1a\x07", 0, None),
    ("7Z", b"7z\xbc\xaf\x27\x1c", 0, None),
    ("GZIP", b"\x1f\x8b", 0, _gzip),
    ("BZIP2", b"BZh", 0, _bzip2),
    ("XZ", b"\xfd7zXZ\x00", 0, None),
    ("ZSTD", b"\x28\xb5\x2f\xfd", 0, None),
    ("PE", b"MZ", 0, _pe),
    ("ELF", b"\x7fELF", 0, None),
    ("MACH-O", b"\xfe\xed\xfa\xce", 0, None),
    ("MACH-O", b"\xfe\xed\xfa\xcf", 0, None),
    ("MACH-O", b"\xce\xfa\xed\xfe", 0, None),
    ("MACH-O", b"\xcf\xfa\xed\xfe", 0, None),
    ("MACH-O", b"\xca\xfe\xba\xbe", 0, _fat_macho),
    ("JAVA-CLASS", b"\xca\xfe\xba\xbe", 0, _java),
    ("PDF", b"%PDF-", 0, None),
    ("MP4", b"ftyp", 4, _ftyp),
    ("MKV", b"\x1a\x45\xdf\xa3", 0, None),
    ("FLV", b"FLV\x01", 0, None),
    ("MPEG-PS", b"\x00\x00\x01\xba", 0, _mpeg_ps),
    ("LNK", b"L\x00\x00\x00\x01\x14\x02\x00", 0, None),
    ("HLS", b"#EXTM3U", 0, None),
    ("PHP", b"<?php", 0, None),
    ("SCRIPT", b"#!/", 0, None),
)
# Matched on lower-cased bytes.
MARKUP: Tuple[Tuple[str, bytes], ...] = (
    ("HTML", b"<html"),
    ("HTML", b"<!doctype html"),
    ("HTML", b"<script"),
    ("HTML", b"<iframe"),
)


def signature(buf: bytes, start: int, stop: int) -> Optional[Match]:
    """The earliest known signature in the first WINDOW bytes of [start, stop)."""
    best: Optional[Match] = None
    win_stop = min(stop, start + WINDOW)
    for kind, magic, lead, check in SIGNATURES:
        i = buf.find(magic, start + lead, min(stop, win_stop + lead + len(magic)))
        while i >= 0 and (best is None or i - lead < best.offset):
            if check is None or check(buf, i, stop):
                best = Match(kind, i - lead)
                break
            i = buf.find(magic, i + 1, min(stop, win_stop + lead + len(magic)))
    low = buf[start : win_stop + 16].lower()
    for kind, tag in MARKUP:
        i = low.find(tag)
        if i >= 0 and (best is None or start + i < best.offset):
            best = Match(kind, start + i)
    return best


def is_text(buf: bytes, start: int, stop: int) -> bool:
    """True when a sample of [start, stop) reads as ASCII or UTF-8 text."""
    sample = buf[start : min(stop, start + _TEXT_SAMPLE)]
    rest = sample.translate(None, _ASCII_TEXT)
    if not rest:
        return True
    if len(rest) * 2 > len(sample):
        return False
    try:
        # A sample can cut a multi-byte character in half; drop up to 3 bytes before deciding.
        sample[: len(sample) - 3 if len(sample) == _TEXT_SAMPLE else len(sample)].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in rest


def classify(buf: bytes, start: int, stop: int) -> Optional[Match]:
    """What [start, stop) holds: MPEG-TS, a signature, TEXT, or None when it is unrecognised."""
    ts = mpegts.probe(buf, start, stop)
    if ts is not None:
        return Match("MPEG-TS", ts[0])
    sig = signature(buf, start, stop)
    if sig is not None:
        return sig
    # A stream behind more junk than the probe tolerates is still a stream.
    far = mpegts.scan(buf, start, stop)
    if far is not None:
        return Match("MPEG-TS", far)
    if is_text(buf, start, stop):
        return Match("TEXT", start)
    return None
