#!/usr/bin/env bash
# Make sure the services the test suites use are up (PostgreSQL, Redis), starting any that stopped.
# With CI=true a service named in REQUIRED_SERVICES ("postgres redis") that cannot be reached is
# a failure; otherwise it is a warning and the suites that need it skip with a visible message.
set -u
required=" ${REQUIRED_SERVICES:-} "

want_pg=${WANT_POSTGRES:-1}
want_redis=${WANT_REDIS:-1}
status=0

fail_or_warn() { # message, service
  if [ "${CI:-}" = "true" ] && [[ "$required" == *" $2 "* ]]; then
    echo "services: $1 (CI=true: failing)" >&2
    status=1
  else
    echo "services: $1 (tests that need it will skip)" >&2
  fi
}

wait_for() { # command, tries
  local i
  for i in $(seq 1 "$2"); do
    if eval "$1" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

# A machine of another kind may have no PostgreSQL at all (shared/SERVICES.md): CI, which needs
# it, installs Debian's, lets 127.0.0.1 in without a password (loopback only, as on the
# development machines) and creates the database the tests use.
install_postgres() {
  local sudo="" version hba
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "services: installing PostgreSQL"
  $sudo apt-get update -qq || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql || return 1
  version=$(ls /etc/postgresql | head -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" || $sudo sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main reload || return 1
  wait_for "pg_isready -h 127.0.0.1 -p 5432" 20 || return 1
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 ||
    createdb -h 127.0.0.1 -U postgres test
}

if [ "$want_pg" = 1 ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ] && [[ "$required" == *" postgres "* ]] && [ ! -d /etc/postgresql ]; then
      install_postgres || echo "services: installing PostgreSQL failed" >&2
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "services: starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    fi
    wait_for "pg_isready -h 127.0.0.1 -p 5432" 20 || fail_or_warn "PostgreSQL is not reachable on 127.0.0.1:5432" postgres
  fi
fi

if [ "$want_redis" = 1 ]; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    if command -v redis-server >/dev/null 2>&1; then
      echo "services: starting Redis"
      mkdir -p /var/lib/redis /var/log/redis
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    fi
    wait_for "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG" 10 || fail_or_warn "Redis is not reachable on 127.0.0.1:6379" redis
  fi
fi

exit $status
