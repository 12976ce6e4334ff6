"""Validating request data at the edge: one helper, so every bad input answers the same
400 envelope (``error: "Invalid input"``, ``detail``: the problems by field)."""


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
