"""The scene-field definitions cover every field a change can have."""

from analysis.fields import SCENE_FIELDS, Shape
from analysis.models import ChangeField


def test_every_change_field_has_one_definition():
    assert list(SCENE_FIELDS) == list(ChangeField.values)


def test_entity_fields_name_their_kind_and_plain_fields_their_columns():
    for field in SCENE_FIELDS.values():
        if field.shape in (Shape.VALUE, Shape.VALUE_LIST):
            assert field.kind is None
            assert field.column
            assert field.check is not None
        else:
            assert field.kind is not None
            assert field.kind.many == (field.shape == Shape.ENTITY_LIST)
