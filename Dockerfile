# syntax=docker/dockerfile:1
# Build stage: full dev dependencies, compile TypeScript.
# Node 20 reached end of life in April 2026, and AWS SDK v3 releases after January 2027 need Node 22+.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and compiled JS only, as the unprivileged node user.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config/ir-bot.example.yaml ./config/ir-bot.example.yaml
# audit.exportDir (relative to /app): daily JSONL files of the audit entries trimmed from Redis.
RUN mkdir -p /app/audit-export && chown node:node /app/audit-export
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# bot | worker | all
ENTRYPOINT ["node", "dist/main.js"]
CMD ["all"]
