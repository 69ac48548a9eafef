"""Reading a submitted notebook file, whatever the student made of it.

A file that is not a notebook (missing, empty, a link or a device, invalid JSON, an
unconvertible version) raises ``BadSubmission`` with a sentence for the student. A notebook
that nbformat rejects only for some malformed cells is kept, with those cells' fields made
well typed or left for planning to drop, so one broken cell does not cost the whole notebook.
"""
from __future__ import annotations

import nbformat

from autograder.intake.files import NotRegularFile, read_regular


class BadSubmission(Exception):
    """The submitted file cannot be read as a notebook; the message says why, for the student."""


def read_submission(path: str) -> nbformat.NotebookNode:
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise BadSubmission("the notebook was not submitted") from None
    except NotRegularFile as exc:
        raise BadSubmission(str(exc)) from None
    if not raw:
        raise BadSubmission("the submitted notebook is an empty (0-byte) file")
    try:
        return _parse(raw)
    except RecursionError:
        raise BadSubmission("the submitted file is not a readable notebook (its JSON is nested too deeply)") from None


def _parse(raw: bytes) -> nbformat.NotebookNode:
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=nbformat.NO_CONVERT)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the student's file, said in words
        nb = _lenient_read(raw)
        if nb is None:
            raise BadSubmission(f"the submitted file is not a readable notebook ({type(exc).__name__}: "
                                f"{str(exc)[:200]})") from None
    if nb.get("nbformat", 0) < 4:
        try:
            nb = nbformat.convert(nb, 4)
        except Exception:  # noqa: BLE001
            raise BadSubmission(f"the notebook uses nbformat {nb.get('nbformat')}, which cannot be upgraded") from None
    if not isinstance(nb.get("cells"), list):
        raise BadSubmission("the notebook has no cells")
    # nbformat lets some malformed cells through (one without a source, say)
    nb.cells = [nbformat.from_dict(_well_typed(cell)) if isinstance(cell, dict) else cell for cell in nb.cells]
    return nb


def _lenient_read(raw: bytes):
    """A version-4 notebook JSON that nbformat rejects only for some malformed cells: keep it,
    so that planning drops those cells (and says so) instead of failing the whole notebook.
    Of the notebook's own fields only the ones nbformat needs are kept, well typed."""
    import json
    try:
        data = json.loads(raw.decode("utf-8"))
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(data, dict) or data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        return None
    minor = data.get("nbformat_minor")
    data = {"nbformat": 4, "nbformat_minor": minor if type(minor) is int else nbformat.v4.nbformat_minor,
            "metadata": data["metadata"] if isinstance(data.get("metadata"), dict) else {},
            "cells": data["cells"]}
    return nbformat.from_dict(data)


def _well_typed(cell: dict) -> dict:
    """The fields of a cell that grading and writing the notebook use, each of the right type
    (outputs that are not dicts, attachments and ids that are not well formed are dropped,
    and so is grading metadata without a string grade_id: the cell is then an ordinary one)."""
    source = cell.get("source", "")
    metadata = cell["metadata"] if isinstance(cell.get("metadata"), dict) else {}
    grading = metadata.get("nbgrader", {})
    if not isinstance(grading, dict) or not isinstance(grading.get("grade_id", ""), str):
        metadata = {k: v for k, v in metadata.items() if k != "nbgrader"}
    kept = {"cell_type": cell.get("cell_type"),
            "source": "".join(map(str, source)) if isinstance(source, list) else str(source),
            "metadata": metadata}
    if isinstance(cell.get("id"), str):
        kept["id"] = cell["id"]
    attachments = cell.get("attachments")
    if isinstance(attachments, dict) and all(isinstance(a, dict) for a in attachments.values()):
        kept["attachments"] = attachments
    if kept["cell_type"] == "code":
        # grading replaces them with the child's; only `nbgrader autograde --no-execute` reads them
        outputs, count = cell.get("outputs"), cell.get("execution_count")
        kept["outputs"] = [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []
        kept["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return kept


def is_cell(cell) -> bool:
    """A cell grading can use; any other entry of a notebook's cell list is dropped."""
    return isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw")
