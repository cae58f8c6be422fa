# The shop server with every adapter (EventStoreDB/KurrentDB included). Used by
# docker-compose.yml's `shop` service; builds from the workspace in one stage and runs on a slim
# image as an unprivileged user.
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p shop-api --features esdb \
 && cp target/release/shop /usr/local/bin/shop

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/shop --create-home shop
COPY --from=build /usr/local/bin/shop /usr/local/bin/shop
USER shop
WORKDIR /var/lib/shop
ENV SHOP_BIND=0.0.0.0:8080 SHOP_DATA_DIR=/var/lib/shop/data
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s --retries=24 CMD curl -fsS http://localhost:8080/healthz || exit 1
ENTRYPOINT ["shop"]
CMD ["serve"]
