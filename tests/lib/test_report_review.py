"""The report's side of the review loop, rendered: how many flagged images await review in every target, each HTML
row's restore and release commands (shell-quoted for the CLI's own parser, then HTML-escaped), and the warning that
this bucket's automatic deletes cannot be undone, shown only when lib.irreversible says so.

Regenerate the golden files after an intended change with `UPDATE_GOLDEN=1 pytest tests/lib/test_report_review.py`."""
from __future__ import annotations

import json
import re
import shlex
from typing import List, Optional

import pytest

from lib import escape
from lib.config import WEBHOOK_FORMATS, load_settings
from lib.errors import CloudApiError
from lib.irreversible import irreversible_note
from lib.report.html import render_html
from lib.report.models import FlaggedReview, JobObjects, ObjectLine, ReportSummary
from lib.report.render import (
    FLAGGED_LIST,
    render_markdown,
    render_message,
    render_summary_table,
    review_command,
    review_text,
    webhook_payload,
)
from lib.report.review import irreversible_line, review_flags, status_of
from lib.report.tally import Tally
from lib.review import ReviewRecord
from ops.cli import build_parser
from tests.support.pages import PageParts
from tests.support.reports import END, check_golden, sample_summary
from tests.support.settings import ENV

# Keys an uploader may choose, each aimed at one way a command or a page could be broken.
HOSTILE_KEYS = ["uploads/it's.png", "uploads/<script>alert(1)</script>.png", "uploads/two\nlines.png",
                "-rf.png", "uploads/$(rm -rf ~)`id`.png", "uploads/a b;c&d|e.png", "uploads/\"quoted\"\\.png"]
DELETES = {"INSPECT_AUTO_PROCESS": "true", "INSPECT_PROCESS_TYPE": "DeleteObject"}
IRREVERSIBLE = irreversible_note(load_settings({**ENV, **DELETES}), "")


def flagged(key: str, review: Optional[str]) -> ObjectLine:
    return ObjectLine(key=key, state="Success", suspicious=True, suspicious_type="MPEG-TS", begin_byte=120,
                      end_byte=1097475, suspicious_size=1097356, action="Success BackupObject", review=review)


def reviewed_summary(keys: List[str], statuses: List[Optional[str]], **changes) -> ReportSummary:
    """The sample report whose one job flagged `keys`, each with its review status, and the counts they make."""
    lines = [flagged(k, s) for k, s in zip(keys, statuses)]
    lines.append(ObjectLine(key="uploads/huge.png", state="Failed", error="Failed image too large"))
    job = JobObjects(job_id="b00000000000000000000000000000003", name="autopilot-hourly-x", kind="ImageInspect",
                     by_state={"Failed": 1, "Success": len(keys)}, suspicious=len(keys), acted=len(keys),
                     objects=lines, created=END)
    review = FlaggedReview(pending=statuses.count("pending"), restored=statuses.count("restored"),
                           released=statuses.count("released"))
    counts = {"review": review, "jobs_with_objects": [job],
              "objects": sample_summary().objects.model_copy(update={"suspicious": len(keys), "acted": len(keys)})}
    return sample_summary(**{**counts, **changes})


def three_flags(**changes) -> ReportSummary:
    return reviewed_summary(["uploads/cat.png", "uploads/dog.png", "uploads/fox.png"],
                            ["pending", "restored", "pending"], **changes)


def every_target(summary: ReportSummary) -> dict:
    """Each rendering of the report, by name: the Markdown object, the HTML page's text, the terminal table and
    every chat payload's message."""
    out = {"markdown": render_markdown(summary), "table": render_summary_table(summary),
           "html": "".join(PageParts(render_html(summary)).text)}
    for style in ("markdown", "mrkdwn", "text"):
        out[f"chat-{style}"] = render_message(summary, style=style)
    return out


# --- the count ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("review", "text"), [
    (FlaggedReview(pending=1), "1 flagged image awaits review"),
    (FlaggedReview(pending=2, restored=1, released=3), "2 flagged images await review (1 restored, 3 released)"),
    (FlaggedReview(pending=0, released=1), "0 flagged images await review (1 released)"),
    (FlaggedReview(pending=1, unlisted=150),
     "1 flagged image awaits review; 150 more flagged images past the report's lists not checked"),
    (FlaggedReview(pending=None), "whether the flagged images await review is unknown: the review records could not "
                                  "be read"),
])
def test_the_review_count_reads_as_one_sentence(review, text):
    assert review_text(review) == text


@pytest.mark.parametrize("target", ["markdown", "table", "html", "chat-markdown", "chat-mrkdwn", "chat-text"])
def test_every_target_says_how_many_flagged_images_await_review_and_how_to_list_them(target):
    text = every_target(three_flags())[target]
    assert "2 flagged images await review (1 restored)" in text and FLAGGED_LIST in text


