"""ImageInspect detector: finds non-image data hidden after an image's logical end.

`inspect_bytes(data)` returns Tencent's sync JSON fields; see docs/detector.md.
"""

from __future__ import annotations

from .errors import DetectorError, ImageTooLargeError
from .verdict import MAX_BYTES, inspect_bytes

__all__ = ["MAX_BYTES", "DetectorError", "ImageTooLargeError", "inspect_bytes"]
