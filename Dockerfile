# syntax=docker/dockerfile:1
# dns-tuner image: `docker build -t dns-tuner:0.1.0 .` (the manifests use image `dns-tuner:0.1.0`).
# Pin the base images by digest in your registry mirror for reproducible builds.

# --- production dependencies only ----------------------------------------------------------------------------------
# --omit=dev drops the `node` devDependency (the runtime image brings its own Node 24) and the tool chain;
# --ignore-scripts: no production dependency needs an install script.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- build: TypeScript -> dist/ ------------------------------------------------------------------------------------
# Debian (glibc), not Alpine: the `node` devDependency and TypeScript 7's native compiler ship glibc binaries.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: no shell, no package manager, uid 65532 ----------------------------------------------------------------
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
# 9443: HTTPS admission endpoint (/mutate, /dry-run). 8080: plain HTTP /livez, /readyz, /metrics.
EXPOSE 9443 8080
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
