"""CLI: `python -m detector FILE...`, one JSON object per line per file.

Exit status: 0 all clean, 1 any suspicious, 2 usage error or a file that could not be inspected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import MAX_BYTES, DetectorError, ImageTooLargeError, inspect_bytes


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m detector",
        description="Find non-image data hidden after an image's end (Tencent ImageInspect fields).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="image files to inspect")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            size = os.path.getsize(path)
            if size > MAX_BYTES:
                # Refuse before reading it all into memory, with the error inspect_bytes would raise.
                raise ImageTooLargeError(size, MAX_BYTES)
            with open(path, "rb") as fh:
                result = inspect_bytes(fh.read())
        except OSError as exc:
            print(f"{parser.prog}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            status = 2
            continue
        except DetectorError as exc:
            print(f"{parser.prog}: {path}: {exc}", file=sys.stderr)
            print(json.dumps({"file": path, "picSize": size, "error": str(exc)}))
            status = 2
            continue
        print(json.dumps({"file": path, **result}))
        if result["suspicious"] and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
