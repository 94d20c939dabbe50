# Production image for docker-compose.yml: gunicorn serves the app, the same
# image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Pango for WeasyPrint (the report's PDF), and fonts for it to draw with.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The pinned versions first (a cached layer while they do not change), then the app itself.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY registry ./registry
COPY api ./api
RUN pip install --no-deps .

COPY . .
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 lutetia && mkdir -p /app/media /app/beat && chown lutetia /app/media /app/beat
USER lutetia
EXPOSE 8000
# Workers, timeouts and the address come from gunicorn.conf.py (GUNICORN_* variables).
ENV GUNICORN_BIND=0.0.0.0:8000
CMD ["gunicorn", "registry.wsgi:application"]
