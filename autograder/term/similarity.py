"""Answers worth a second look: groups of students whose code for an exercise is nearly the same.

MOSS's method (Schleimer, Wilkerson, Aiken, "Winnowing", SIGMOD 2003) on each exercise's
answers: the code is tokenised with Python's own tokenizer and normalised (names become `N`
except keywords and attribute names, numbers `0`, strings `S`; comments and layout dropped),
hashed in k-grams of tokens, and winnowed to fingerprints. What does not count (common code):

* code the course wrote: the release's starter text of the cell (every student was given it)
  and the instructor's solution in `source/` (the textbook answer, handed out as the worked
  solution): writing it is no sign of copying from each other;
* fingerprints more students share than a copying group would be (more than `largest_group`
  students, and more than `common_fraction` of the class): an idiom the lecture taught
  (MOSS's `-m`); a group of up to `largest_group` stays visible in a class of any size;
* answers with fewer than `min_tokens` tokens left: too short to mean anything (one-liners).

Two students are linked when they share at least `min_shared` fingerprints and `min_share` of
the (uncommon) fingerprints of the answer that has fewer; students linked to each other,
directly or through others, are one group. The strength shown is how much code the evidence
rests on: the tokens and lines the weakest link's shared fingerprints cover.
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
class Spot:
    """Where one fingerprint occurs in one answer."""
    lines: set[int] = field(default_factory=set)       # 1-based
    tokens: set[int] = field(default_factory=set)      # positions in the answer's tokens


@dataclass
class Match:
    exercise: str
    notebook: str
    students: tuple[str, ...]
    share: float                       # weakest link: of the uncommon fingerprints of the answer with fewer
    tokens: int                        # weakest link: tokens of uncommon code shared (in the shorter answer)
    shared_lines: int                  # ... and the lines they are on
    code: dict[str, str]               # student -> their answer
    lines: dict[str, set[int]]         # student -> lines (1-based) holding code shared in the group


@dataclass
class Group:
    students: tuple[str, ...]
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
    min_share = Float(0.6, help="Link two students when this share of the fingerprints of the "
                                "answer with fewer (common ones left out) is shared.").tag(config=True)
    min_shared = Integer(5, help="... and at least this many fingerprints are shared.").tag(config=True)
    largest_group = Integer(5, help="Fingerprints shared by up to this many students are never "
                                    "common: a copying group this size is seen in a class of any "
                                    "size.").tag(config=True)
    common_fraction = Float(0.2, help="Fingerprints shared by more than this share of the class "
                                      "(and more than largest_group students) are common code, "
                                      "not counted.").tag(config=True)

    def fingerprints(self, source: str, given: tuple[str, ...] = ()) -> dict[int, Spot]:
        """hash -> where it occurs, for the winnowed k-grams of source not in any given text
        (the starter, the instructor's solution)."""
        toks = tokens(source)
        if len(toks) < self.min_tokens:
            return {}
        known = {h for text in given for h, _, _, _ in self._kgrams(tokens(text))}
        grams = self._kgrams(toks)
        if len(grams) - sum(1 for g in grams if g[0] in known) < self.min_tokens - self.k + 1:
            return {}
        given_lines = {ln.strip() for text in given[:1] for ln in text.splitlines()}   # the starter's
        own = {i + 1 for i, ln in enumerate(source.splitlines())
               if ln.strip() not in given_lines and not ln.strip().startswith("#")}
        out: dict[int, Spot] = defaultdict(Spot)
        for i in range(max(len(grams) - self.window + 1, 1)):
            h, first, last, at = min(grams[i:i + self.window], key=lambda g: g[0])
            if h not in known:
                out[h].lines.update(own.intersection(range(first, last + 1)))
                out[h].tokens.update(range(at, at + self.k))
        return dict(out)

    def _kgrams(self, toks: list[tuple[str, int, int]]) -> list[tuple[int, int, int, int]]:
        """(hash, first line, last line, first token) of every k-gram."""
        grams = []
        for i in range(len(toks) - self.k + 1):
            run = toks[i:i + self.k]
            digest = hashlib.blake2b(" ".join(t for t, _, _ in run).encode(), digest_size=8).digest()
            grams.append((int.from_bytes(digest, "big"), run[0][1], run[-1][2], i))
        return grams

    def compare(self, answers_by_student: dict[str, str], starter: str = "", *, reference: str = "",
                exercise: str = "", notebook: str = "") -> list[Match]:
        """Groups of students whose answers to one exercise are nearly the same, the strongest
        evidence first."""
        prints = {s: self.fingerprints(src, (starter, reference)) for s, src in answers_by_student.items()}
        prints = {s: fp for s, fp in prints.items() if fp}
        seen_in: dict[int, int] = defaultdict(int)
        for fp in prints.values():
            for h in fp:
                seen_in[h] += 1
        limit = max(self.largest_group, math.floor(self.common_fraction * len(answers_by_student)))
        rare = {s: {h: spot for h, spot in fp.items() if seen_in[h] <= limit} for s, fp in prints.items()}
        links: dict[tuple[str, str], set[int]] = {}
        students = sorted(rare)
        for i, a in enumerate(students):
            for b in students[i + 1:]:
                shared = rare[a].keys() & rare[b].keys()
                if len(shared) >= self.min_shared and \
                        len(shared) / min(len(rare[a]), len(rare[b])) >= self.min_share:
                    links[(a, b)] = shared
        found = []
        for group in _connected(links):
            inside = {pair: shared for pair, shared in links.items() if pair[0] in group}
            weakest = min(inside, key=lambda pair: self._strength(rare, pair, inside[pair]))
            tokens_, lines_, share = self._strength(rare, weakest, inside[weakest])
            found.append(Match(
                exercise, notebook, group, share, tokens_, lines_,
                code={s: answers_by_student[s] for s in group},
                lines={s: set().union(*(rare[s][h].lines for pair, shared in inside.items() if s in pair
                                        for h in shared)) for s in group}))
        return sorted(found, key=lambda m: (-m.tokens, m.students))

    @staticmethod
    def _strength(rare, pair: tuple[str, str], shared: set[int]) -> tuple[int, int, float]:
        """(tokens, lines, share) of the shared code, counted in the answer with less of it."""
        covered = [(len(set().union(*(rare[s][h].tokens for h in shared))),
                    len(set().union(*(rare[s][h].lines for h in shared)))) for s in pair]
        share = len(shared) / min(len(rare[s]) for s in pair)
        return (*min(covered), share)


def _connected(links) -> list[tuple[str, ...]]:
    """The groups of students the links join, each sorted."""
    group_of: dict[str, set[str]] = {}
    for a, b in links:
        merged = group_of.get(a, {a}) | group_of.get(b, {b})
        for s in merged:
            group_of[s] = merged
    return sorted({tuple(sorted(g)) for g in group_of.values()})


def similar_groups(course, assignment: str, students: list[str]) -> list[Group]:
    """Groups of students with nearly the same code in at least one exercise, the strongest
    evidence first."""
    sim = Similarity(config=course.config)
    release = course.path(course.coursedir.release_directory, ".", assignment)
    groups: dict[tuple[str, ...], Group] = {}
    for notebook, gid, _, starter in (a for a in answer_cells(release) if a.kind == "code"):
        reference = answers.cell_source(os.path.join(course.source(assignment), notebook + ".ipynb"), gid)
        by_student = {}
        for sid in students:
            src = answers.cell_source(
                os.path.join(course.autograded(sid, assignment), notebook + ".ipynb"), gid)
            if src is not None:
                by_student[sid] = src
        for match in sim.compare(by_student, starter, reference=reference or "", exercise=gid, notebook=notebook):
            groups.setdefault(match.students, Group(match.students)).matches.append(match)
    return sorted(groups.values(), key=lambda g: (-max(m.tokens for m in g.matches), g.students))
