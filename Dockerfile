# syntax=docker/dockerfile:1

# Sentinel production image (Cloud Run). Built and smoke-tested by .github/workflows/ci.yml, pushed and
# deployed by .github/workflows/deploy.yml, linted by `npm run lint:docker`. docs/deploy.md walks through it.
#
# Stages: base (the pinned Node image) → toolchain (compilers for native addons) → build (all dependencies,
# `npm run build` into dist/) and deps (production dependencies only, tfjs-node verified) → runtime (dist/,
# production node_modules, models/, package.json; no TypeScript, no tsx, no compilers, not root).

# ---- base: Node 20 on Debian bookworm, pinned by digest ----
# The digest is the multi-arch index of node:20-bookworm-slim (Node 20.20.2, the last Node 20 build: Node 20
# reached end of life on 2026-04-30, so this tag gets no more updates). Dependabot (.github/dependabot.yml)
# proposes new digests; to refresh by hand:
#   docker buildx imagetools inspect node:20-bookworm-slim | grep -m1 '^Digest:'
# and paste that digest below (one place: every stage starts from `base`).
FROM node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS base
WORKDIR /app

# ---- toolchain: for native addons that have to build from source (better-sqlite3, tfjs-node's binding) ----
FROM base AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

# ---- build: every dependency (TypeScript is a dev dependency), then `npm run build` → dist/ ----
FROM toolchain AS build
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
# The build context is what .dockerignore lets through (sources, configs, models; no tests, docs or secrets).
COPY . .
RUN npm run build && test -f dist/src/main.js && test -f dist/dashboard/app.js

# ---- deps: production node_modules, including the native TensorFlow.js runtime ----
FROM toolchain AS deps
# Optional dependencies are installed (the default): @tensorflow/tfjs-node downloads libtensorflow here.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --include=optional --no-audit --no-fund
# tfjs-node is the production runtime: fail the build rather than ship an image that silently falls back.
RUN node -e "require('@tensorflow/tfjs-node')"

# ---- runtime ----
FROM base AS runtime
ENV NODE_ENV=production PORT=8080

# node_modules and dist stay owned by root: the app cannot rewrite its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# models/ is writable by the app: the registry caches hydrated model versions next to the shipped ones.
COPY --chown=node:node models ./models
# data/: the SQLite store in local mode and the cache of models hydrated from GCS (MODEL_CACHE_DIR).
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself, no npm and no shell: the base image's docker-entrypoint.sh `exec`s this argv, so node is
# PID 1 and receives Cloud Run's SIGTERM directly (CI checks /proc/1/cmdline). Keep it one JSON line.
CMD ["node", "dist/src/main.js"]
