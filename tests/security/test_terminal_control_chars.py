"""Issue 22 point 6: the CLI shows a key's control characters visibly; none moves the cursor, clears the screen,
reorders the line or forges a row.

A terminal acts on C0 controls (CR returns to the line start, ESC opens an ECMA-48 sequence) and, in 8-bit mode, on
C1 controls (0x9b is CSI) - ECMA-48 §5 (https://ecma-international.org/publications-and-standards/standards/ecma-48/);
U+2028/U+2029 and the bidirectional overrides U+202A-U+202E, U+2066-U+2069 change how a line is laid out (Unicode
UAX #9, https://www.unicode.org/reports/tr9/; CVE-2021-42574 "Trojan Source"). COS accepts keys holding any of these
(issue 22 point 4). XML 1.0 cannot carry C0 controls other than TAB, LF, CR (https://www.w3.org/TR/xml/#charsets),
so CI's answers bring CR (read back as LF), C1 controls and the Unicode ones; a COS event (JSON) brings any.
"""
from __future__ import annotations

import io
import json
import re
from typing import List, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lib.escape import terminal
from ops.cli import main
from tests.reliability.support import examples
from tests.security.hostile_jobs import seed_job
from tests.support.emulator import EMULATOR_NOW, emulator_env, fresh_bucket
from tests.support.events import cos_event

# What a terminal acts on, besides the line feeds that end our own lines.
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Carried by CI's XML: CR (as LF), NEL, CSI, the Unicode line separator and a right-to-left override.
XML_KEYS = ("uploads/a\rFORGED  Success  -  -  left as is.png", "uploads/b\x9b2J\x85.png",
            "uploads/c\u2028\u202egnp.exe.png")
MESSAGE = "boom\r\nFORGED  line\x9b31m"  # XML reads CR LF back as one LF


def cli(emulator, *argv: str) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=emulator_env(emulator), stdout=out, stderr=err, clock=lambda: EMULATOR_NOW)
    return code, out.getvalue(), err.getvalue()


def table_rows(text: str, header: str) -> List[str]:
    """The rows under a table's header and rule, up to the blank line that ends it."""
    lines = text.split("\n")
    start = next(n for n, line in enumerate(lines) if line.startswith(header)) + 2
    end = next((n for n in range(start, len(lines)) if not lines[n].strip()), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("text, shown", [
    ("a\rb", "a\\rb"), ("a\nb", "a\\nb"), ("a\tb", "a\\tb"), ("\x1b[2J", "\\x1b[2J"), ("\x07", "\\x07"),
    ("\x7f", "\\x7f"), ("\x9b31m", "\\x9b31m"), ("\x85", "\\x85"), ("\u2028", "\\u2028"), ("\u202e", "\\u202e"),
    ("\u2066", "\\u2066"), ("a\\b", "a\\\\b"), ("照片/猫.png", "照片/猫.png"), ("plain key.png", "plain key.png"),
])
def test_terminal_shows_each_control_character_as_a_visible_escape(text, shown):
    assert terminal(text) == shown


@examples(default=200, soak=5000)
@given(st.text())
def test_terminal_output_holds_nothing_a_terminal_acts_on_and_reads_back(text):
    shown = terminal(text)
    assert not ACTIVE.search(shown) and "\n" not in shown
    # Unambiguous: Python reads the escapes back (a backslash is doubled, so no key can imitate an escape).
    assert shown.encode("latin-1", "backslashreplace").decode("unicode_escape") == text


def test_jobs_get_shows_hostile_keys_and_message_on_one_row_each(emulator_bucket, emulator):
    job = seed_job(emulator, XML_KEYS, state="Failed", message=MESSAGE)
    code, out, _ = cli(emulator, "jobs", "get", job)
    assert code == 1
    assert not ACTIVE.search(out)
    rows = table_rows(out, "OBJECT")
    assert len(rows) == len(XML_KEYS) and all(row.startswith("uploads/") for row in rows)
    assert "uploads/a\\rFORGED" in rows[0]  # the client reads a raw CR back exactly (test_hostile_key_results)
    assert [line for line in out.split("\n") if line.startswith("message")] == ["message  boom\\nFORGED  line\\x9b31m"]


def test_jobs_list_and_report_show_a_hostile_name_and_message_on_one_row(emulator_bucket, emulator):
    job = seed_job(emulator, XML_KEYS, state="Failed", message=MESSAGE)
    with emulator.backend.lock:
        emulator.backend.jobs[job].name = "autopilot-x\u2028FORGED\x9b2J"
    code, out, _ = cli(emulator, "jobs", "list", "--since", "1d")
    assert not ACTIVE.search(out) and len([line for line in out.split("\n") if line.startswith(job)]) == 1
    code, out, _ = cli(emulator, "report", "--since", "1d")
    assert code == 1 and not ACTIVE.search(out)
    assert len(table_rows(out, "FAILED")[1:]) == 1  # under FAILED (1): its header, rule, one row
    assert len([line for line in out.split("\n") if line.startswith(job)]) == 1 + len(XML_KEYS)


def test_submit_dry_run_shows_a_skipped_keys_escape_sequence_visibly(emulator_bucket, emulator, tmp_path):
    key = "uploads/x\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r\x1b[2K.txt"  # an OSC 8 link, a line wipe
    path = tmp_path / "event.json"
    path.write_text(json.dumps(cos_event([key])), encoding="utf-8")
    code, out, err = cli(emulator, "submit", "--dry-run", "--event", str(path))
    assert code == 0
    assert not ACTIVE.search(out + err)
    assert "\\x1b]8;;https://evil.example\\x07click" in out + err


@examples(default=8, soak=200)
@given(middle=st.text(alphabet=st.sampled_from(list("\t\r\n\x85\x9b\u2028\u2029\u202e\u2066 ab|")), min_size=1,
                      max_size=10))
def test_generated_keys_never_reach_the_terminal_raw(emulator_bucket, emulator, middle):
    fresh_bucket(emulator, lambda: EMULATOR_NOW)
    job = seed_job(emulator, [f"uploads/g{middle}.png"])
    _, out, _ = cli(emulator, "jobs", "get", job)
    assert not ACTIVE.search(out)
    assert len(table_rows(out, "OBJECT")) == 1


def test_json_output_and_log_lines_write_what_a_terminal_acts_on_as_json_escapes(emulator_bucket, emulator, tmp_path):
    """JSON escapes C0 controls itself but leaves C1, U+2028 and bidi overrides raw (RFC 8259 §7): `invoke` writes
    the handler's log lines to stderr and its result to stdout, `jobs get --json` the job; both stay JSON."""
    # A key with C1 controls or U+2028 goes to CI in a UrlFile line (test_upload_keys_on_the_wire), so the key that
    # travels as Object=... in the result and the log lines carries the bidi overrides JSON leaves raw.
    uploaded = "uploads/r\u202e\u2066gnp.png"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(cos_event([uploaded])), encoding="utf-8")
    _, out, err = cli(emulator, "invoke", "submit", str(path))
    assert not ACTIVE.search(out + err)
    assert json.loads(out)["jobs"][0]["input"] == f"Object={uploaded}"
    assert f"Object={uploaded}" in [json.loads(line).get("input") for line in err.splitlines() if line.startswith("{")]
    key = "uploads/r\x9b2J\x85\u2028\u202egnp.png"
    job = seed_job(emulator, [key])
    _, out, _ = cli(emulator, "jobs", "get", job, "--json")
    assert not ACTIVE.search(out) and json.loads(out)["objects"]["objects"][0]["key"] == key
