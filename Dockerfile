# conncheck's image: the whole repository built as in a clone (npm ci, npm run build); the compose file runs its
# commands (node_modules/.bin/conncheck-api, conncheck-worker, conncheck-all-in-one, conncheck).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
# --ignore-scripts: no dependency needs an install script (msgpackr-extract, the one that has one, is optional).
RUN npm ci --no-audit --no-fund --ignore-scripts && npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
EXPOSE 8080
CMD ["node_modules/.bin/conncheck-all-in-one"]
