"""trace-opt's form of a task's program, generated from its autotrace form (``program.py``).

One program per task, written as a user writes it (``# autotrace: param`` comments); the trace-opt side
needs the same program with trace-opt's wrappers, and this module writes it, so no hand-kept twin can
drift from the original:

* a marked constant ``NAME = VALUE  # autotrace: param TEXT`` becomes
  ``NAME = node(VALUE, name="NAME", trainable=True, constraint="TEXT")``;
* a marked module-level function gets ``@bundle(trainable=True)``, every other module-level function
  ``@bundle()``, except ``main`` (trace-opt's examples leave the entry point plain) and a function that
  catches ``Exception``: there the handler becomes ``except ExecutionError as exc: return
  exc.exception_node`` (trace-opt raises an ``ExecutionError`` out of a bundled call and its exception node
  carries the error to the feedback, as a returned error text does for autotrace);
* ``def parameters()`` returns the trainable nodes, the list trace-opt's optimizer is given.

A program whose marks this cannot express (a marked method, a mark inside a class) raises
:class:`TraceFormError`; such a task runs on the autotrace side only.
"""

from __future__ import annotations

import json

import libcst as cst

from autotrace.markers import marker_text

OPTO = "opto.trace"


class TraceFormError(ValueError):
    """The program has a mark the generated trace-opt form cannot express (one line, names the mark)."""


def _marker(comment: cst.Comment | None) -> str | None:
    return marker_text(comment.value) if comment is not None else None


def _trailing_comment(line: cst.SimpleStatementLine) -> cst.Comment | None:
    return line.trailing_whitespace.comment


def _def_comment(func: cst.FunctionDef) -> cst.Comment | None:
    body = func.body
    return body.header.comment if isinstance(body, cst.IndentedBlock) else None


def _catches_exception(func: cst.FunctionDef) -> bool:
    """Whether ``func`` has an ``except Exception`` handler (the program's error-to-output converter)."""
    found = False

    class _Visitor(cst.CSTVisitor):
        def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
            nonlocal found
            if isinstance(node.type, cst.Name) and node.type.value == "Exception":
                found = True

    func.visit(_Visitor())
    return found


class _ToTrace(cst.CSTTransformer):
    """Rewrites one module's top level; ``trainable`` collects the expressions ``parameters()`` returns."""

    def __init__(self) -> None:
        self.trainable: list[str] = []
        self.used: set[str] = set()

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        marked = [c.value for c in _comments(node) if marker_text(c.value) is not None]
        if marked:
            raise TraceFormError(f"class {node.name.value} holds a mark ({marked[0]!r}): the generated trace-opt "
                                 "form covers marked constants and functions at module level only")
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested statements are kept as written; only the handlers are rewritten below

    def leave_SimpleStatementLine(self, original: cst.SimpleStatementLine,
                                  updated: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        text = _marker(_trailing_comment(original))
        if text is None:
            return updated
        statement = updated.body[0] if len(updated.body) == 1 else None
        if not isinstance(statement, cst.Assign) or len(statement.targets) != 1 \
                or not isinstance(statement.targets[0].target, cst.Name):
            raise TraceFormError(f"a mark on {cst.Module([]).code_for_node(original).strip()!r}: only "
                                 "NAME = VALUE constants are expressible as trace-opt nodes")
        name = statement.targets[0].target.value
        args = [cst.Arg(statement.value), cst.Arg(cst.SimpleString(json.dumps(name)), keyword=cst.Name("name")),
                cst.Arg(cst.Name("True"), keyword=cst.Name("trainable"))]
        if text:
            args.append(cst.Arg(cst.SimpleString(json.dumps(text)), keyword=cst.Name("constraint")))
        args = [arg.with_changes(equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
                if arg.keyword else arg for arg in args]
        self.trainable.append(name)
        self.used.add("node")
        call = cst.Call(cst.Name("node"), args)
        return updated.with_changes(body=[statement.with_changes(value=call)],
                                    trailing_whitespace=cst.TrailingWhitespace(newline=cst.Newline()))

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        name = original.name.value
        if _marker(_def_comment(original)) is not None:
            assert isinstance(updated.body, cst.IndentedBlock)
            header = updated.body.header.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))
            updated = updated.with_changes(body=updated.body.with_changes(header=header))
            self.trainable.append(f"{name}.parameter")
            self.used.add("bundle")
            return _decorate(updated, trainable=True)
        if _catches_exception(original):
            self.used.add("ExecutionError")
            return updated.visit(_Handlers())  # type: ignore[return-value]
        if name == "main":
            return updated
        self.used.add("bundle")
        return _decorate(updated, trainable=False)


