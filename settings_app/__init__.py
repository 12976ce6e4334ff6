"""Runtime settings. ``get_setting`` is the one reader of an effective setting value."""


def get_setting(key: str):
    from settings_app.registry import get_setting as read

    return read(key)
