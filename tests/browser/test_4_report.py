"""The instructor's report (`autograder report`) opened in Chromium as a static file: the two
charts render, the sections are there, and a student's row links to their feedback."""
from __future__ import annotations

import pytest

from autograder.term import report
import jacobians_course
from autograder.course.directory import load_course


@pytest.fixture(scope="module")
def report_page(graded_class):
    return report.write_report(load_course(str(graded_class)), jacobians_course.ASSIGNMENT)[0]


def test_report_renders_and_links_to_feedback(report_page, new_page, shots):
    page = new_page()
    page.goto("file://" + report_page)
    page.get_by_role("heading", name="jacobians: grading report").wait_for()
    # both charts decoded by the browser (an inline PNG that fails to decode has width 0)
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) == 2 and min(widths) > 300
    for heading in ("Answers per exercise", "Exercises", "Most common diagnoses (attempted answers)",
                    "What these mistakes look like", "Answers worth a second look", "Students",
                    "Problems"):
        assert page.get_by_role("heading", name=heading, exact=True).count() == 1
    assert page.get_by_text("awaiting manual grading (4 of 5)").count() == 4
    shots(page, "report", full_page=True)

    page.get_by_role("link", name="jacobian 7").click()
    page.wait_for_load_state()
    assert page.url.endswith("/feedback/ada/jacobians/jacobian.html")
    assert "jacobian_by_hand" in page.content()
    shots(page, "feedback of ada")
