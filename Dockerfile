# newsmon in a container: non-root, config mounted read-only at /etc/newsmon/config.yaml, the SQLite store
# in the volume /var/lib/newsmon, /healthz and /metrics on port 9464. See README.md, "Docker", and compose.yaml.
#   docker build -t newsmon .
#   docker run -d --name newsmon -p 127.0.0.1:9464:9464 -v newsmon-data:/var/lib/newsmon \
#     -v "$PWD/my-config.yaml:/etc/newsmon/config.yaml:ro" newsmon
# This image is not built by this repository's CI (tests/test_deploy.py checks this file statically and runs
# its health check against a real health endpoint).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NEWSMON_LISTEN=0.0.0.0:9464

# A fixed uid/gid, so that a volume or bind mount can be given to it: chown 10001:10001 DIR.
RUN groupadd --system --gid 10001 newsmon \
 && useradd --system --uid 10001 --gid newsmon --home-dir /var/lib/newsmon --no-create-home \
            --shell /usr/sbin/nologin newsmon

WORKDIR /opt/newsmon
# Every transitive version pinned: the layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY alerts ./alerts
COPY spiders ./spiders
RUN pip install --no-deps . && newsmon --version

# The default config (mount your own over it); the store's directory, owned by the service user.
COPY deploy/docker/config.yaml /etc/newsmon/config.yaml
RUN mkdir -p /var/lib/newsmon && chown newsmon:newsmon /var/lib/newsmon && chmod 0750 /var/lib/newsmon \
 && NEWSMON_TOKEN= newsmon validate -c /etc/newsmon/config.yaml
VOLUME ["/var/lib/newsmon"]
WORKDIR /var/lib/newsmon

USER 10001:10001
EXPOSE 9464

# 200 from /healthz (open even with server.token set); 503 (stalled, degraded, stopping) or no answer fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('NEWSMON_LISTEN', '0.0.0.0:9464').rpartition(':')[2]; urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=4).close()"]

# SIGTERM: newsmon stops scheduling, finishes in-flight requests within crawl.shutdown_grace (20s) and exits 0;
# give it that plus margin (`docker stop -t 45`, compose's stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["newsmon", "run", "-c", "/etc/newsmon/config.yaml"]
