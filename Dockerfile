# records-service: the HTTP service and its command-line tools in one image.
#
#   docker build -t records-service .
#   docker run --rm -v records-data:/data -p 8000:8000 records-service
#
# With no configuration the service uses the embedded defaults under /data
# (SQLite, local blobs, search index). Production settings come from RECORDS_*
# environment variables; see docs/deployment.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECORDS_DATA_DIR=/data

# The Panel's report's PDF embeds DejaVu Sans (its glyphs cover far more than Latin).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid so that volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 records \
    && useradd --system --uid 10001 --gid records --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin records

# Tesseract recognises the text of scanned pages and images (RECORDS_EXTRACTION__OCR).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

# The source is built in a scratch directory and removed, so only the installed package remains.
COPY pyproject.toml README.md /tmp/build/
COPY src /tmp/build/src
RUN pip install /tmp/build && rm -rf /tmp/build

RUN mkdir /data && chown records:records /data
VOLUME ["/data"]
WORKDIR /data
USER records

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["records-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
