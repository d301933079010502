"""Reading and writing CoNLL-style NER files (`token TAG` per line, blank line between sentences).

The reader is strict about content and lenient about form: a malformed line, a tag outside the
BIO tag set, or an empty or missing file is an error naming the file, the line and what was
expected; CRLF line ends, a byte-order mark, tabs and trailing spaces are read as if absent.
Nothing is dropped: every token of the file comes back, including tokens made only of
zero-width characters, and entities that start with I- are kept as written (see `repair_iob2`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

_SEPARATOR = re.compile(r"[ \t]+")
OUTSIDE = "O"


class ConllError(ValueError):
    """A CoNLL file that cannot be read as asked; the message names the file and line."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Sentence:
    """One sentence: its tokens, one or more tag columns, and the line it starts on."""

    tokens: tuple[str, ...]
    columns: tuple[tuple[str, ...], ...]  # tag columns after the token, left to right
    line: int

    @property
    def tags(self) -> tuple[str, ...]:
        """The last column: the gold tag of a `token TAG` file, the prediction of a 3-column one."""
        return self.columns[-1]

    def __len__(self) -> int:
        return len(self.tokens)


def bio_labels(types: Iterable[str]) -> list[str]:
    """The label list of a BIO tag set, `O` first, then B-/I- per type in the given order."""
    labels = [OUTSIDE]
    for entity_type in types:
        labels += [f"B-{entity_type}", f"I-{entity_type}"]
    return labels


def _check_tag(tag: str, types: frozenset[str] | None) -> str | None:
    """Why `tag` is not a BIO tag over `types`, or None when it is."""
    if tag == OUTSIDE:
        return None
    prefix, dash, entity_type = tag.partition("-")
    if prefix not in ("B", "I") or not dash or not entity_type:
        return "a BIO tag (O, B-TYPE or I-TYPE)"
    if types is not None and entity_type not in types:
        return "a tag over the types " + ", ".join(sorted(types))
    return None


def _expected_form(allowed: set[int]) -> str:
    return " or ".join("'token TAG'" if n == 2 else f"'token {' '.join(['TAG'] * (n - 1))}'" for n in sorted(allowed))


CHUNK = 1 << 20  # bytes read and decoded at a time
# The longest line read, in bytes. A token line is a token and a tag or two: tens of bytes, a long
# URL a few thousand. A line past 1 MiB is no CoNLL line (a binary or corrupted file, a file of NULs
# with no newline) and is refused as soon as it passes this size, before the rest of it is read, so
# neither memory nor the error grows with it. At least CHUNK: each line but a chunk's first then fits.
MAX_LINE = 1 << 20
QUOTED = 80  # at most this many characters of a line, token or tag are quoted in an error


def quoted(text: str, limit: int = QUOTED) -> str:
    """`text` as Python writes it, cut so that the quote is at most about `limit` characters.

    An error quotes what it found; a quote of a 50 MB line was a 200 MB message. A cut quote ends
    with how long the text was.
    """
    shown = _cut(text, limit)
    return repr(shown) if shown == text else f"{shown!r}... ({len(text)} characters)"


def _cut(text: str, limit: int) -> str:
    """The start of `text` whose quote is at most `limit` characters (escapes such as '\\x00' count)."""
    shown = text[:limit]
    while len(repr(shown)) > limit + 2:
        shown = shown[:-1]
    return shown


def _too_long(path: Path, number: int, start: bytes, expected_form: str) -> ConllError:
    beginning = _cut(start[:QUOTED].decode("utf-8", "replace"), QUOTED)
    return ConllError(path, number, f"line longer than {MAX_LINE} bytes (1 MiB), beginning {beginning!r}...: "
                      f"expected {expected_form} lines (a token and its tags)")


