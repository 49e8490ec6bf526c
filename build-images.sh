#!/usr/bin/env bash
# Builds the app images from apps/<app>/Dockerfile (repo root as context) and tags them
# <registry>/<app>:<tag>. TAG defaults to the Helm chart's appVersion, so the chart's default
# image references are what you get.
#   ./build-images.sh                                        # all five apps
#   REGISTRY=ghcr.io/me TAG=0.1.0 PUSH=1 ./build-images.sh    # build and push
#   APPS="openai-proxy token-server" ./build-images.sh       # a subset; `dev` is the demo tooling image (dev/Dockerfile)
#   REGISTRY=auth-sidecars TAG=local APPS="$(ls apps) dev" ./build-images.sh   # the images docker-compose.yml runs
#   DRY_RUN=1 ./build-images.sh                              # print what it would build, build nothing
# Builder: docker buildx when it and a Docker engine answer (PLATFORMS, default linux/amd64,linux/arm64;
# without PUSH=1 the result stays in the buildx cache), else podman for this machine's platform
# (`--format docker`, which keeps the HEALTHCHECK; PUSH=1 pushes afterwards). BUILDER=podman|buildx forces one.
# The Dockerfiles start FROM node:24-bookworm-slim; where Docker Hub cannot be reached, make it
# with `node scripts/base-image.mjs` (root; podman).
set -euo pipefail
cd "$(dirname "$0")"
REGISTRY=${REGISTRY:-ghcr.io/auth-sidecars}
TAG=${TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' helm/auth-sidecars/Chart.yaml)}
PLATFORMS=${PLATFORMS:-linux/amd64,linux/arm64}
APPS=${APPS:-$(ls apps)}
if [[ -z "$TAG" ]]; then
  echo "build-images.sh: no TAG given and no appVersion in helm/auth-sidecars/Chart.yaml" >&2
  exit 1
fi

if [[ -z "${BUILDER:-}" ]]; then
  if docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    BUILDER=buildx
  elif command -v podman >/dev/null 2>&1; then
    BUILDER=podman
  else
    echo "build-images.sh: needs docker buildx (with a running Docker engine) or podman" >&2
    exit 1
  fi
fi

podman_flags=(--format docker)
if [[ "$BUILDER" == podman ]]; then
  # The settings scripts/base-image.mjs writes for machines that need them (runc, ulimits).
  if [[ -z "${CONTAINERS_CONF:-}" && -f .tmp/podman/containers.conf ]]; then
    export CONTAINERS_CONF=$PWD/.tmp/podman/containers.conf
  fi
  # Behind a TLS-intercepting proxy npm trusts an extra CA; hand it to the build's npm (a mount,
  # never a layer).
  cafile=$(npm config get cafile 2>/dev/null || true)
  if [[ -z "$cafile" || "$cafile" == null || "$cafile" == undefined ]]; then cafile=${NODE_EXTRA_CA_CERTS:-}; fi
  if [[ -n "$cafile" && -f "$cafile" ]]; then
    npmrc=$(mktemp)
    trap 'rm -f "$npmrc"' EXIT
    echo "cafile=/run/host-ca/ca.pem" >"$npmrc"
    chmod 644 "$npmrc"
    podman_flags+=(-v "$cafile:/run/host-ca/ca.pem:ro" -v "$npmrc:/root/.npmrc:ro")
  fi
fi

for app in $APPS; do
  dockerfile=apps/${app}/Dockerfile
  [[ "$app" == dev ]] && dockerfile=dev/Dockerfile
  if [[ ! -f "$dockerfile" ]]; then
    echo "build-images.sh: no $dockerfile (apps: $(ls apps | tr '\n' ' ')or dev)" >&2
    exit 1
  fi
  ref=${REGISTRY}/${app}:${TAG}
  if [[ "${DRY_RUN:-0}" == 1 ]]; then
    echo "would build ${ref} from ${dockerfile} with ${BUILDER}"
    continue
  fi
  started=$SECONDS
  if [[ "$BUILDER" == buildx ]]; then
    echo "==> ${ref} (buildx, ${PLATFORMS})"
    docker buildx build --platform "$PLATFORMS" -f "$dockerfile" -t "$ref" \
      --output "type=image,push=$([[ "${PUSH:-0}" == 1 ]] && echo true || echo false)" .
  else
    echo "==> ${ref} (podman)"
    podman build "${podman_flags[@]}" -f "$dockerfile" -t "$ref" .
    if [[ "${PUSH:-0}" == 1 ]]; then podman push "$ref"; fi
  fi
  echo "==> built ${ref} in $((SECONDS - started)) s"
done
