# Production image for docker-compose.yml: gunicorn serves the app, the same
# image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY registry ./registry
COPY api ./api
RUN pip install .

COPY . .
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 lutetia && mkdir -p /app/media && chown lutetia /app/media
USER lutetia
EXPOSE 8000
CMD ["gunicorn", "registry.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
