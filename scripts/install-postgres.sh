#!/usr/bin/env bash
# Installs what the PostgreSQL index location and its tests need on Debian 12 (bookworm), as root:
#   - PostgreSQL 15 server and the headers to build extensions (Debian's packages),
#   - PL/Proxy (postgresql-15-plproxy, Debian's package; for sharding),
#   - pgvector 0.8.0, built from Debian 13 (trixie)'s source package: bookworm packages only 0.4.1.
# Idempotent: each step is skipped when its result is already there. Nothing else is upgraded.
# Environment: PG_MAJOR (default 15), PGVECTOR_VERSION (default 0.8.0-1, trixie's).
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PGVECTOR_VERSION="${PGVECTOR_VERSION:-0.8.0-1}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
# Outside sources.list.d: only the apt calls below read it, so the system's own apt never sees trixie.
TRIXIE_SRC=/etc/apt/colts-trixie-src.list

if [ "$(id -u)" -ne 0 ]; then
  echo "install-postgres.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for pkg in "postgresql-${PG_MAJOR}" "postgresql-server-dev-${PG_MAJOR}" "postgresql-${PG_MAJOR}-plproxy" dpkg-dev build-essential; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The version string of the installed extension, from its control file ("" when absent).
installed_vector() {
  local control
  control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
  [ -f "$control" ] && sed -n "s/^default_version = '\(.*\)'/\1/p" "$control" || true
}

want="${PGVECTOR_VERSION%-*}"
if [ "$(installed_vector)" != "$want" ]; then
  echo "building pgvector ${PGVECTOR_VERSION} from Debian trixie's source package"
  # A deb-src line for trixie, read only by the two apt calls below (Dir::Etc::sourcelist points them
  # at it alone): binary packages keep coming from bookworm.
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$TRIXIE_SRC"
  only_trixie=(-o "Dir::Etc::sourcelist=$TRIXIE_SRC" -o "Dir::Etc::sourceparts=-" -o "APT::Get::List-Cleanup=0")
  apt-get update -qq "${only_trixie[@]}"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  chown _apt "$work" 2>/dev/null || true # apt downloads as _apt when it can write there
  # apt checks the .dsc's signature chain (Release file) and every file's SHA-256 before unpacking.
  (cd "$work" && apt-get source -qq "${only_trixie[@]}" "pgvector=${PGVECTOR_VERSION}")
  # Debian's no-native patch (applied by dpkg-source) drops -march=native: the build runs anywhere.
  make -s -C "$work/pgvector-${want}" PG_CONFIG="$PG_CONFIG" -j"$(nproc)"
  make -s -C "$work/pgvector-${want}" PG_CONFIG="$PG_CONFIG" install
  echo "pgvector $(installed_vector) installed"
else
  echo "pgvector ${want} already installed"
fi

# initdb refuses to run as root: the test helper and scripts/pg-local.sh run the server as this
# user, which Debian's postgresql-common package creates.
id postgres >/dev/null 2>&1 || { echo "install-postgres.sh: the postgres system user is missing" >&2; exit 1; }
echo "PostgreSQL ${PG_MAJOR}: $("$PG_CONFIG" --version); binaries in $("$PG_CONFIG" --bindir)"
