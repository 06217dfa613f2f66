"""SCF entry file for handler `scf_report.main_handler`: SCF imports the file the handler names from the package root.

The handler itself lives in handlers/report.py; this file only puts it where SCF's Python runtimes look."""
from handlers.report import main_handler

__all__ = ["main_handler"]
