# Access Packages for Teams: the bot as a container.
#   docker build -t access-packages .
#   docker run -p 3978:3978 --env-file .deploy.dev.env -e MONGODB_URI=... access-packages
# docs/deployment.md explains the settings. Written carefully but never built where it was
# written (no Docker engine there): build it once and run the smoke test in that guide.

# ---- build: compile TypeScript, then keep only the production dependencies -----------------
FROM node:20-slim AS build
WORKDIR /app

# `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages (jest's
# @unrs/resolver-binding-*) out of package-lock.json and `npm ci` then refuses the whole file as
# "out of sync", even with --omit=dev. `npm install` installs the locked versions all the same
# and fetches the binding this platform needs (arm64 images included). --ignore-scripts: the only
# production package with an install script is restify's optional dtrace-provider, a native
# build this image has no compiler for and the bot does not use.
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund --ignore-scripts

# ---- runtime: Node, the compiled bot, its card templates and examples; no compiler, no tests --
FROM node:20-slim
# NODE_ENV=production: the bot refuses to start with Bot Framework authentication off (an empty
# MicrosoftAppId) unless ALLOW_UNAUTHENTICATED=true says so. With auth on it listens on every
# interface (HOST unset); with auth off only on loopback unless HOST says otherwise (then it too
# needs ALLOW_UNAUTHENTICATED=true). docs/deployment.md, "The messaging endpoint on the internet".
ENV NODE_ENV=production \
    PORT=3978 \
    DATA_DIR=/app/data
WORKDIR /app

COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Card templates are read at run time (dist/bot/cards.js → ../../cards); the examples are the
# default catalog and directory, replaced by mounting your own (CATALOG_FILE).
COPY cards ./cards
COPY examples ./examples

# Not root: the image's `node` user (uid 1000) owns only the embedded store's directory
# (unused with MONGODB_URI); the code stays read-only to it.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 3978
# /healthz answers while the process is up (/readyz also checks the store: use it for a load
# balancer). The slim image has no curl, so Node asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3978) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node itself as PID 1: the bot handles SIGTERM (docker stop) and closes cleanly.
CMD ["node", "--disable-warning=DEP0111", "dist/index.js"]
