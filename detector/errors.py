"""Errors the detector raises instead of returning a verdict."""

from __future__ import annotations


class DetectorError(Exception):
    """Base class: the input could not be inspected at all."""


class ImageTooLargeError(DetectorError):
    """The object is over the service's size limit, as Tencent refuses it."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"object is {size} bytes, over the ImageInspect limit of {limit} bytes "
            f"({limit // (1024 * 1024)} MB); Tencent rejects it, so it was not inspected"
        )
        self.size = size
        self.limit = limit
