"""Loads the named GraphQL operations kept in ``operations/*.graphql``.

Each operation is sent as its own document holding just the fragments it uses, because a
GraphQL server rejects documents with unused fragments.
"""

from functools import cache
from pathlib import Path
from typing import TypeVar

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    parse,
    visit,
)
from graphql.language import Visitor

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"


class _SpreadCollector(Visitor):
    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_args):
        self.names.add(node.name.value)


def _spread_names(node) -> set[str]:
    collector = _SpreadCollector()
    visit(node, collector)
    return collector.names


def _document_for(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> DocumentNode:
    needed: dict[str, FragmentDefinitionNode] = {}
    pending = _spread_names(operation)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed[name] = fragments[name]
            pending |= _spread_names(fragments[name])
    return DocumentNode(definitions=(operation, *needed.values()))


Definition = TypeVar("Definition", OperationDefinitionNode, FragmentDefinitionNode)


def _define(target: dict[str, Definition], name: str, definition: Definition,
            path: Path) -> None:
    if name in target:
        raise ValueError(f"{path.name}: {name} is defined twice")
    target[name] = definition


@cache
def operations() -> dict[str, DocumentNode]:
    """Operation name -> a document ready to send."""
    ops: dict[str, OperationDefinitionNode] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                _define(ops, definition.name.value, definition, path)
            elif isinstance(definition, FragmentDefinitionNode):
                _define(fragments, definition.name.value, definition, path)
            else:
                raise ValueError(f"{path.name}: only named operations and fragments belong here")
    return {name: _document_for(op, fragments) for name, op in ops.items()}
