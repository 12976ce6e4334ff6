"""Loads the named GraphQL operations kept in ``operations/*.graphql``.

Each operation is sent as its own document holding just the fragments it uses, because a
GraphQL server rejects documents with unused fragments.
"""

from functools import cache
from pathlib import Path

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


@cache
def operations() -> dict[str, DocumentNode]:
    """Operation name -> a document ready to send."""
    ops: dict[str, OperationDefinitionNode] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            target = ops if isinstance(definition, OperationDefinitionNode) else fragments
            name = definition.name.value
            if name in target:
                raise ValueError(f"{path.name}: {name} is defined twice")
            target[name] = definition
    return {name: _document_for(op, fragments) for name, op in ops.items()}
