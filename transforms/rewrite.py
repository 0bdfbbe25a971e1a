"""Place new parameter values into Python source: a literal's new value, a function's new ``def``.

The user never changed their code for autotrace, so a rewrite must look like a careful human edit: only
the value (or the function) changes; comments, formatting, encoding, BOM and line endings stay
byte-for-byte. LibCST gives a lossless tree, so a rewrite swaps one node and renders everything else as
it was. :func:`rewrite_source` is pure: the import hook substitutes candidate functions with it before
compiling a module, and :mod:`autotrace.patches` writes the best values back with :func:`rewrite_file`.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import libcst as cst

from autotrace.cst_nodes import nodes_of
from autotrace.markers import marker_text
from autotrace.params import literal_to_text


class RewriteError(Exception):
    """A value cannot be placed in a source: the name is missing or ambiguous, or the value unusable."""


@dataclass(frozen=True)
class LiteralValue:
    """New value for a literal parameter (``NAME = <literal>``)."""

    value: Any


@dataclass(frozen=True)
class CodeValue:
    """New source of a code parameter: the whole ``def``, dedented, without decorators."""

    source: str


Replacement = LiteralValue | CodeValue


_EMPTY_MODULE = cst.Module(body=())


def rewrite_source(
    source: str,
    changes: Mapping[str, Replacement],
    *,
    filename: str = "<string>",
    encoding: str = "utf-8",
) -> str:
    """Return ``source`` with each parameter named in ``changes`` (by qualname) set to its new value.

    ``filename`` only labels errors. ``encoding`` is the file's encoding: string characters it cannot
    hold are written as escapes. Raises :class:`RewriteError` when a name is missing or defined more than
    once, its right side is no literal, or a candidate function is unusable.
    """
    if not changes:
        return source
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise RewriteError(f"{filename}: does not parse: {error.message}") from None
    rewriter = _Rewriter(changes, filename, module.default_newline, encoding)
    new_module = module.visit(rewriter)
    for key in changes:
        count = rewriter.found[key]
        if count != 1:
            problem = "not found" if count == 0 else f"defined {count} times"
            raise RewriteError(
                f"{filename}: parameter {key}: {problem} (expected one module- or class-level "
                "`NAME = literal` or `def`)"
            )
    return new_module.code


class _Rewriter(cst.CSTTransformer):
    """Swap the value or function of each wanted qualname, tracking class nesting by hand.

    A class-stack walk that never enters a function body finds every module- and class-level name in a
    fraction of a parse; libcst's QualifiedNameProvider would resolve every scope of the module (four
    times the parse time on argparse), too slow for the import hook.
    """

    def __init__(self, changes: Mapping[str, Replacement], filename: str, newline: str, encoding: str):
        super().__init__()
        self.found: Counter[str] = Counter()
        self._changes = changes
        self._filename = filename
        self._newline = newline
        self._encoding = encoding
        self._classes: list[str] = []

    def _claim(self, name: str) -> str | None:
        key = ".".join([*self._classes, name])
        if key not in self._changes:
            return None
        self.found[key] += 1
        return key

    def _error(self, key: str, problem: str) -> RewriteError:
        return RewriteError(f"{self._filename}: parameter {key}: {problem}")

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._classes.append(node.name.value)
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self._classes.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # names inside a function are locals, never parameters

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        key = self._claim(original_node.name.value)
        if key is None:
            return updated_node
        change = self._changes[key]
        if not isinstance(change, CodeValue):
            raise self._error(key, "is a function; its new value must be a CodeValue")
        return self._function(key, original_node, change.source)

    def visit_Assign(self, node: cst.Assign) -> bool:
        return False

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        names = [t.target.value for t in original_node.targets if isinstance(t.target, cst.Name)]
        keys = [key for key in map(self._claim, names) if key is not None]
        if not keys:
            return updated_node
        if len(original_node.targets) != 1:
            raise self._error(keys[0], "is assigned together with other targets (`A = B = ...`)")
        return updated_node.with_changes(value=self._literal(keys[0], original_node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        return False

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign) -> cst.AnnAssign:
        target = original_node.target
        key = self._claim(target.value) if isinstance(target, cst.Name) else None
        if key is None:
            return updated_node
        if original_node.value is None:
            raise self._error(key, "is annotated but has no value")
        return updated_node.with_changes(value=self._literal(key, original_node.value))

    def _literal(self, key: str, old_node: cst.BaseExpression) -> cst.BaseExpression:
        change = self._changes[key]
        if not isinstance(change, LiteralValue):
            raise self._error(key, "is an assignment; its new value must be a LiteralValue")
        try:
            old = ast.literal_eval(_EMPTY_MODULE.code_for_node(old_node))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise self._error(key, "right-hand side is not a Python literal") from None
        new = _keep_number_kind(old, change.value)
        if old == new and repr(old) == repr(new):
            return old_node  # same value: keep its spelling (0x10, 1_000, 1.50)
        new_node = self._render(key, old, old_node, new)
        return new_node.with_changes(lpar=old_node.lpar, rpar=old_node.rpar) if old_node.lpar else new_node

    def _render(self, key: str, old: Any, old_node: cst.BaseExpression, new: Any) -> cst.BaseExpression:
        if isinstance(new, (str, bytes)):
            strings = nodes_of(old_node, cst.SimpleString)
            if type(old) is type(new) and strings:
                prefix, quote = strings[0].prefix, strings[0].quote
            else:
                prefix, quote = ("b" if isinstance(new, bytes) else ""), '"'
            return cst.SimpleString(_string_literal(new, prefix, quote, self._newline, self._encoding))
        try:
            return cst.parse_expression(literal_to_text(new))
        except (ValueError, SyntaxError):  # literal_eval of a repr like "nan" or "<object at 0x..>"
            raise self._error(key, f"new value {repr(new)[:80]} is not a Python literal") from None

    def _function(self, key: str, original: cst.FunctionDef, source: str) -> cst.FunctionDef:
        try:
            source.encode(self._encoding)
        except UnicodeEncodeError as error:
            bad = error.object[error.start : error.end]
            raise self._error(key, f"candidate has characters {self._encoding} cannot encode: {bad!r}") from None
        newline = self._newline
        try:
            candidate = cst.parse_module(source.replace("\r\n", "\n").replace("\r", "\n").replace("\n", newline))
        except cst.ParserSyntaxError as error:
            raise self._error(key, f"candidate does not parse: {error.message}") from None
        new = candidate.body[0] if len(candidate.body) == 1 else None
        name = original.name.value
        if not isinstance(new, cst.FunctionDef) or new.name.value != name:
            raise self._error(key, f"candidate must be a single `def {name}(...)`")
        if new.decorators:
            raise self._error(key, "candidate must come without decorators (the original ones are kept)")
        if new.asynchronous and not original.asynchronous:
            raise self._error(key, "candidate turns a plain function into `async def`")
        new = new.with_changes(
            leading_lines=original.leading_lines,
            decorators=original.decorators,
            lines_after_decorators=original.lines_after_decorators,
            asynchronous=original.asynchronous,
        )
        header = _header(original)
        if header.comment is None or marker_text(header.comment.value) is None:
            return new
        return _with_header_comment(new, header)  # the marker decides what is a parameter on the next run


def _keep_number_kind(old: Any, new: Any) -> Any:
    """Keep a float parameter float-looking (``3.0``, not ``3``) and an int one int-looking, value allowing."""
    if type(old) is float and type(new) is int and abs(new) <= 2**53:
        return float(new)
    if type(old) is int and type(new) is float and new.is_integer() and abs(new) <= 2**53:
        return int(new)
    return new


def _string_literal(value: str | bytes, prefix: str, quote: str, newline: str, encoding: str) -> str:
    """Spell ``value`` as a literal with the original prefix and quotes, escaping only what must be.

    Triple-quoted strings keep real line breaks (in the file's newline style) and tabs; a quote is
    escaped only where it would end the string. A raw prefix is kept if the text needs no escape in raw
    form. Bytes are handled as latin-1 text whose printable characters are ASCII only.
    """
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    triple = len(quote) == 3
    q = quote[0]

    def verbatim(char: str) -> bool:
        if char in "\n\t":
            return triple
        if isinstance(value, bytes):
            return " " <= char <= "~" and char != "\\"
        return char.isprintable() and char != "\\" and _encodable(char, encoding)

    if "r" in prefix.lower():
        trailing_backslashes = len(text) - len(text.rstrip("\\"))
        if q not in text and trailing_backslashes % 2 == 0 and all(c == "\\" or verbatim(c) for c in text):
            body = text.replace("\n", newline)
            return f"{prefix}{quote}{body}{quote}"
        prefix = prefix.replace("r", "").replace("R", "")

    parts: list[str] = []
    quote_run = 0
    for index, char in enumerate(text):
        if char == q:
            quote_run += 1
            if not triple or quote_run == 3 or index == len(text) - 1:
                parts.append("\\" + q)
                quote_run = 0
            else:
                parts.append(char)
            continue
        quote_run = 0
        if char == "\n" and triple:
            parts.append(newline)
        elif verbatim(char):
            parts.append(char)
        else:
            parts.append(char.encode("unicode_escape").decode("ascii"))
    return f"{prefix}{quote}{''.join(parts)}{quote}"


def _encodable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _header(function: cst.FunctionDef) -> cst.TrailingWhitespace:
    """What follows the colon of ``def ...:`` up to the line end; the scanner reads a marker there."""
    body = function.body
    return (
        body.header if isinstance(body, cst.IndentedBlock) else cast(cst.SimpleStatementSuite, body).trailing_whitespace
    )


def _with_header_comment(function: cst.FunctionDef, line: cst.TrailingWhitespace) -> cst.FunctionDef:
    header = _header(function).with_changes(whitespace=line.whitespace, comment=line.comment)
    if isinstance(function.body, cst.IndentedBlock):
        return function.with_changes(body=function.body.with_changes(header=header))
    return function.with_changes(body=function.body.with_changes(trailing_whitespace=header))


def rewrite_file(data: bytes, changes: Mapping[str, Replacement], *, filename: str = "<file>") -> bytes:
    """Rewrite a source file given as bytes, keeping its encoding, BOM and line endings exactly."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)  # "utf-8-sig" drops the BOM here and writes it back below
    except (SyntaxError, UnicodeDecodeError) as error:
        raise RewriteError(f"{filename}: cannot decode source: {error}") from None
    new_text = rewrite_source(text, changes, filename=filename, encoding=encoding)
    return data if new_text == text else new_text.encode(encoding)
