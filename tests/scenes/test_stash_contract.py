"""The project's Stash operations and the fake's schema against the upstream Stash schema.

Runs only where the upstream schema snapshot sits beside the repository (../shared).
"""

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
)

from tests.fakes.stash import SCHEMA as FAKE_SCHEMA

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = REPO_ROOT.parent / "shared"
SCHEMA_DIR = SHARED / "stash-schema"
CHECK_TOOL = SHARED / "tools" / "check_stash_ops.py"

pytestmark = pytest.mark.skipif(
    not SCHEMA_DIR.is_dir(),
    reason=f"upstream Stash schema not found at {SCHEMA_DIR}; contract checks skipped",
)


@pytest.fixture(scope="module")
def upstream():
    return build_schema("\n".join(f.read_text() for f in sorted(SCHEMA_DIR.rglob("*.graphql"))))


def test_operations_validate_against_upstream():
    if not CHECK_TOOL.is_file():
        pytest.skip(f"{CHECK_TOOL} not found")
    result = subprocess.run(
        [sys.executable, str(CHECK_TOOL), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _differences(fake_type, upstream_type) -> list[str]:
    name = fake_type.name
    if upstream_type is None:
        return [f"{name}: not in upstream"]
    if type(fake_type) is not type(upstream_type):
        return [f"{name}: is {type(fake_type).__name__} upstream {type(upstream_type).__name__}"]
    if isinstance(fake_type, GraphQLEnumType):
        return [f"{name}.{v}: no such enum value" for v in fake_type.values
                if v not in upstream_type.values]
    problems = []
    for field_name, field in fake_type.fields.items():
        theirs = upstream_type.fields.get(field_name)
        if theirs is None:
            problems.append(f"{name}.{field_name}: no such field")
            continue
        if str(field.type) != str(theirs.type):
            problems.append(f"{name}.{field_name}: {field.type} but upstream {theirs.type}")
        for arg_name, arg in getattr(field, "args", {}).items():
            their_arg = theirs.args.get(arg_name)
            if their_arg is None:
                problems.append(f"{name}.{field_name}({arg_name}): no such argument")
            elif str(arg.type) != str(their_arg.type):
                problems.append(
                    f"{name}.{field_name}({arg_name}): {arg.type} but upstream {their_arg.type}"
                )
    return problems


def test_fake_schema_is_a_subset_of_upstream(upstream):
    checked = [
        t
        for name, t in FAKE_SCHEMA.type_map.items()
        if not name.startswith("__")
        and isinstance(t, GraphQLObjectType | GraphQLInputObjectType | GraphQLEnumType)
    ]
    problems = [p for t in checked for p in _differences(t, upstream.type_map.get(t.name))]

    assert len(checked) > 30  # the comparison really ran over the subset
    assert problems == []


def test_fake_scalars_exist_upstream(upstream):
    for name, fake_type in FAKE_SCHEMA.type_map.items():
        if isinstance(fake_type, GraphQLScalarType):
            assert isinstance(upstream.type_map.get(name), GraphQLScalarType), name


def test_the_comparison_catches_a_wrong_type(upstream):
    wrong = build_schema("type Query { findScene(id: ID!): Scene } type Scene { id: String! }")

    assert _differences(wrong.query_type, upstream.query_type) == [
        "Query.findScene(id): ID! but upstream ID"
    ]
    assert _differences(wrong.get_type("Scene"), upstream.get_type("Scene")) == [
        "Scene.id: String! but upstream ID!"
    ]
