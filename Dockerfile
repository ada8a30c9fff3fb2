# The portal's image: gunicorn (gunicorn.conf.py) as an unprivileged user; docker-compose.yml
# runs the same image as web, worker, beat and the one-shot `migrate`.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, as their own layer: a code change does not reinstall them. The
# project declares no packages of its own (pyproject [tool.setuptools] packages = []),
# so this installs exactly its dependencies.
COPY pyproject.toml ./
RUN pip install .

COPY . .
# collectstatic imports the settings but connects to nothing: placeholders stand in for
# the services and the key (the real ones come from the environment at run time).
RUN DATABASE_URL=postgresql://unused@localhost/unused REDIS_URL=redis://localhost:6379/0 \
        SECRET_KEY=collectstatic-only DEBUG=0 \
        python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --uid 10001 --no-create-home --home-dir /app portal \
    && mkdir -p /data/media \
    && chown portal /data/media

USER portal
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-m", "portal.healthcheck"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi:application"]
