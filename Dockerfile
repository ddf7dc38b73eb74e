# clew image: `clew serve` (default command) and `clew worker` (compose.yaml's worker service).
# Two stages: the build stage resolves dependencies from uv.lock before the sources are copied (so editing
# code reuses the dependency layer), the runtime stage holds the virtualenv, fonts and a non-root user.

FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv>=0.5,<1"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# dependencies first: this layer changes only with pyproject.toml / uv.lock
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
# then the sources, and clew itself
COPY . .
RUN uv sync --frozen --no-dev

FROM python:3.11-slim AS runtime
# Unicode (DejaVu) and CJK (WenQuanYi Micro Hei) fonts for PDF export (reports/fonts.py)
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin clew \
    && mkdir -p /data && chown clew:clew /data
WORKDIR /app
COPY --from=build --chown=clew:clew /app /app
ENV PATH="/app/.venv/bin:$PATH" \
    CLEW_DATA_DIR=/data \
    CLEW_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER clew
VOLUME ["/data"]
EXPOSE 2024
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:2024/ok', timeout=4)"]
CMD ["clew", "serve", "--host", "0.0.0.0", "--port", "2024"]
