"""Validating request data at the edge: one helper, so every bad input answers the same
400 envelope (``code: "validation_error"``, ``detail``: the problems by field).

Request serializers take ``NoUnknownKeysMixin``: an unknown key (a typo) is an error,
never silently ignored, and the schema says so (``additionalProperties: false``, see
``stashhog.api.schema``). Unknown query parameters of lists are the filter backend's
(``stashhog.api.filters``).
"""

from rest_framework import serializers

from stashhog.api.request_cycles import unbind


class NoUnknownKeysMixin:
    """Unknown keys are errors, not silently ignored (a typo must not widen a selection)."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``: in a JSON body, "yes" or 1 is a mistake, not a flag."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JSONNumberMixin:
    """A JSON number: ``true`` or ``"0.5"`` in a JSON body is a mistake, not a number
    (DRF's number fields would take both, as 1 and 0.5)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONFloatField(JSONNumberMixin, serializers.FloatField):
    pass


class JSONIntegerField(JSONNumberMixin, serializers.IntegerField):
    pass


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        unbind(serializer)  # else a cycle (its fields point back at it) per request
