#!/usr/bin/env bash
# Brings up what the broker's end-to-end tests need on a Debian machine: Docker Engine (docker.io),
# gVisor (runsc) registered as a runtime, and a registry-free busybox test image. Idempotent and
# quick when everything is already up, so tests and .ci/run can call it unconditionally.
set -euo pipefail

TEST_IMAGE="${DOCKLOCK_TEST_IMAGE:-docklock-test/busybox:latest}"
SOCK=/var/run/docker.sock
# Debian's client lives in /usr/bin; /usr/local/bin/docker may be an unrelated, newer client.
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi

# Test files run in parallel and may all call this script: one at a time.
LOCK="${TMPDIR:-/tmp}/docklock-docker-up-v2.lock"
exec 9>"$LOCK"
flock -w 900 9 || { echo "docker-up: another docker-up.sh has held $LOCK for 15 minutes" >&2; exit 1; }

need_pkgs=()
[ -x "$DOCKERD" ] || need_pkgs+=(docker.io)
command -v runsc >/dev/null 2>&1 || need_pkgs+=(runsc)
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
RUNSC="$(command -v runsc)"

# gVisor's netstack fails in this VM; --network=host keeps Docker's private network namespace for
# the container while gVisor uses the host kernel's stack inside it. --oci-seccomp makes runsc
# apply the container's seccomp profile inside the sandbox.
want_cfg=$(cat <<JSON
{
  "runtimes": {
    "runsc": {
      "path": "$RUNSC",
      "runtimeArgs": ["--oci-seccomp", "--network=host"]
    }
  }
}
JSON
)
cfg_changed=0
if [ ! -f /etc/docker/daemon.json ] || [ "$(cat /etc/docker/daemon.json)" != "$want_cfg" ]; then
  $SUDO mkdir -p /etc/docker
  printf '%s\n' "$want_cfg" | $SUDO tee /etc/docker/daemon.json >/dev/null
  cfg_changed=1
fi

engine_up() { $SUDO "$DOCKER" -H "unix://$SOCK" info >/dev/null 2>&1; }

if engine_up && [ "$cfg_changed" -eq 1 ]; then
  # Reload picks up runtime changes without stopping running containers.
  if [ -s /var/run/docker.pid ]; then $SUDO kill -HUP "$(cat /var/run/docker.pid)"; sleep 1; fi
fi

if ! engine_up; then
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl start docker || true
  fi
fi
if ! engine_up; then
  # dockerd starts its own containerd when none is listening.
  # 9>&-: the daemon must not inherit (and so hold forever) the lock of this script.
  $SUDO nohup "$DOCKERD" -H "unix://$SOCK" >/var/log/dockerd.log 2>&1 9>&- &
  for _ in $(seq 1 120); do
    engine_up && break
    sleep 0.5
  done
fi
if ! engine_up; then
  echo "docker-up: dockerd did not come up; last log lines:" >&2
  tail -n 30 /var/log/dockerd.log >&2 || true
  exit 1
fi

if ! $SUDO "$DOCKER" info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
  echo "docker-up: runtime runsc is not registered with dockerd" >&2
  exit 1
fi

if ! $SUDO "$DOCKER" image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' EXIT
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc"
  cp /bin/busybox "$dir/bin/busybox"
  for applet in sh ls cat echo sleep id unshare mount touch httpd nc wc grep; do
    ln -s busybox "$dir/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  (cd "$dir" && tar -c .) | $SUDO "$DOCKER" import -c 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
fi

echo "docker-up: dockerd $($SUDO "$DOCKER" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), runsc at $RUNSC, image $TEST_IMAGE"
