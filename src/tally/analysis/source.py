"""A source file's statements, excluded lines and multi-line statements, as coverage.py finds them.

coverage.py (parser.py, 7.x) defines the oracle: statements are the line numbers in the
compiled code's line table, mapped to the first line of their (multi-line) statement, minus
docstrings and excluded lines. Exclusion regexes match source text; a match on a compound
statement's header (up to its colon) excludes the whole suite; an excluded decorator or
signature excludes the whole function or class. This module reproduces those rules.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import token
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import CodeType

from tally.analysis.nodes import DEFINITIONS, irrefutable, is_docstring
from tally.exceptions import NoSourceError
from tally.types import LineNo

__all__ = [
    "SourceFacts",
    "analyze_source",
    "code_objects",
    "decode_source",
    "join_regex",
    "read_source",
]

# Nodes that can hold statements: anything else is an expression we needn't descend into.
_STMT_CONTAINERS = (ast.stmt, ast.ExceptHandler, ast.match_case, ast.Module)
Position = tuple[int, int]  # a token's (line, column)
Token = tuple[int, str, Position, Position, str]  # type, string, start, end, line


def join_regex(regexes: Iterable[str]) -> str | None:
    """One regex matching any of `regexes` (None for none), as coverage.py combines them."""
    regexes = list(regexes)
    if not regexes:
        return None
    if len(regexes) == 1:
        return regexes[0]
    return "|".join(f"(?:{r})" for r in regexes)


def read_source(path: str) -> str:
    """A source file's text, decoded by its PEP 263 coding, ending with a newline."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise NoSourceError(f"no source for {path}: {err.strerror}") from None
    return decode_source(data)


def decode_source(data: bytes) -> str:
    """Source bytes as text, decoded by their PEP 263 coding, ending with a newline."""
    # \f confuses line counting in the tokenizer (bpo-19035), as coverage.py notes.
    data = data.replace(b"\f", b" ")
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding, "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if text and not text.endswith("\n"):
        text += "\n"
    return text


@dataclass
class SourceFacts:
    """What static analysis knows about one file."""

    statements: set[LineNo] = field(default_factory=set)
    excluded: set[LineNo] = field(default_factory=set)
    multiline: dict[LineNo, LineNo] = field(default_factory=dict)
    raw_statements: set[LineNo] = field(default_factory=set)  # lines in the line tables
    text: str = ""

    def lines_matching(self, regex: str | None) -> set[LineNo]:
        """First lines of the statements on lines where `regex` matches."""
        return _lines_matching(self.text, regex, self.multiline) if regex else set()

    def first_line(self, line: LineNo) -> LineNo:
        """The first line of the statement containing `line`."""
        return self.multiline.get(line, line)

    def first_lines(self, lines: Iterable[LineNo]) -> set[LineNo]:
        """Each of `lines` mapped to its statement's first line."""
        get = self.multiline.get
        return {get(n, n) for n in lines}


def code_objects(code: CodeType) -> Iterator[CodeType]:
    """`code` and every code object nested in it."""
    stack = [code]
    while stack:
        current = stack.pop()
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
        yield current


def multiline_map(text: str) -> dict[LineNo, LineNo]:
    """{line: first line of its statement} for the lines of multi-line statements in
    `text`; empty when `text` doesn't tokenize."""
    try:
        # Without comments and NL, which the map skips anyway.
        return _multiline_map(_tokens(text, every_kind=False))
    except (tokenize.TokenError, SyntaxError):
        return {}


def _tokens(text: str, *, every_kind: bool = True) -> Iterable[Token]:
    """`text`'s tokens as `tokenize` makes them, as plain tuples; on 3.12+ without
    `every_kind`, less the comments, NL, INDENT and DEDENT (and operators by exact type)."""
    if _raw_tokens is not None:
        return _raw_tokens(io.StringIO(text).readline, extra_tokens=every_kind)
    return tokenize.generate_tokens(io.StringIO(text).readline)


# On 3.12+ the C tokenizer's own iterator: its plain tuples skip the TokenInfo made per
# token by `tokenize`, which was half of saving pyparsing's branches on the monitor
# engine and a third of tokenizing for analysis; tests/test_branches.py checks both
# uses against `tokenize` on the standard library.
_raw_tokens: Callable[..., Iterable[Token]] | None = None
if sys.version_info >= (3, 12):
    import _tokenize

    _raw_tokens = _tokenize.TokenizerIter


