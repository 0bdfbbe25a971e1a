"""The nodes of one kind in a LibCST tree, in source order.

``libcst.matchers.findall`` gives the same, but importing ``libcst.matchers`` (thousands of generated
classes) costs more than the rest of LibCST, in every process that analyses or rewrites a module: the CLI,
the fork server, the pytest plugin (docs/decisions/import-cost.md).
"""

from __future__ import annotations

from typing import TypeVar

import libcst as cst

N = TypeVar("N", bound=cst.CSTNode)


class _Collect(cst.CSTVisitor):
    def __init__(self, kind: type[cst.CSTNode]) -> None:
        super().__init__()
        self.kind, self.found = kind, list[cst.CSTNode]()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.kind):
            self.found.append(node)
        return True


def nodes_of(tree: cst.CSTNode, kind: type[N]) -> list[N]:
    """Every node of ``kind`` in ``tree`` (``tree`` itself included), outer before inner, in source order."""
    collect = _Collect(kind)
    tree.visit(collect)
    return collect.found  # type: ignore[return-value]