class _Handlers(cst.CSTTransformer):
    """``except Exception as exc: ...`` -> ``except ExecutionError as exc: return exc.exception_node``."""

    def leave_ExceptHandler(self, original: cst.ExceptHandler, updated: cst.ExceptHandler) -> cst.ExceptHandler:
        if not (isinstance(original.type, cst.Name) and original.type.value == "Exception"):
            return updated
        alias = original.name.name if original.name is not None else None
        if not isinstance(alias, cst.Name):
            raise TraceFormError("an `except Exception` without `as NAME`: the exception node has no name to return")
        node = cst.Attribute(alias, cst.Name("exception_node"))
        body = cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(node)])])
        return updated.with_changes(type=cst.Name("ExecutionError"), body=body)


def _comments(node: cst.CSTNode) -> list[cst.Comment]:
    found: list[cst.Comment] = []

    class _Visitor(cst.CSTVisitor):
        def visit_Comment(self, comment: cst.Comment) -> None:
            found.append(comment)

    node.visit(_Visitor())
    return found


def _decorate(func: cst.FunctionDef, trainable: bool) -> cst.FunctionDef:
    args = [cst.Arg(cst.Name("True"), keyword=cst.Name("trainable"),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))] if trainable else []
    return func.with_changes(decorators=[cst.Decorator(cst.Call(cst.Name("bundle"), args)), *func.decorators])


def _docstring_end(body: list[cst.BaseStatement]) -> int:
    """Index after the module docstring and any ``from __future__`` import (where new imports go)."""
    index = 0
    if body and isinstance(body[0], cst.SimpleStatementLine) and isinstance(body[0].body[0], cst.Expr) \
            and isinstance(body[0].body[0].value, cst.SimpleString | cst.ConcatenatedString):
        index = 1
    while index < len(body) and isinstance(body[index], cst.SimpleStatementLine) \
            and isinstance(body[index].body[0], cst.ImportFrom) \
            and getattr(body[index].body[0].module, "value", None) == "__future__":
        index += 1
    return index


def trace_source(source: str) -> str:
    """The trace-opt form of one program's source (see the module docstring); raises TraceFormError."""
    module = cst.parse_module(source)
    rewriter = _ToTrace()
    rewritten = module.visit(rewriter)
    if not rewriter.trainable:
        raise TraceFormError("no `# autotrace: param` mark at module level: nothing for trace-opt to train")
    names = ", ".join(sorted(rewriter.used, key=lambda n: (n != "ExecutionError", n)))
    import_line = cst.parse_statement(f"from {OPTO} import {names}\n")
    params = cst.parse_statement(f"def parameters():\n    return [{', '.join(rewriter.trainable)}]\n")
    body = list(rewritten.body)
    at = _docstring_end(body)
    first_after = body[at].with_changes(leading_lines=[cst.EmptyLine()]) if at < len(body) else None
    import_line = import_line.with_changes(leading_lines=[cst.EmptyLine()] if at else [])
    rest = [first_after, *body[at + 1:]] if first_after is not None else []
    blank2 = [cst.EmptyLine(), cst.EmptyLine()]
    body = [*body[:at], import_line, *rest, params.with_changes(leading_lines=blank2)]
    return rewritten.with_changes(body=body).code


#: The bundled function a prompt task's ``main`` is split into: what it does with the model's reply.
ANSWER = "answer"
REPLY = "reply"


