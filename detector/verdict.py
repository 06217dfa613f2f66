"""The verdict: walk the image, account for benign tails, classify what is left.

Produces Tencent's sync JSON fields; diagnostics go under "detail" only.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, Union

from . import mpegts
from .classify import classify, signature
from .errors import ImageTooLargeError
from .model import Walk
from .trailers import peel
from .walkers import sniff, walk

MAX_BYTES = 32 * 1024 * 1024
# Tails shorter than this with no signature are junk (ESP32 stale buffers, Dahua "dhav" stubs).
MIN_UNKNOWN = 64
# Maker-note previews can sit this far into the trailer (Sony: up to 32 kB).
PREVIEW_GAP = 64 * 1024
_PAD = b"\x00\xff \t\r\n"
_PNG_REMNANT = b"\x00\x00\x00\x00IEND\xaeB`\x82"

Data = Union[bytes, bytearray, memoryview]


def inspect_bytes(data: Data) -> Dict[str, object]:
    """Inspect one object's bytes and return Tencent's ImageInspect fields (+ "detail")."""
    buf = data if isinstance(data, bytes) else bytes(data)
    n = len(buf)
    if n > MAX_BYTES:
        raise ImageTooLargeError(n, MAX_BYTES)
    pic_type = sniff(buf)
    if pic_type == "unknown":
        return _not_an_image(buf)
    w = walk(buf, 0, pic_type)
    if w.end is None:
        return _incomplete(buf, w)
    return _judge_tail(buf, w)


def _result(n: int, pic_type: str, detail: Dict[str, object], begin: Optional[int] = None,
            kind: str = "") -> Dict[str, object]:
    out: Dict[str, object] = {"picSize": n, "picType": pic_type, "suspicious": begin is not None}
    if begin is not None:
        out.update(
            suspiciousBeginByte=begin,
            suspiciousEndByte=n - 1,
            suspiciousSize=n - begin,
            suspiciousType=kind,
        )
    if detail:
        out["detail"] = detail
    return out


def _not_an_image(buf: bytes) -> Dict[str, object]:
    n = len(buf)
    detail: Dict[str, object] = (
        {"unsupported": "not a JPEG, PNG, GIF, BMP or WebP image"} if n else {"corrupt": "empty object"}
    )
    ts = mpegts.probe(buf, 0, n)
    at = ts[0] if ts else mpegts.scan(buf, 0, n)
    if at is not None:
        # A bare stream renamed to .png is the case Tencent documents: report it from byte 0.
        detail = {"payloadOffset": at}
        return _result(n, "unknown", detail, 0, "MPEG-TS")
    sig = signature(buf, 0, n)
    if sig is not None:
        detail["content"] = sig.kind
    return _result(n, "unknown", detail)


def _incomplete(buf: bytes, w: Walk) -> Dict[str, object]:
    detail: Dict[str, object] = {"truncated": True} if w.truncated else {"corrupt": w.corrupt}
    detail.update(w.notes)
    # A broken image is not suspicious by itself, but a stream inside its unparsed bytes still is.
    at = mpegts.scan(buf, w.resume, len(buf))
    if at is not None:
        return _result(len(buf), w.pic_type, detail, at, "MPEG-TS")
    return _result(len(buf), w.pic_type, detail)


def _judge_tail(buf: bytes, w: Walk) -> Dict[str, object]:
    n = len(buf)
    end = w.end or 0
    detail: Dict[str, object] = {"imageEnd": end}
    detail.update(w.notes)
    stop, trailers = peel(buf, end, w.xmp)
    pos, appended = _peel_images(buf, end, stop, [off for off, _ in w.mpf])
    kinds = appended + trailers[::-1]
    if pos < stop:
        q = _skip_padding(buf, pos, stop)
        if q >= stop:
            kinds.append(_padding_name(buf[pos:stop]))
        else:
            verdict = _leftover(buf, w.pic_type, pos, q, stop, detail)
            if verdict is not None:
                if kinds:
                    detail["trailer"] = "+".join(kinds)
                return _result(n, w.pic_type, detail, pos, verdict)
            kinds.append(str(detail.pop("benign")))
    if kinds:
        detail["trailer"] = "+".join(kinds)
    return _result(n, w.pic_type, detail)


def _leftover(buf: bytes, pic_type: str, pos: int, q: int, stop: int,
              detail: Dict[str, object]) -> Optional[str]:
    """suspiciousType for the unaccounted bytes [pos, stop), or None (reason in detail["benign"])."""
    # Back up over a few padding bytes: MP4 sizes and MPEG-PS start codes begin with zeros.
    match = classify(buf, max(pos, q - 8), stop)
    if match is not None and not (match.kind == "TEXT" and stop - q < MIN_UNKNOWN):
        detail["payloadOffset"] = match.offset
        return match.kind
    if match is None and _is_remnant(buf, pic_type, stop):
        # aCropalypse: leftovers of the original, larger image. A privacy leak, not a hidden file.
        detail["benign"] = "image-remnant"
        return None
    if stop - q < MIN_UNKNOWN:
        detail["benign"] = "junk"
        return None
    detail["payloadOffset"] = q
    return "UNKNOWN"


def _is_remnant(buf: bytes, pic_type: str, stop: int) -> bool:
    if pic_type == "png":
        return buf.endswith(_PNG_REMNANT, 0, stop)
    return pic_type == "jpeg" and buf.endswith(b"\xff\xd9", 0, stop)


def _peel_images(buf: bytes, pos: int, stop: int, declared: Sequence[int]) -> Tuple[int, List[str]]:
    """Skip whole images appended after the primary one (MPF, previews), with padding between."""
    names: List[str] = []
    while pos < stop:
        q = _skip_padding(buf, pos, stop)
        if q >= stop:
            break
        if q > pos and buf[q - 1] == 0xFF and buf[q] == 0xD8:
            q -= 1  # the padding skip ate the SOI's first byte
        at = q if sniff(buf, q) != "unknown" else _image_after_gap(buf, q, stop, declared)
        if at is None:
            break
        sub = walk(buf, at)
        if sub.end is not None and sub.end <= stop:
            sub_end = sub.end
        elif sub.truncated and "skippedBytes" not in sub.notes and classify(buf, sub.resume, stop) is None:
            sub_end = stop
        else:
            break
        if mpegts.scan(buf, at, sub_end) is not None:
            break
        names.append(f"appended-{sub.pic_type}" + ("" if sub.end is not None else "-truncated"))
        pos = sub_end
    return pos, names


def _image_after_gap(buf: bytes, q: int, stop: int, declared: Sequence[int]) -> Optional[int]:
    """An image an MPF index or a maker-note preview puts after some unrecognised bytes."""
    at = next((off for off in sorted(declared) if off > q and sniff(buf, off) != "unknown"), -1)
    if at < 0:
        at = buf.find(b"\xff\xd8\xff", q, min(stop, q + PREVIEW_GAP))
    if at < 0 or classify(buf, q, at) is not None:
        return None
    return at


def _skip_padding(buf: bytes, pos: int, stop: int) -> int:
    """First offset in [pos, stop) that is not zero/FF padding or whitespace."""
    step = 64
    while pos < stop:
        chunk = buf[pos : min(stop, pos + step)]
        rest = chunk.lstrip(_PAD)
        if rest:
            return pos + len(chunk) - len(rest)
        pos += len(chunk)
        step = min(step * 8, 1 << 22)
    return stop


def _padding_name(region: bytes) -> str:
    if not region.strip(b"\x00"):
        return "zero-padding"
    if not region.strip(b"\xff"):
        return "ff-padding"
    if not region.strip(b" \t\r\n"):
        return "whitespace"
    return "padding"