def test_the_json_summary_carries_the_counts_and_each_flags_status():
    body = webhook_payload("json", three_flags())
    assert body["review"] == {"pending": 2, "restored": 1, "released": 0, "unlisted": 0}
    assert [o["review"] for o in body["jobs_with_objects"][0]["objects"]] == ["pending", "restored", "pending", None]


def test_a_report_with_nothing_flagged_says_nothing_of_review():
    summary = sample_summary(review=None, jobs_with_objects=[])
    assert not any("await" in text for text in every_target(summary).values())


@pytest.mark.parametrize(("decision", "status"), [(None, "pending"), ("restoring", "restored"),
                                                  ("restored", "restored"), ("releasing", "released"),
                                                  ("released", "released")])
def test_a_decision_under_way_counts_as_made_as_flagged_list_shows_it(decision, status):
    record = None if decision is None else ReviewRecord(key="k", etag="e", decision=decision, decided_at=END)
    assert status_of(record) == status


class Unreadable:
    """A client whose every listing is refused."""

    def list_keys(self, prefix: str) -> List[str]:
        raise CloudApiError("GetBucket", 403, "AccessDenied", f"no cos:GetBucket on {prefix}")


def test_review_records_that_cannot_be_read_leave_each_status_unknown_and_the_report_incomplete():
    tally = Tally()
    jobs = reviewed_summary(["uploads/cat.png"], [None]).jobs_with_objects
    out, review = review_flags(load_settings(ENV), Unreadable(), jobs, 1, lambda: END, tally)
    assert review == FlaggedReview(pending=None) and out == jobs
    assert tally.incomplete and tally.notes[0].startswith("review records under autopilot/reviewed/ could not be read")


def test_flags_past_the_reports_lists_are_counted_unchecked_without_a_call():
    out, review = review_flags(load_settings(ENV), Unreadable(), [], 150, lambda: END, Tally())
    assert (out, review) == ([], FlaggedReview(pending=0, unlisted=150))


# --- the commands -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["restore", "release"])
@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_review_command_hands_the_cli_exactly_the_key(verb, key):
    argv = shlex.split(review_command(verb, key))
    assert argv[:3] == ["python", "-m", "ops"]
    args = build_parser().parse_args(argv[3:])
    assert (args.command, args.flagged_command, args.key, args.yes) == ("flagged", verb, key, False)


def test_the_list_command_the_report_names_is_the_clis():
    args = build_parser().parse_args(shlex.split(FLAGGED_LIST)[3:])
    assert (args.command, args.flagged_command) == ("flagged", "list")


def review_cells(summary: ReportSummary) -> List[str]:
    page = PageParts(render_html(summary))
    return [text for attrs, text in page.cells if attrs.get("data-label") == "Review"]


def test_each_flagged_row_of_the_page_carries_its_status_and_both_commands():
    assert review_cells(three_flags()) == [
        f"{status}{review_command('restore', key)}{review_command('release', key)}"
        for key, status in (("uploads/cat.png", "pending"), ("uploads/dog.png", "restored"),
                            ("uploads/fox.png", "pending"))] + [""]  # the failed object: nothing to review


def test_hostile_keys_reach_the_page_as_the_commands_text_and_never_as_markup():
    html = render_html(reviewed_summary(HOSTILE_KEYS, ["pending"] * len(HOSTILE_KEYS)))
    page = PageParts(html)
    assert not page.named("script") and not [attrs for _, attrs in page.tags if any(a.startswith("on") for a in attrs)]
    cells = [text for attrs, text in page.cells if attrs.get("data-label") == "Review"]
    assert cells[:-1] == [f"pending{review_command('restore', k)}{review_command('release', k)}" for k in HOSTILE_KEYS]
    assert "uploads/two\nlines.png" in cells[2]  # the line break is kept, shown by pre-wrap, so a copy is exact


@pytest.mark.parametrize("target", ["markdown", "table", "chat-markdown", "chat-mrkdwn", "chat-text"])
def test_a_hostile_key_beside_its_review_status_starts_no_line_in_a_text_target(target):
    text = every_target(reviewed_summary(HOSTILE_KEYS, ["pending"] * len(HOSTILE_KEYS)))[target]
    assert "pending" in text  # the status column or item is there
    assert not [line for line in text.splitlines() if line.startswith("lines.png")]


def test_a_review_cell_is_an_identifier_cell_that_breaks_anywhere():
    page = PageParts(render_html(three_flags()))
    assert {attrs.get("class") for attrs, _ in page.cells if attrs.get("data-label") == "Review"} == {"wrap"}