def _multiline_map(
    tokens: Iterable[Token],
) -> dict[LineNo, LineNo]:
    mapping: dict[LineNo, LineNo] = {}
    first = 0
    for kind, string, start, end, _ in tokens:
        if kind == token.NEWLINE:
            if first and end[0] != first:
                for line in range(first, end[0] + 1):
                    mapping[line] = first
            first = 0
        elif not first and kind != tokenize.COMMENT and string.strip():
            first = start[0]
    return mapping


def _lines_matching(text: str, regex: str, multiline: dict[LineNo, LineNo]) -> set[LineNo]:
    """Lines (first lines of statements) containing a match; a match may span lines."""
    matches: set[LineNo] = set()
    last_start = last_line = 0
    for match in re.finditer(regex, text, flags=re.MULTILINE):
        start, end = match.span()
        start_line = last_line + text.count("\n", last_start, start)
        end_line = last_line + text.count("\n", last_start, end)
        matches.update(multiline.get(n, n) for n in range(start_line + 1, end_line + 2))
        last_start, last_line = start, start_line
    return matches


def _excluded_suites(tokens: list[Token], excluded: set[LineNo]) -> None:
    """Extend `excluded` from matched headers to their suites (coverage.py's token walk)."""
    indent = exclude_indent = nesting = first_line = 0
    excluding = False
    for kind, text, start, end, _ in tokens:
        if kind == token.INDENT:
            indent += 1
        elif kind == token.DEDENT:
            indent -= 1
        elif kind == token.OP:
            if text == ":" and nesting == 0:
                # Trigger on the colon so a pragma after it on the same line counts.
                hit = excluded.intersection(range(first_line, end[0] + 1))
                if not excluding and hit:
                    excluded.add(end[0])
                    exclude_indent = indent
                    excluding = True
            elif text in "([{":
                nesting += 1
            elif text in ")]}":
                nesting -= 1
        elif kind == token.NEWLINE:
            first_line = 0
        if text.strip() and kind != tokenize.COMMENT and not first_line:
            first_line = start[0]
            if excluding and indent <= exclude_indent:
                excluding = False
            if excluding:
                excluded.add(end[0])


def _walk_statements(root: ast.AST) -> Iterator[ast.AST]:
    todo = [root]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, _STMT_CONTAINERS))


def raw_statement_lines(code: CodeType) -> set[LineNo]:
    """Every line in the line tables of `code` and its nested code objects.

    Deferred-annotation functions (`__annotate__`, PEP 649) are skipped, as coverage.py does:
    they rarely run.
    """
    lines: set[LineNo] = set()
    for co in code_objects(code):
        if co.co_name == "__annotate__":
            continue
        lines.update(line for _, _, line in co.co_lines() if line)
    return lines


def analyze_source(
    text: str,
    filename: str,
    exclude_regex: str | None,
    tree: ast.Module | None = None,
    code: CodeType | None = None,
) -> SourceFacts:
    """Find `text`'s statements, excluded lines and multi-line map.

    Raises SyntaxError (and friends) when `text` isn't Python; callers turn that into a
    message naming the file.
    """
    if tree is None:
        tree = ast.parse(text, filename)
    tokens = list(_tokens(text))
    facts = SourceFacts(multiline=_multiline_map(tokens), text=text)
    excluded: set[LineNo] = set()
    if exclude_regex:
        excluded = _lines_matching(text, exclude_regex, facts.multiline)
    _excluded_suites(tokens, excluded)
    empty = not any(t[1].strip() and t[0] != tokenize.COMMENT for t in tokens)
    raw: set[LineNo] = set()
    if not empty:
        if code is None:
            # From the tree: the source is parsed once (the same code as from the text).
            code = compile(tree, filename, "exec", dont_inherit=True)
        raw = raw_statement_lines(code)
    excluded = facts.first_lines(excluded)
    docstrings: set[LineNo] = set()
    for node in _walk_statements(tree):
        if (
            isinstance(node, (*DEFINITIONS, ast.Module))
            and node.body
            and is_docstring(node.body[0])
        ):
            first = node.body[0]
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
        if isinstance(node, DEFINITIONS):
            top = min((d.lineno for d in node.decorator_list), default=node.lineno)
            if excluded.intersection(range(top, node.lineno + 1)):
                excluded.update(range(top, (node.end_lineno or node.lineno) + 1))
        if isinstance(node, ast.match_case) and irrefutable(node):
            body = range(node.body[0].lineno, (node.body[-1].end_lineno or 0) + 1)
            in_body = raw & set(body)
            if in_body and in_body <= excluded:
                pattern = node.pattern
                excluded.update(range(pattern.lineno, (pattern.end_lineno or 0) + 1))
    ignore = excluded | docstrings
    facts.excluded = excluded
    facts.raw_statements = raw
    facts.statements = facts.first_lines(raw - ignore) - ignore
    return facts
