# order-gateway image. Build and start run scripts/release.sh, the same script CI runs
# (`scripts/release.sh check`), so CI proves these steps without a Docker engine.
#
#   docker build -t order-gateway .
#   docker compose up      (PostgreSQL, Redis, the migration step, two gateways; see compose.yaml)

# --- build: dev dependencies, TypeScript, `npm pack` of dist/ ---------------------------------
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN scripts/release.sh pack /pkg && mv /pkg/order-gateway-*.tgz /pkg/order-gateway.tgz

# --- run: the packed artefact with production dependencies only, as a non-root user -----------
FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    ENV_FILE=none
COPY --from=build /src/scripts/release.sh /usr/local/bin/order-gateway-release
# The tarball and the lockfile beside it: `install` runs `npm ci --omit=dev`, the locked versions exactly.
COPY --from=build /pkg/ /tmp/pkg/
RUN order-gateway-release install /tmp/pkg/order-gateway.tgz /app && rm -rf /tmp/pkg \
    && mkdir -p /data && chown node:node /data
USER node
WORKDIR /app
VOLUME ["/data"]
EXPOSE 3000
# Ready means: the database answers and no migration is pending (see README, "Production").
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM from `docker stop` reaches node directly (exec form): requests in flight get SHUTDOWN_GRACE_MS.
ENTRYPOINT ["order-gateway-release", "start", "/app"]
CMD ["serve"]