def test_a_review_cell_holds_one_element_so_a_phones_card_shows_it_beside_its_label():
    # Below 600 px a cell is a two-column grid, its label and one value: two commands as loose children would
    # take the label's column.
    inner = re.findall(r'<td data-label="Review"[^>]*>(.*?)</td>', render_html(three_flags()), re.S)
    assert len(inner) == 4 and inner[-1] == ""
    assert all(re.fullmatch(r"<div>[^<]*(<code class=\"cmd\">[^<]*</code>){2}</div>", cell) for cell in inner[:-1])


def test_a_page_whose_objects_only_failed_has_no_review_column():
    summary = sample_summary(jobs_with_objects=[sample_summary().jobs_with_objects[0].model_copy(
        update={"objects": [sample_summary().jobs_with_objects[0].objects[1]]})])
    assert review_cells(summary) == [] and "Review" not in render_markdown(summary)


def test_a_flag_whose_review_was_not_read_shows_unknown_and_still_the_commands():
    assert review_cells(reviewed_summary(["uploads/cat.png"], [None]))[0].startswith("unknownpython -m ops flagged")


# --- irreversible deletes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["markdown", "table", "html", "chat-markdown", "chat-mrkdwn", "chat-text"])
def test_every_target_warns_when_deletes_on_this_bucket_cannot_be_undone(target):
    assert IRREVERSIBLE.startswith("deletes on this bucket cannot be undone")
    shown = escape.markdown_text(IRREVERSIBLE) if target == "markdown" else IRREVERSIBLE  # `_` escaped in Markdown
    assert shown in every_target(three_flags(irreversible=IRREVERSIBLE))[target]


@pytest.mark.parametrize("target", ["markdown", "table", "html", "chat-markdown", "chat-mrkdwn", "chat-text"])
def test_no_target_warns_when_the_summary_holds_no_warning(target):
    assert "cannot be undone" not in every_target(three_flags())[target]


def test_the_warning_survives_a_chat_message_cut_to_its_limit():
    summary = three_flags(irreversible=IRREVERSIBLE, notes=["x" * 3000, "y" * 3000])
    assert IRREVERSIBLE in render_message(summary, limit=1000)


class Versioning:
    """A client whose only call is GET Bucket versioning: the status it answers, or the error it raises."""

    def __init__(self, status: str = "", error: Optional[Exception] = None):
        self.status, self.error, self.calls = status, error, 0

    def bucket_versioning(self) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.status


@pytest.mark.parametrize("settings", [{}, {"INSPECT_AUTO_PROCESS": "true"},
                                      {"INSPECT_PROCESS_TYPE": "DeleteObject"},
                                      {**DELETES, "JOB_TYPE": "Workflow", "WORKFLOW_IDS": "w" + "0" * 32}])
def test_settings_that_delete_nothing_read_no_versioning(settings):
    client = Versioning()
    assert irreversible_line(load_settings({**ENV, **settings}), client, Tally()) == "" and client.calls == 0


@pytest.mark.parametrize(("status", "allow", "warned"), [("", "false", True), ("Suspended", "false", True),
                                                         ("", "true", True), ("Enabled", "false", False)])
def test_deletes_are_named_irreversible_unless_versioning_is_enabled(status, allow, warned):
    client = Versioning(status)
    line = irreversible_line(load_settings({**ENV, **DELETES, "ALLOW_IRREVERSIBLE_DELETE": allow}), client, Tally())
    assert client.calls == 1 and line.startswith("deletes on this bucket cannot be undone") is warned
    assert (line == "") is not warned


def test_versioning_that_cannot_be_read_is_a_note_not_a_failed_report():
    tally = Tally()
    error = CloudApiError("GetBucketVersioning", 403, "AccessDenied", "no cos:GetBucketVersioning", "req-1")
    line = irreversible_line(load_settings({**ENV, **DELETES}), Versioning(error=error), tally)
    assert line == "" and len(tally.notes) == 1 and "bucket versioning could not be read" in tally.notes[0]
    assert not tally.incomplete and not tally.tampered


# --- golden files -----------------------------------------------------------------------------------------


def test_markdown_with_review_and_the_warning_matches_its_golden_file():
    check_golden("report-review.md", render_markdown(three_flags(irreversible=IRREVERSIBLE)))


def test_terminal_table_with_review_and_the_warning_matches_its_golden_file():
    check_golden("report-review-table.txt", render_summary_table(three_flags(irreversible=IRREVERSIBLE)))


@pytest.mark.parametrize("fmt", [f for f in WEBHOOK_FORMATS if f != "json"])
def test_chat_message_with_review_and_the_warning_matches_its_golden_file(fmt):
    payload = webhook_payload(fmt, three_flags(irreversible=IRREVERSIBLE))
    check_golden(f"webhook-{fmt}-review.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
