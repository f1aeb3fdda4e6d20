# Release image of the Courtyard server and its site (used by docker-compose.yml).
# Node 22 from its official image (Debian 12's is too old for scripts/setup).
FROM node:22-bookworm-slim AS node

FROM rust:1.95-bookworm AS build
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && apt-get update && apt-get install -y --no-install-recommends postgresql-client \
 && rustup toolchain install nightly --profile minimal
WORKDIR /src
COPY . .
RUN scripts/setup && PATH="/src/target/tools/binaryen/node_modules/.bin:$PATH" cargo leptos build --release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/server /app/server
COPY --from=build /src/target/site /app/site
COPY Leptos.toml /app/Leptos.toml
ENV LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_OUTPUT_NAME=courtyard \
    LEPTOS_ENV=PROD \
    COURTYARD_SITE_ADDR=0.0.0.0:3000
EXPOSE 3000
CMD ["/app/server"]
