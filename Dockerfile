# syntax=docker/dockerfile:1
# The game session service image: session_service and gateway (the Helm
# chart in helm/game-session runs both from it, in one pod). Build with
#   docker build -t game-session-service:0.1.0 .
# Stage 1 installs the build packages listed in scripts/common.sh
# (GSS_BUILD_PACKAGES) and builds without tests; stage 2 holds only the
# runtime libraries and the two binaries, and runs as a non-root user.

FROM debian:bookworm AS build
COPY scripts/common.sh /src/scripts/common.sh
RUN bash -c 'source /src/scripts/common.sh \
      && apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${GSS_BUILD_PACKAGES[@]}"' \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN rm -rf /src/build \
    && cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DGSS_BUILD_TESTS=OFF -DGSS_BUILD_BENCHMARKS=OFF \
    && cmake --build /build -j"$(nproc)" --target session_service gateway \
    && install -D -s /build/session_service/session_service /out/usr/local/bin/session_service \
    && install -D -s /build/gateway/gateway /out/usr/local/bin/gateway

FROM debian:bookworm-slim AS runtime
# Shared libraries the two binaries link (found with ldd + dpkg -S).
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 \
         libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 \
         libjwt0 libjansson4 libssl3 libre2-9 libc-ares2 libb64-0d zlib1g \
         ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 gss \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin gss
COPY --from=build /out/ /
USER 10001:10001
# game (UDP+TCP), link (loopback), ops gRPC, service metrics, gateway metrics
EXPOSE 7777/udp 7777/tcp 7781/tcp 9464/tcp 9465/tcp
ENTRYPOINT ["/usr/local/bin/session_service"]
