"""Answers worth a second look: pairs of students whose code for an exercise is nearly the same.

MOSS's method (Schleimer, Wilkerson, Aiken, "Winnowing", SIGMOD 2003) on each exercise's
answers: the code is tokenised with Python's own tokenizer and normalised (names become `N`
except keywords and attribute names, numbers `0`, strings `S`; comments and layout dropped),
hashed in k-grams of tokens, and winnowed to fingerprints. What does not count:

* the release's starter text of the cell (every student was given it);
* fingerprints that many students share (`common_fraction` of the class, at least 3): a
  correct answer written the natural way is common knowledge, not a sign of copying (MOSS's
  `-m`);
* answers with fewer than `min_tokens` tokens left: too short to mean anything.

A pair is listed when they share at least `min_shared` fingerprints and `min_share` of the
fingerprints (class-common ones left out) of the answer that has fewer.
Similar code has innocent explanations (a study group, the same tutorial); this module only
points at code to look at.

Why not `copydetect`: it compares files, has no notion of passages common to much of a class
(every correct one-line answer would match every other), and maps matches to character
ranges of files rather than to the lines of one function; the part of it this needs is the
fifty lines below, on the standard library.
"""
from __future__ import annotations

import hashlib
import io
import keyword
import math
import os
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field

from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from autograder.term import answers
from autograder.intake.notebook_text import answer_cells

SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass
class Match:
    exercise: str
    notebook: str
    share: float                       # of the fingerprints (not class-common) of the answer with fewer
    code: dict[str, str]               # student -> their answer
    lines: dict[str, set[int]]         # student -> lines (1-based) holding shared code


@dataclass
class Pair:
    students: tuple[str, str]
    matches: list[Match] = field(default_factory=list)


def tokens(source: str) -> list[tuple[str, int, int]]:
    """(normalised token, first line, last line) for the code in source; code that does not
    tokenise to the end keeps the tokens read before the error."""
    out = []
    prev = ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in SKIP:
                continue
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and prev != ".":
                text = "N"
            elif tok.type == tokenize.NUMBER:
                text = "0"
            elif tok.type == tokenize.STRING:
                text = "S"
            else:
                text = tok.string
            out.append((text, tok.start[0], tok.end[0]))
            prev = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


class Similarity(LoggingConfigurable):
    """Fingerprints of each exercise's answers, compared across the class."""

    k = Integer(6, help="Tokens per k-gram: shorter shared runs are not seen.").tag(config=True)
    window = Integer(4, help="Winnowing window (in k-grams): any shared run of k + window - 1 "
                             "tokens yields at least one shared fingerprint.").tag(config=True)
    min_tokens = Integer(30, help="Answers with fewer tokens (starter text removed) are too "
                                  "short to compare.").tag(config=True)
    min_share = Float(0.6, help="List a pair when this share of the fingerprints of the answer "
                                "with fewer (class-common ones left out) is shared.").tag(config=True)
    min_shared = Integer(5, help="... and at least this many fingerprints are shared.").tag(config=True)
    common_fraction = Float(0.2, help="Ignore fingerprints found in more than this share of "
                                      "the class (and in more than 2 students).").tag(config=True)

    def fingerprints(self, source: str, starter: str = "") -> dict[int, set[int]]:
        """hash -> lines it covers, for the winnowed k-grams of source not in starter."""
        toks = tokens(source)
        if len(toks) < self.min_tokens:
            return {}
        given = {h for h, _, _ in self._kgrams(tokens(starter))}
        grams = self._kgrams(toks)
        if len(grams) - sum(1 for h, _, _ in grams if h in given) < self.min_tokens - self.k + 1:
            return {}
        lines = source.splitlines()
        given_lines = {ln.strip() for ln in starter.splitlines()}
        own = {i + 1 for i, ln in enumerate(lines)
               if ln.strip() not in given_lines and not ln.strip().startswith("#")}
        out: dict[int, set[int]] = defaultdict(set)
        for i in range(max(len(grams) - self.window + 1, 1)):
            h, first, last = min(grams[i:i + self.window], key=lambda g: g[0])
            if h not in given:
                out[h].update(own.intersection(range(first, last + 1)))
        return dict(out)

    def _kgrams(self, toks: list[tuple[str, int, int]]) -> list[tuple[int, int, int]]:
        grams = []
        for i in range(len(toks) - self.k + 1):
            run = toks[i:i + self.k]
            digest = hashlib.blake2b(" ".join(t for t, _, _ in run).encode(), digest_size=8).digest()
            grams.append((int.from_bytes(digest, "big"), run[0][1], run[-1][2]))
        return grams

    def compare(self, answers_by_student: dict[str, str], starter: str = "", *,
                exercise: str = "", notebook: str = "") -> list[tuple[tuple[str, str], Match]]:
        """Pairs of students whose answers to one exercise are nearly the same."""
        prints = {s: self.fingerprints(src, starter) for s, src in answers_by_student.items()}
        prints = {s: fp for s, fp in prints.items() if fp}
        seen_in: dict[int, int] = defaultdict(int)
        for fp in prints.values():
            for h in fp:
                seen_in[h] += 1
        limit = max(2, math.floor(self.common_fraction * len(answers_by_student)))
        rare = {s: {h: ln for h, ln in fp.items() if seen_in[h] <= limit} for s, fp in prints.items()}
        found = []
        students = sorted(rare)
        for i, a in enumerate(students):
            for b in students[i + 1:]:
                shared = rare[a].keys() & rare[b].keys()
                if len(shared) < self.min_shared:
                    continue
                share = len(shared) / min(len(rare[a]), len(rare[b]))
                if share < self.min_share:
                    continue
                found.append(((a, b), Match(
                    exercise, notebook, share,
                    code={a: answers_by_student[a], b: answers_by_student[b]},
                    lines={s: set().union(*(rare[s][h] for h in shared)) for s in (a, b)})))
        return found


def similar_pairs(course, assignment: str, students: list[str]) -> list[Pair]:
    """Pairs of students with nearly the same code in at least one exercise, the most
    similar first."""
    sim = Similarity(config=course.config)
    release = course.path(course.coursedir.release_directory, ".", assignment)
    pairs: dict[tuple[str, str], Pair] = {}
    for notebook, gid, _, starter in (a for a in answer_cells(release) if a.kind == "code"):
        by_student = {}
        for sid in students:
            src = answers.cell_source(
                os.path.join(course.autograded(sid, assignment), notebook + ".ipynb"), gid)
            if src is not None:
                by_student[sid] = src
        for key, match in sim.compare(by_student, starter, exercise=gid, notebook=notebook):
            pairs.setdefault(key, Pair(key)).matches.append(match)
    return sorted(pairs.values(), key=lambda p: (-max(m.share for m in p.matches), p.students))
