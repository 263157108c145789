# syntax=docker/dockerfile:1

# Sentinel production image (Cloud Run). Built by .github/workflows/deploy.yml, linted by `npm run lint:docker`.

# ---- deps: production node_modules, including the native TensorFlow.js runtime ----
FROM node:20-bookworm-slim AS deps
WORKDIR /app

# Toolchain for native addons that have to build from source (better-sqlite3, tfjs-node's binding).
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
  && rm -rf /var/lib/apt/lists/*

COPY package.json package-lock.json ./
# Optional dependencies are installed (the default): @tensorflow/tfjs-node downloads libtensorflow here.
RUN npm ci --omit=dev --include=optional --no-audit --no-fund \
  && npm cache clean --force
# tfjs-node is the production runtime: fail the build rather than ship an image that silently falls back.
RUN node -e "require('@tensorflow/tfjs-node')"

# ---- runtime ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8080
WORKDIR /app

COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY adapters ./adapters
COPY config ./config
# models/ is writable by the app: the registry caches hydrated model versions next to the shipped ones.
COPY --chown=node:node models ./models

# data/: the SQLite store and the cache of models hydrated from GCS (mount a volume to keep them).
RUN mkdir -p /app/data && chown node:node /app/data

USER node
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["npm", "start"]
