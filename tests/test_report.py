"""`autograder report`: HTML (plot embedded) and CSV from the gradebook and the writer's sidecars."""
from __future__ import annotations

import csv
import re

from autograder import report
from autograder.gradebook import load_course

from test_batch import ASG, course, run, submit, template_course  # noqa: F401  (fixtures)


def test_report_html_and_csv(course, tmp_path):  # noqa: F811
    submit(course, "zoe", {"one": "# score: 0", "two": "# score: 0"})
    run(course)
    out = tmp_path / "rep"
    paths = report.write_report(load_course(str(course)), ASG, str(out))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["report.html", "scores.csv", "diagnoses.csv"]
    page = (out / "report.html").read_text()
    # self-contained: the plot is an inline PNG, nothing is fetched
    png = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert png and len(png.group(1)) > 1000
    assert "http" not in page.replace("http-equiv", "")
    # per-exercise mean and pass rate: test_alpha scored 2, 1, 2, 2, 0 of 2 -> mean 1.40, 60% full marks
    row = re.search(r"<tr><td>alpha</td><td>one</td><td class='n'>2</td><td class='n'>([\d.]+)</td>"
                    r"<td class='n'>(\d+)%</td><td class='n'>(\d+)</td>", page)
    assert row and row.groups() == ("1.40", "60", "5")
    # most common diagnoses, counted in students: bob and zoe transposed both exercises
    assert "<td>alpha</td><td>transposed Jacobian</td><td class='n'>2</td><td>bob, zoe</td>" in page
    # problems: carol did not submit notebook two
    assert "two.ipynb was not submitted" in page

    rows = list(csv.DictReader(open(out / "scores.csv")))
    by = {r["student"]: r for r in rows}
    assert by["alice"]["total"] == "5" and by["bob"]["test_alpha"] == "1"
    # dave was late and penalty_method = "zero": his total is 0 after the penalty
    assert by["dave"]["late_penalty"] == "5" and by["dave"]["total"] == "0"
    diags = list(csv.DictReader(open(out / "diagnoses.csv")))
    assert {"exercise": "beta", "diagnosis": "transposed Jacobian", "students": "2",
            "who": "bob zoe"} in diags
