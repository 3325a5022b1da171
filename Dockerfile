# The Parley image for compose.yaml: the API, the projector and (in-process) ingestion, CPU only.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HAYSTACK_TELEMETRY_ENABLED=False ANONYMIZED_TELEMETRY=False HF_HUB_OFFLINE=1 OMP_THREAD_LIMIT=1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY adapters adapters
COPY projections projections
COPY api api
# The CPU build of torch (a plain `torch` would pull the CUDA one), then Parley with its production engines.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && pip install --no-cache-dir ".[postgres,kurrentdb]"
EXPOSE 8000
CMD ["parley", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
