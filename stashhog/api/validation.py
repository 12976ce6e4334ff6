"""Validating request data at the edge: one helper, so every bad input answers the same
400 envelope (``code: "validation_error"``, ``detail``: the problems by field).

Request serializers take ``NoUnknownKeysMixin``: an unknown key (a typo) is an error,
never silently ignored, and the schema says so (``additionalProperties: false``, see
``stashhog.api.schema``). Unknown query parameters of lists are the filter backend's
(``stashhog.api.filters``).
"""

from rest_framework import serializers


class NoUnknownKeysMixin:
    """Unknown keys are errors, not silently ignored (a typo must not widen a selection)."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
