# Quarry's server with the dashboard built in.
#
#   docker build -t quarry .
#   docker run --rm -p 127.0.0.1:8080:8080 -e DATABASE_URL=postgres://... quarry
#
# or `docker compose up` for the whole stack (docker-compose.yml). Without DATABASE_URL the server
# uses the embedded database in /app/apps/server/.quarry-data (mount a volume there to keep it).
# The workspace runs from its TypeScript sources through tsx, as `npm start` does, so the image
# holds the sources and the production dependencies, with no compile step.

FROM node:20-slim AS build
ARG PNPM_VERSION=12.4.2
# pnpm as in CI: no prompts, no progress bars.
ENV CI=true
WORKDIR /app
# The lockfile alone: the package download stays cached until a dependency changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY patches ./patches
RUN npx -y pnpm@${PNPM_VERSION} fetch
COPY . .
# Everything to build the dashboard; then only what the server and its workspace packages run.
RUN npx -y pnpm@${PNPM_VERSION} install --frozen-lockfile --offline \
  && npx -y pnpm@${PNPM_VERSION} exec turbo run build --filter=@quarry/admin \
  && find . -name node_modules -type d -prune -exec rm -rf {} + \
  && npx -y pnpm@${PNPM_VERSION} install --frozen-lockfile --offline --prod --filter "@quarry/server..."

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    QUARRY_LOG_FORMAT=json
WORKDIR /app
# Root owns the code; the server's user may write only the embedded database's directory and
# its lock file beside it (apps/server/.quarry-data and .quarry-data.lock).
COPY --from=build /app/package.json /app/pnpm-workspace.yaml ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
COPY --from=build /app/apps/server ./apps/server
COPY --from=build /app/apps/admin/dist ./apps/admin/dist
RUN mkdir -p apps/server/.quarry-data \
  && chown node:node apps/server apps/server/.quarry-data
USER node
WORKDIR /app/apps/server
EXPOSE 8080
# Healthy once start-up (migrations) is done and the database answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 unless the container runs with an init (compose sets `init: true`); either way the
# server handles SIGTERM: it finishes the requests in flight and exits 0.
CMD ["node", "--import", "tsx", "src/main.ts"]
