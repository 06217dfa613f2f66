"""`python -m lib.cli`, the operator CLI's old name, kept for scripts and notes that still run it: `python -m ops`.

Not deployed (deploy/package.py leaves it out), and the one module under lib/ that imports ops.
"""
import sys

from ops.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
