# smalltown's container image: `smalltown run` as an unprivileged user, with the drivers
# for PostgreSQL and Redis, and a health check on /health.
#
#   docker build -t smalltown .
#   docker run -p 8000:8000 -v smalltown-data:/var/lib/smalltown/data smalltown
#
# compose.yaml runs two of these on PostgreSQL + Redis behind nginx.

# Both stages start from the official slim Python image, at the Python the tests run on
# (Debian 12's 3.11).

# Stage 1: install smalltown and its dependencies (wheels only; no compiler needed) into a
# virtual environment, which the runtime stage copies whole.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/smalltown
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/smalltown/bin/pip install --no-cache-dir ".[postgres,redis]"

# Stage 2: the runtime: Python, the environment from stage 1, nothing to build with.
FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 smalltown \
    && useradd --system --uid 10001 --gid smalltown --home-dir /var/lib/smalltown \
       --create-home --shell /usr/sbin/nologin smalltown \
    && install -d -o smalltown -g smalltown /var/lib/smalltown/data
COPY --from=build /opt/smalltown /opt/smalltown
COPY deploy/healthcheck.py /opt/smalltown/bin/smalltown-healthcheck
ENV PATH=/opt/smalltown/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SMALLTOWN_HOST=0.0.0.0 \
    SMALLTOWN_PORT=8000
# On SQLite (the default) the town is ./data/smalltown.db here: mount a volume on it.
WORKDIR /var/lib/smalltown
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python", "/opt/smalltown/bin/smalltown-healthcheck"]
ENTRYPOINT ["smalltown", "run"]
