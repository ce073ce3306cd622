# One image for every service; compose.yaml picks the binary. The runtime stage carries the
# judge's toolchains too (a language whose toolchain is missing is simply not offered).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
 && mkdir /out && cp target/release/edge target/release/auth-worker target/release/submission-worker \
    target/release/judge-worker /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates gcc g++ libc6-dev python3 \
    openjdk-17-jdk-headless nodejs \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY judge-worker/languages.yaml /etc/judge/languages.yaml
# The example problems, imported by compose's one-shot `import-problems` service.
COPY examples/problems /usr/share/judge/problems
ENV LOG_FORMAT=json
USER root
