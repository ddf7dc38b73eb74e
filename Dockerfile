# Image for compose.yaml: clew installed with uv from the lock file.
FROM python:3.11-slim
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY . /app
RUN uv sync --frozen --no-dev && ln -s /app/.venv/bin/clew /usr/local/bin/clew
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 2024
CMD ["clew", "serve", "--host", "0.0.0.0", "--port", "2024"]
