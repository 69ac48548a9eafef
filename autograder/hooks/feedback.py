"""The HTML feedback ``nbgrader generate_feedback`` writes, as students should read it.

* ``MarkUngraded``, a GenerateFeedback preprocessor run after nbgrader's ``GetGrades``: a
  written answer (any cell graded by hand) the instructor has not graded yet is marked
  ``autograder_ungraded`` in its metadata, and ``resources["nbgrader"]["pending_points"]``
  counts its points, so the page says "not graded yet" where nbgrader would show 0.
* ``RenderMath``: the LaTeX of markdown cells becomes MathML (latex2mathml) when the page is
  written, so it reads without a script, offline and in the Lab's sandboxed HTML viewer.
* ``FeedbackExporter``: nbgrader's HTML exporter with our template (``templates/``), which
  extends nbgrader's feedback page to show both and loads no MathJax.

Imports nbgrader, nbconvert, jinja2 and, when a page is written, latex2mathml.
"""
from __future__ import annotations

import functools
import os
import re

from jinja2 import FileSystemLoader, PrefixLoader
from nbconvert.exporters import HTMLExporter
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import default

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE_NAME = "autograder_feedback"
NBGRADER_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(utils.__file__)),
                                  "server_extensions", "formgrader", "templates")

# What is not math in markdown comes first, so that it is skipped whole: fenced code blocks,
# code spans, escaped backslashes and dollars. An inline $...$ opens on no space, closes on no
# space before a non-digit and spans no blank line, so "$5 and $10" stays text (pandoc's rule).
# A formula is at most 2,000 characters and a code span 10,000: a student's answer of many
# openers and no closer would otherwise cost time quadratic in its length, in the process that
# writes every student's feedback.
MARKDOWN_MATH = re.compile(r"""
      (?P<fenced> ^[ ]{0,3}(?P<fence>`{3,}|~{3,}) .*? (?:^[ ]{0,3}(?P=fence)|\Z) )
    | (?P<code_span> (?P<ticks>`+) .{1,10000}? (?P=ticks) )
    | (?P<escaped> \\[\\$] )
    | \$\$ (?P<display_dollars> .{1,2000}? ) \$\$
    | \\\[ (?P<display_brackets> .{1,2000}? ) \\\]
    | \\\( (?P<inline_parens> .{1,2000}? ) \\\)
    | \$ (?P<inline_dollars> [^\s$] (?:[^$\\\n]|\\.|\n(?![ \t]*\n)){0,2000}? ) (?<!\s) \$ (?!\d)
""", re.VERBOSE | re.DOTALL | re.MULTILINE)
# The markdown of one notebook converted at most (the course's text is a few tens of thousands of
# characters); past it, an essay or an attack on the feedback's writer keeps its LaTeX.
MAX_MARKDOWN = 200_000
# the formula's group -> how latex2mathml lays it out
FORMULA_DISPLAY = {"display_dollars": "block", "display_brackets": "block",
                   "inline_parens": "inline", "inline_dollars": "inline"}


class MarkUngraded(NbGraderPreprocessor):
    """Mark the cells graded by hand that are not graded yet, and count their points."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        pending_points = 0.0
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                # test cells are graded automatically: their score is always final
                if not (utils.is_task(cell) or (utils.is_grade(cell) and utils.is_solution(cell))):
                    continue
                grade = gb.find_grade(cell.metadata.nbgrader["grade_id"], info["notebook"],
                                      info["assignment"], info["student"])
                if grade.needs_manual_grade and grade.manual_score is None:
                    cell.metadata.nbgrader["autograder_ungraded"] = True
                    pending_points += grade.max_score
        info["pending_points"] = pending_points
        return nb, resources


class RenderMath(NbGraderPreprocessor):
    """Turn the ``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]`` of markdown cells, and of
    the grader's comments, into MathML; a formula latex2mathml cannot read stays as its LaTeX,
    with a warning."""

    _budget = MAX_MARKDOWN     # what is left of it in this notebook

    def preprocess(self, nb, resources):
        self._budget = MAX_MARKDOWN
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = self._rendered(cell.source)
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("comment"):         # the grader's, from the gradebook (GetGrades): markdown too
            meta["comment"] = self._rendered(meta["comment"])
        return cell, resources

    def _rendered(self, markdown: str) -> str:
        if len(markdown) > self._budget:
            if self._budget >= 0:
                self.log.warning("math left as LaTeX past the first %d characters of markdown", MAX_MARKDOWN)
            self._budget = -1
            return markdown
        self._budget -= len(markdown)
        return MARKDOWN_MATH.sub(self._mathml, markdown)

    def _mathml(self, match: re.Match) -> str:
        formula = match.lastgroup
        if formula not in FORMULA_DISPLAY:      # code or an escape: as written
            return match.group(0)
        try:
            mathml = _converted(match.group(formula), FORMULA_DISPLAY[formula])
        # latex2mathml raises a variety of errors on LaTeX it does not know; any of them
        # leaves this one formula as the student would have typed it
        except Exception as error:  # noqa: BLE001
            self.log.warning("formula left as LaTeX, latex2mathml cannot read it (%r): %s", error, match.group(0))
            return match.group(0)
        # markdown reads "$" as math again and "\" as an escape: spell them as entities
        return mathml.replace("$", "&#x00024;").replace("\\", "&#x0005C;")


# Every student's page has the same markdown cells: each formula is converted once per command.
@functools.lru_cache(maxsize=4096)
def _converted(latex: str, display: str) -> str:
    from latex2mathml.converter import convert

    return convert(latex, display=display)


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter with our template. Its own class, so that its configuration
    (``c.FeedbackExporter`` in nbgrader_config.py) wins over the ``HTMLExporter`` settings
    nbgrader and the Formgrader give, and leaves the Formgrader's own pages alone."""

    @default("extra_loaders")
    def _nbgrader_templates(self):
        # our page is index.html.j2 as nbgrader's is: it reaches nbgrader's as "nbgrader/..."
        return [PrefixLoader({"nbgrader": FileSystemLoader(NBGRADER_TEMPLATES)})]
