"""The outcome of walking one image's structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


@dataclass
class Walk:
    """Where an image ends; `end` is None when the walk could not reach a terminator."""

    pic_type: str
    end: Optional[int] = None
    # Where unstructured bytes start when the walk stopped early: a hidden stream can only be there.
    resume: int = 0
    truncated: bool = False
    corrupt: Optional[str] = None
    notes: Dict[str, object] = field(default_factory=dict)
    xmp: bytes = b""
    # Absolute (offset, size) of the extra images an MPF index declares.
    mpf: List[Tuple[int, int]] = field(default_factory=list)

    def cut_short(self, resume: int, reason: Optional[str] = None) -> Walk:
        """Mark the walk truncated (no reason) or corrupt (reason) at `resume`.

        A resume point the walker set earlier (JPEG: its first scan) wins."""
        self.resume = min(self.resume, resume) if self.resume else resume
        if reason is None:
            self.truncated = True
        else:
            self.corrupt = reason
        return self
