"""Moved to tests/support (settings.py, wires.py); kept only for tests/cli and tests/lib/test_config.py, which other
helpers own while issue 23 is under way: the lead points their imports at tests.support and deletes this at merge."""
from tests.support.settings import ENV  # noqa: F401
from tests.support.wires import ReportWire, inspect_result_xml  # noqa: F401
