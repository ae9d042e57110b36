# The EOC application image: one image, one process per container, chosen by the command
# (`eoc api`, `eoc relay`, `eoc worker`, `eoc bridge`, `eoc topics`). See docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango (with HarfBuzz) for the published reports' PDFs (WeasyPrint).
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Dependencies first, so that a change in the code does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY eoc ./eoc
COPY events ./events
COPY projections ./projections
COPY consumers ./consumers
COPY ui-bridge ./ui-bridge
RUN pip install --no-deps . && rm -rf /src/build

# Not root: the processes need nothing but their data directory.
RUN useradd --system --uid 10001 --home-dir /var/lib/eoc --create-home eoc
USER eoc
WORKDIR /var/lib/eoc
ENV EOC_DATA_DIR=/var/lib/eoc \
    EOC_HOST=0.0.0.0 \
    EOC_PORT=8123

EXPOSE 8123 8124
ENTRYPOINT ["eoc"]
CMD ["--help"]