def _lines(path: Path, expected_form: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, split on LF alone, read and decoded a chunk of whole lines at a time.

    Only LF (with an optional CR before it) ends a line: `str.splitlines` would also break a token
    that holds U+2028, U+0085 or a form feed. Chunks keep memory flat in the file's size; a chunk
    that is not valid UTF-8 is decoded line by line to name the exact line of the error.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by `with handle` below: this try is for open's errors alone)
    except FileNotFoundError:
        raise ConllError(path, None, f"file not found: expected a CoNLL file of {expected_form} lines") from None
    except IsADirectoryError:
        raise ConllError(path, None, f"is a folder: expected a CoNLL file of {expected_form} lines") from None
    number, rest = 0, b""
    with handle:
        while True:
            block = handle.read(CHUNK)
            data = rest + block
            end = data.rfind(b"\n") + 1 if block else len(data)
            whole, rest = data[:end], data[end:]
            if whole.find(b"\n") > MAX_LINE:  # the line begun in the last chunk; the others fit in one chunk
                raise _too_long(path, number + 1, whole, expected_form)
            if whole:
                for line in _decode(path, whole, number):
                    number += 1
                    yield number, line
            if len(rest) > MAX_LINE:  # a line still without its end: refused before more of it is read
                raise _too_long(path, number + 1, rest, expected_form)
            if not block:
                return


def _decode(path: Path, data: bytes, before: int) -> list[str]:
    """The lines of a chunk of whole lines (the first line of the file loses its byte-order mark)."""
    try:
        text = data.decode("utf-8-sig" if before == 0 else "utf-8")
    except UnicodeDecodeError:
        for offset, raw in enumerate(data.split(b"\n"), start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ConllError(path, before + offset, f"not valid UTF-8 ({error.reason}): expected UTF-8 text") from None
        raise
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") else lines


def iter_conll(
    path: str | os.PathLike,
    types: Iterable[str] | None = None,
    n_columns: int | Sequence[int] = 2,
) -> Iterator[Sentence]:
    """Sentences of a CoNLL file one at a time, validating every line (memory flat in the file's size).

    `n_columns` is the number of whitespace-separated fields a token line must have (or the
    allowed numbers); the first token line fixes it for the whole file, so a file whose sentences
    disagree (one scored as `token GOLD PRED`, the next as `token TAG`) is refused at the first
    line that differs. Every field after the token is a tag column checked against the BIO tag
    set over `types` (any type when None). An empty file is an error.
    """
    path = Path(path)
    allowed = {n_columns} if isinstance(n_columns, int) else set(n_columns)
    frozen_types = frozenset(types) if types is not None else None
    expected_form = _expected_form(allowed)
    valid_tags: set[str] = set()  # tags already checked: most lines repeat a handful of tags
    rows: list[list[str]] = []  # the current sentence's lines, split into fields
    start = width = first_line = 0
    for number, line in _lines(path, expected_form):
        line = line.strip(" \t\r\n")
        if not line:
            if rows:
                yield _sentence(rows, start)
                rows = []
            continue
        fields = line.split(" ") if "\t" not in line and "  " not in line else _SEPARATOR.split(line)
        if len(fields) not in allowed:
            raise ConllError(path, number, f"expected {expected_form}, got {len(fields)} field(s): {quoted(line)}")
        if not width:
            width, first_line = len(fields), number
        elif len(fields) != width:
            raise ConllError(path, number, f"expected {width} fields as on line {first_line} (the file's first "
                             f"token line: every line of a file has the same columns), got {len(fields)}: {quoted(line)}")
        for tag in fields[1:]:
            if tag not in valid_tags:
                problem = _check_tag(tag, frozen_types)
                if problem:
                    raise ConllError(path, number, f"expected {problem}, got {quoted(tag)}")
                valid_tags.add(tag)
        if not rows:
            start = number
        rows.append(fields)
    if rows:
        yield _sentence(rows, start)
    if not width:
        raise ConllError(path, None, f"file is empty: expected sentences of {expected_form} lines")


def _sentence(rows: list[list[str]], line: int) -> Sentence:
    tokens, *columns = zip(*rows, strict=True)
    return Sentence(tokens, tuple(columns), line)


def read_conll(
    path: str | os.PathLike,
    types: Iterable[str] | None = None,
    n_columns: int | Sequence[int] = 2,
) -> list[Sentence]:
    """Every sentence of a CoNLL file, validated (see `iter_conll`)."""
    return list(iter_conll(path, types, n_columns))


def repair_iob2(tags: Sequence[str]) -> tuple[list[str], int]:
    """Turn an entity that starts with I- (after O or another type) into one that starts with B-.

    MasakhaNER 1.0 holds about a dozen such entities. Under the conlleval convention they are
    entities already, so repairing changes no conlleval score; under strict IOB2 they would be
    dropped. Training labels and gold files scored in strict mode are repaired so that no
    entity is lost. Returns the repaired tags and how many were repaired.
    """
    repaired, count, previous = [], 0, OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and (previous == OUTSIDE or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
            count += 1
        repaired.append(tag)
        previous = tag
    return repaired, count


def keep_types(sentences: Sequence[Sentence], kept: Iterable[str]) -> list[Sentence]:
    """Sentences whose entities of types not in `kept` are tagged O (MultiNERD's "system B" label subsets).

    Applied to training, dev and test data alike, so that a model trained on PER/LOC/ORG is
    neither taught nor scored on DATE.
    """
    kept = frozenset(kept)
    outside = lambda tag: tag if tag == OUTSIDE or tag[2:] in kept else OUTSIDE  # noqa: E731
    return [replace(s, columns=tuple(tuple(map(outside, column)) for column in s.columns)) for s in sentences]


def write_conll(path: str | os.PathLike, tokens: Sequence[Sequence[str]], *columns: Sequence[Sequence[str]]) -> None:
    """Write sentences as `token COL1 COL2 ...` lines, atomically (see `files.atomic_write`)."""
    from nertransfer.data.files import atomic_write

    with atomic_write(path) as out:
        for index, sentence in enumerate(tokens):
            for position, token in enumerate(sentence):
                out.write(" ".join([token, *(column[index][position] for column in columns)]) + "\n")
            out.write("\n")
