"""How StashHog serves HTTP and WebSockets: gunicorn runs ``STASHHOG_WEB_WORKERS`` uvicorn
processes behind one port (``make run``, the Docker image and compose all start it with
``gunicorn -c python:stashhog.gunicorn_conf stashhog.asgi:application``).

Django runs each process's synchronous views one at a time, so throughput comes from
processes; gunicorn restarts a process that dies and shares the listening socket among
them. WebSocket updates reach every process through Redis (settings.CHANNEL_LAYERS).
"""

import os

from uvicorn_worker import UvicornWorker

# The web processes reach PostgreSQL through a connection pool (see settings.DATABASES); set
# before the settings are read. gunicorn loads Django in its master but connects only in
# the forked processes, so each process gets its own pool.
os.environ.setdefault("STASHHOG_DATABASE_POOL", "true")

from stashhog import settings  # noqa: E402

bind = [f"{settings.STASHHOG_HOST}:{settings.STASHHOG_PORT}"]
workers = settings.STASHHOG_WEB_WORKERS
worker_class = "stashhog.gunicorn_conf.StashHogWorker"
accesslog = None
# Keep idle client connections longer than a reverse proxy's upstream keep-alive, so the
# server never closes one just as the proxy (or a script) sends the next request on it.
keepalive = 75
# Import Django once in the master and fork: faster starts, pages shared between processes.
preload_app = True
# gunicorn's runtime control socket (one per user, in $HOME) is not used by StashHog.
control_socket_disable = True


class StashHogWorker(UvicornWorker):
    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        # Channels' router has no lifespan protocol; do not probe for it on every start.
        "lifespan": "off",
        # Job updates are small JSON sent to many sockets at once: compressing each copy
        # separately costs more CPU than the bytes it saves on a LAN or loopback proxy.
        "ws_per_message_deflate": False,
    }
