"""A CSV file as an LMS or a spreadsheet program wrote it, read and written back in its own form.

Canvas exports UTF-8, with a byte-order mark if the user asked for one, separated by commas or
(a Canvas setting) semicolons, and reads either back. Excel on Windows re-saves "CSV" in
Windows-1252. Anything else (a workbook, an image) is named for what it is, never guessed at.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

DELIMITERS = (",", ";", "\t")
BOM = "\ufeff"
# what a file that is not text starts with, and what to say about it
NOT_CSV = {b"PK\x03\x04": "a zip archive (an Excel .xlsx or OpenDocument workbook?)",
           b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook",
           b"%PDF": "a PDF"}
SAVE_AS = "export it from Canvas again (Grades > Export), or save it from your spreadsheet as 'CSV UTF-8'"


class BadFile(Exception):
    """One line saying what is wrong with the file."""


@dataclass
class Table:
    rows: list[list[str]]
    delimiter: str = ","
    bom: bool = False          # write a byte-order mark back (Excel then reads UTF-8 right)
    encoding: str = "utf-8"    # what the file was read as


def read(path: str) -> Table:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise BadFile(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadFile(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise BadFile(f"{path}: cannot read it ({exc.strerror})") from None
    for magic, what in NOT_CSV.items():
        if raw.startswith(magic):
            raise BadFile(f"{path} is {what}, not a CSV file: {SAVE_AS}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, encoding = raw.decode("utf-16"), "utf-16"     # Excel's "Unicode Text"
    elif b"\0" in raw:
        raise BadFile(f"{path} is not a text file: {SAVE_AS}")
    else:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = raw.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                raise BadFile(f"{path} is neither UTF-8 nor Windows-1252 text: {SAVE_AS}") from None
    bom = text.startswith(BOM)
    text = text.removeprefix(BOM)
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=lambda d: len(next(csv.reader([first], delimiter=d), [])))
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise BadFile(f"{path}: not readable as CSV ({exc})") from None
    # a file from Windows is written back as UTF-8 (what Canvas reads) with a BOM for Excel
    return Table(rows, delimiter, bom or encoding != "utf-8", encoding)


def check_writable(path: str) -> None:
    """Fail before any work if path cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise BadFile(f"{path}: is a folder; give a file name to write")
    if not os.path.isdir(folder):
        raise BadFile(f"cannot write {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise BadFile(f"cannot write {path}: permission denied")


def write(path: str, table: Table) -> None:
    """The rows, in the table's delimiter, UTF-8 (with a BOM if the table says so)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", newline="", encoding="utf-8-sig" if table.bom else "utf-8") as fh:
        csv.writer(fh, delimiter=table.delimiter).writerows(table.rows)
    os.replace(tmp, path)