def _names(node: cst.CSTNode) -> set[str]:
    """Every name ``node`` mentions."""
    found: set[str] = set()

    class _Visitor(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(_Visitor())
    return found


def _params(func: cst.FunctionDef) -> list[str]:
    return [p.name.value for p in (*func.params.posonly_params, *func.params.params, *func.params.kwonly_params)]


def _marked_constants(module: cst.Module) -> list[str]:
    names = []
    for line in module.body:
        if isinstance(line, cst.SimpleStatementLine) and _marker(_trailing_comment(line)) is not None:
            statement = line.body[0]
            if isinstance(statement, cst.Assign) and isinstance(statement.targets[0].target, cst.Name):
                names.append(statement.targets[0].target.value)
    return names


class _ReplyCall(cst.CSTTransformer):
    """Replaces the one call of a function in ``readers`` by the name :data:`REPLY`, keeping the call."""

    def __init__(self, readers: set[str]) -> None:
        self.readers = readers
        self.calls: list[cst.Call] = []

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if isinstance(original.func, cst.Name) and original.func.value in self.readers:
            self.calls.append(updated)
            return cst.Name(REPLY)
        return updated


def _prompt_as_argument(source: str) -> str:
    """A prompt app rewritten so that trace-opt can see its prompt flow: each function that reads a marked
    constant as a module global takes it as its first arguments instead (a bundle's inputs must be its
    arguments), and ``main``, which calls one such function once, becomes a plain ``main`` returning
    ``answer(that call)``, with ``answer(reply)`` (``main``'s body, the call replaced by ``reply``, under
    ``main``'s docstring) what it does with the model's reply."""
    module = cst.parse_module(source)
    marked = _marked_constants(module)
    if not marked:
        raise TraceFormError("no marked constant at module level: nothing for trace-opt to train")
    functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
    if ANSWER in functions or "main" not in functions:
        raise TraceFormError(f"a prompt app for trace-opt needs a main() and no function named {ANSWER}")
    readers = {name: [m for m in marked if m in _names(func.body) and m not in _params(func)]
               for name, func in functions.items() if name != "main"}
    readers = {name: reads for name, reads in readers.items() if reads}
    main = functions["main"]
    if set(marked) & _names(main.body) or REPLY in _names(main):
        raise TraceFormError(f"main reads a marked constant or a name {REPLY!r}: write the trace-opt form by hand")
    finder = _ReplyCall(set(readers))
    body = main.body.visit(finder)
    if len(finder.calls) != 1:
        raise TraceFormError(f"main calls the functions reading the prompt ({', '.join(sorted(readers)) or 'none'}) "
                             f"{len(finder.calls)} times; the trace-opt form splits main at one such call")
    call = finder.calls[0]
    if not _names(call) - {call.func.value} <= set(_params(main)):  # type: ignore[attr-defined]
        raise TraceFormError("the prompt-reading call in main takes more than main's own arguments")
    prompt_args = [cst.Arg(cst.Name(m)) for m in readers[call.func.value]]  # type: ignore[attr-defined]
    call = call.with_changes(args=[*prompt_args, *call.args])
    assert isinstance(body, cst.IndentedBlock)
    docstring = body.body[:1] if main.get_docstring() is not None else []
    answer = main.with_changes(name=cst.Name(ANSWER), params=cst.Parameters([cst.Param(cst.Name(REPLY))]),
                               leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    answer = answer.with_changes(body=body)
    new_main = main.with_changes(body=body.with_changes(body=[
        *docstring, cst.SimpleStatementLine([cst.Return(cst.Call(cst.Name(ANSWER), [cst.Arg(call)]))])]))
    out: list[cst.BaseStatement] = []
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value in readers:
            params = statement.params
            added = [cst.Param(cst.Name(m)) for m in readers[statement.name.value]]
            statement = statement.with_changes(params=params.with_changes(params=[*added, *params.params]))
        if statement is main:
            out += [answer, new_main]
            continue
        out.append(statement)
    return module.with_changes(body=out).code


def prompt_trace_source(source: str) -> str:
    """trace-opt's form of a prompt task's app (an ``OpenAI()`` program whose functions read the marked
    system prompt as a module global), the way trace-opt's examples write a prompt-optimization program:
    the prompt a trainable ``node``, the model call and what is done with its reply ``bundle``\\ s taking it as
    an argument (:func:`_prompt_as_argument`), then :func:`trace_source`. Raises TraceFormError."""
    return trace_source(_prompt_as_argument(source))
