# The app image: dependencies from the hashed runtime lock (a layer of their own, rebuilt only when
# requirements.lock changes), then the code, installed without dependencies.
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    MPLCONFIGDIR=/app/var/matplotlib
# Charts draw Chinese labels: without a CJK font they answer 503 cjk_font_missing.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY core ./core
COPY market ./market
COPY search ./search
COPY contracts ./contracts
COPY app ./app
COPY alembic ./alembic
# /run/techmarket holds the scoped search key that the search-key service writes (a named volume
# takes this directory's owner when it is first mounted).
RUN pip install --no-deps -e . \
    && useradd --system --home /app techmarket \
    && mkdir -p /app/var /run/techmarket \
    && chown techmarket /app/var /run/techmarket
USER techmarket
# matplotlib's font list, built once here instead of on the first chart request
RUN python -c "import matplotlib.font_manager"
EXPOSE 8000
CMD ["techmarket", "serve", "--host", "0.0.0.0", "--port", "8000"]
