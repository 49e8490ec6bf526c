#!/usr/bin/env bash
# Builds every app image for amd64 and arm64 with buildx and tags it <registry>/<app>:<tag>.
#   REGISTRY=ghcr.io/me TAG=0.1.0 ./build-images.sh            # build only (into the buildx cache)
#   REGISTRY=ghcr.io/me TAG=0.1.0 PUSH=1 ./build-images.sh     # build and push
#   APPS="openai-proxy token-server" ./build-images.sh         # a subset
set -euo pipefail
cd "$(dirname "$0")"
REGISTRY=${REGISTRY:-ghcr.io/auth-sidecars}
TAG=${TAG:-$(node -p "require('./package.json').version ?? 'dev'" 2>/dev/null || echo dev)}
PLATFORMS=${PLATFORMS:-linux/amd64,linux/arm64}
APPS=${APPS:-$(ls apps)}
output=(--output "type=image,push=${PUSH:-0}")
for app in $APPS; do
  echo "==> ${REGISTRY}/${app}:${TAG} (${PLATFORMS})"
  docker buildx build --platform "$PLATFORMS" -f "apps/${app}/Dockerfile" \
    -t "${REGISTRY}/${app}:${TAG}" "${output[@]}" .
done
