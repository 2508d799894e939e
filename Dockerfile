# The app image installs the project the same way the README does (editable install of the tree).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY core ./core
COPY market ./market
COPY search ./search
COPY contracts ./contracts
COPY app ./app
COPY alembic ./alembic
RUN pip install --no-cache-dir -e . && useradd --system --home /app techmarket && mkdir -p /app/var && chown techmarket /app/var
USER techmarket
EXPOSE 8000
CMD ["techmarket", "serve", "--host", "0.0.0.0", "--port", "8000", "--migrate"]
