# syntax=docker/dockerfile:1
# metatape as a container: `docker build -t metatape .`, then on an NVIDIA host
#   docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
#     -v "$PWD/experiments:/app/experiments" metatape run configs/sinusoid-quick.yaml --backend gpujs:webgpu
# See README.md "Docker and clusters". System packages come from docker/install-system-deps.sh, which CI
# checks against this base's Debian release (test/docker/dockerfile.test.ts); the Dockerfile is linted there
# with dockerfile-utils.

# Debian 13 (trixie): glibc 2.41, which the `webgpu` package's prebuilt dawn.node needs (>= 2.38); Node 22 LTS.
# Ubuntu 24.04 with Node 22 works too (the install script supports it): pass --build-arg NODE_IMAGE=...
ARG NODE_IMAGE=node:22-trixie-slim

FROM ${NODE_IMAGE} AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
COPY docker/install-system-deps.sh /usr/local/lib/metatape/install-system-deps.sh

# ---- builder: compile the TypeScript and the optional `gl` addon, then drop dev dependencies ----
FROM base AS builder
RUN bash /usr/local/lib/metatape/install-system-deps.sh --clean build
# The npm the lock file was written with. gl (gpu.js's headlessgl mode) is built from source below against
# this image's X11 headers and Node headers (prebuild-install would fetch a binary from outside the npm registry).
ARG NPM_VERSION=11.19.1
RUN npm install -g --no-audit --no-fund "npm@${NPM_VERSION}"
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# `npm ci` compiles nothing (npm 11 skips unapproved install scripts; .npmrc is not copied here): gl is
# installed and built explicitly, as `npm run setup:gpu -- headlessgl` does in a checkout.
RUN npm ci --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund --ignore-scripts \
      "gl@$(node -p "require('./package-lock.json').packages['node_modules/gl'].version")" \
 && (cd node_modules/gl && ../.bin/node-gyp rebuild -j max --nodedir /usr/local) \
 && node -e "require('gl')" \
 && node --input-type=module -e "await import('webgpu')"
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# gpu.js is an optional peer (so that installing metatape from npm compiles nothing); this image is for GPU
# jobs, so it becomes a dependency here before the dev tools are pruned (gl, built above, stays with it).
RUN npm run build \
 && npm pkg set "dependencies[gpu.js]=$(node -p "require('./package.json').devDependencies['gpu.js']")" \
 && npm prune --omit=dev --no-audit --no-fund \
 && node -e "require('gpu.js'); require('gl')"

# ---- runtime: Vulkan loader + lavapipe, Mesa GL + Xvfb, the built project, a non-root user ----
FROM base AS runtime
RUN bash /usr/local/lib/metatape/install-system-deps.sh --clean runtime
# graphics: the NVIDIA container toolkit mounts the Vulkan ICD (and the GLX/EGL libraries it needs) only
# with this capability; compute/utility give nvidia-smi and CUDA-side tools. NVIDIA_VISIBLE_DEVICES=all
# asks for every GPU the runtime grants (`--gpus` or a Kubernetes `nvidia.com/gpu` limit narrow it).
ENV NODE_ENV=production \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    XDG_RUNTIME_DIR=/tmp/runtime-metatape \
    METATAPE_OUT=/app/experiments
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin metatape \
 && install -d -o metatape -g metatape /app/experiments /app/datasets \
 && install -d -m 0700 -o metatape -g metatape /tmp/runtime-metatape
COPY --from=builder /app/package.json /app/package-lock.json ./
COPY --from=builder /app/node_modules ./node_modules
COPY --from=builder /app/dist ./dist
COPY bin ./bin
COPY configs ./configs
RUN ln -s /app/bin/metatape.js /usr/local/bin/metatape
USER metatape
# Build-time smoke test on the software devices (lavapipe, llvmpipe behind Xvfb): proves dawn.node loads on
# this glibc, the Vulkan loader finds a driver, and the gl addon opens a context. --build-arg SMOKE_TEST=0 skips.
ARG SMOKE_TEST=1
RUN if [ "${SMOKE_TEST}" = 1 ]; then \
      metatape doctor --backend gpujs:webgpu \
      && xvfb-run -a metatape doctor --backend gpujs:headlessgl --skip-kernels; \
    fi
VOLUME ["/app/experiments", "/app/datasets"]
# Exit status non-zero when the configured backend ($METATAPE_BACKEND, else cpu) cannot run a kernel.
HEALTHCHECK --interval=5m --timeout=2m --start-period=1m --retries=2 \
  CMD ["metatape", "doctor", "--quiet"]
ENTRYPOINT ["metatape"]
CMD ["--help"]
