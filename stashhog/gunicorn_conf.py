"""How StashHog serves HTTP and WebSockets: gunicorn runs ``STASHHOG_WEB_WORKERS`` uvicorn
processes behind one port (``make run``, the Docker image and compose all start it with
``gunicorn -c python:stashhog.gunicorn_conf stashhog.asgi:application``).

Django runs each process's synchronous views one at a time, so throughput comes from
processes; gunicorn restarts a process that dies and shares the listening socket among
them. WebSocket updates reach every process through Redis (settings.CHANNEL_LAYERS).
"""

from uvicorn_worker import UvicornWorker

from stashhog import settings

bind = [f"{settings.STASHHOG_HOST}:{settings.STASHHOG_PORT}"]
workers = settings.STASHHOG_WEB_WORKERS
worker_class = "stashhog.gunicorn_conf.StashHogWorker"
accesslog = None
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
