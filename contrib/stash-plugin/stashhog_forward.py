"""Forward one Stash hook to StashHog (standard library only: Stash runs it as it is).

Stash starts this script for each hook with a JSON object on standard input: the server
connection (with the session cookie of the user whose action fired the hook) and
``args.hookContext``. The script reads its own settings (StashHog's URL and token) from
Stash's configuration with that cookie, sends ``{"hookContext": {"type", "id"}}`` to
``<StashHog URL>/api/hooks/stash`` and prints ``{"output": ...}`` or ``{"error": ...}``.
It is quick and keeps no state: StashHog coalesces bursts of hooks itself.
"""

import json
import sys
import urllib.error
import urllib.request

PLUGIN_ID = "stashhog"
TIMEOUT = 5  # seconds per request: Stash waits for the script
SETTINGS_QUERY = 'query { configuration { plugins(include: ["stashhog"]) } }'  # PLUGIN_ID


def stash_url(connection: dict) -> str:
    host = connection.get("Host") or "localhost"
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"  # Stash listens on every interface: reach it locally
    return f"{connection.get('Scheme') or 'http'}://{host}:{connection.get('Port', 9999)}"


def post_json(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read() or b"{}")


def plugin_settings(connection: dict) -> dict:
    cookie = connection.get("SessionCookie") or {}
    headers = {"Cookie": f"{cookie['Name']}={cookie['Value']}"} if cookie.get("Name") else {}
    answer = post_json(f"{stash_url(connection)}/graphql", {"query": SETTINGS_QUERY}, headers)
    plugins = ((answer.get("data") or {}).get("configuration") or {}).get("plugins") or {}
    return plugins.get(PLUGIN_ID) or {}


def forward(payload: dict) -> str:
    """Send the hook on; returns what to report to Stash. Raises RuntimeError on failure."""
    context = (payload.get("args") or {}).get("hookContext")
    if not context:
        return "not started by a hook: nothing to forward"
    settings = plugin_settings(payload.get("server_connection") or {})
    url, token = (settings.get("stashhogUrl") or "").rstrip("/"), settings.get("stashhogToken")
    if not url or not token:
        raise RuntimeError("set the StashHog URL and API token in Settings > Plugins > StashHog")
    hook = {"hookContext": {"type": context["type"], "id": context["id"]}}
    try:
        answer = post_json(f"{url}/api/hooks/stash", hook, {"Authorization": f"Token {token}"})
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"StashHog at {url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"could not reach StashHog at {url}: {exc}") from None
    return f"StashHog took {answer.get('scenes', 0)} scene(s) from {context['type']}"


def main() -> None:
    try:
        result = {"output": forward(json.load(sys.stdin))}
    except (RuntimeError, ValueError, KeyError, urllib.error.URLError, OSError) as exc:
        result = {"error": f"StashHog plugin: {exc}"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
