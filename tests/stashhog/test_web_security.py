"""What a browser gets from StashHog's own pages: a Content-Security-Policy that keeps
scripts on this server, the API docs served from local files, the TLS proxy switch."""

import re

import pytest

from stashhog import settings as stashhog_settings

pytestmark = pytest.mark.django_db


def csp(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("path", ["/jobs/", "/admin/", "/admin/jobs/job/", "/api/docs",
                                  "/api/redoc"])
def test_pages_allow_scripts_from_this_server_only(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    policy = csp(response)
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", ["/api/docs", "/api/redoc"])
def test_api_docs_load_nothing_from_another_site_and_no_inline_script(admin_client, path):
    html = admin_client.get(path).content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts
    assert all("src=" in attributes for attributes in scripts)
    for url in re.findall(r"""(?:src|href)="([^"]+)\"""", html):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)  # close whitenoise's file


def test_swagger_start_script_is_javascript_naming_the_local_schema(admin_client):
    response = admin_client.get("/api/docs?script=")
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/schema" in response.content.decode()


def test_the_proxy_header_switch_names_the_header_the_proxy_sets(monkeypatch):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    assert stashhog_settings._proxy_ssl_header() == ("HTTP_X_FORWARDED_PROTO", "https")
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "")
    assert stashhog_settings._proxy_ssl_header() is None
