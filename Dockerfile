# Hearth API image: `hearth serve` by default; the same image runs `hearth migrate` and
# `hearth worker`. Configure it with HEARTH_* environment variables (see README).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/hearth
RUN useradd --system --create-home --uid 10001 hearth \
    && mkdir -p /srv/hearth/data && chown hearth:hearth /srv/hearth/data

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .
COPY alembic.ini ./
COPY alembic ./alembic

USER hearth
ENV HEARTH_HOST=0.0.0.0 \
    HEARTH_PORT=8000 \
    HEARTH_LOG_FORMAT=json \
    HEARTH_DATABASE_URL=sqlite+aiosqlite:////srv/hearth/data/hearth.db
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["hearth", "serve"]
