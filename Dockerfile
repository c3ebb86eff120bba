# ledgerflow: gateway and projector image (one image, the command decides the role).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LEDGERFLOW_DATA_DIR=/var/lib/ledgerflow
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv pip install --system --no-cache -r requirements.lock

COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY services ./services
RUN uv pip install --system --no-cache --no-deps . \
 && useradd --system --create-home --home-dir /var/lib/ledgerflow ledgerflow

USER ledgerflow
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2)"
CMD ["ledgerflow", "server", "--host", "0.0.0.0"]
