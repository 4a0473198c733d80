# syntax=docker/dockerfile:1
# The compliance server: built in one stage, deployed (production dependencies only) into a slim
# Node LTS image that runs as the unprivileged `node` user and writes only to /var/lib/compliance.
# .ci/container.sh lints this file and runs the same deploy and start commands without Docker.

FROM node:24-bookworm-slim AS build
RUN npm install -g pnpm@10.34.9
WORKDIR /src
COPY . .
RUN pnpm install --frozen-lockfile --filter compliance-server... \
 && pnpm --filter compliance-server... run build \
 && pnpm --filter compliance-server deploy --legacy --prod /out

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/var/lib/compliance
WORKDIR /app
COPY --from=build /out /app
RUN mkdir -p /var/lib/compliance && chown node:node /var/lib/compliance
USER node
VOLUME ["/var/lib/compliance"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve"]
