# Sourced by the other scripts: points JAVA_HOME at a JDK 25 or newer (the final FFM API), installing one
# from Debian's packages if none is found. The machine's default java may be 17.
jdk_major() {
  local release="$1/release"
  [ -f "$release" ] || return 1
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release"
}

find_jdk25() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(jdk_major "$candidate") || continue
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! JAVA_HOME=$(find_jdk25); then
  echo "ci/jdk.sh: no JDK >= 25 under JAVA_HOME or /usr/lib/jvm; trying Debian's openjdk-25-jdk-headless" >&2
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq openjdk-25-jdk-headless >&2 || true
  fi
  JAVA_HOME=$(find_jdk25) || {
    echo "ci/jdk.sh: grpo4j needs JDK 25. Install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
    exit 1
  }
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
