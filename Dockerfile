# Ferry's container image (docs/operations.md): `docker build -t ferry .`
#
# The build stage makes the Debian package from a Release build (make package); the runtime
# stage installs that package, so the runtime libraries are exactly what its Depends names,
# and the package's postinst makes the `ferry` user the server runs as.

FROM debian:bookworm-slim AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        cmake make gcc pkg-config libc6-dev dpkg-dev file \
        libfyaml-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev libmicrohttpd-dev \
        libsodium-dev libssl-dev libpq-dev libsystemd-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DFERRY_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
    && cmake --build /build -j "$(nproc)" --target ferry \
    && cd /build && cpack -G DEB --config CPackConfig.cmake -B /pkg \
    && mv /pkg/ferry_*.deb /pkg/ferry.deb

FROM debian:bookworm-slim
COPY --from=build /pkg/ferry.deb /tmp/ferry.deb
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        /tmp/ferry.deb ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* /tmp/ferry.deb
COPY packaging/container/ferry.yaml /etc/ferry/ferry.yaml
RUN chown root:ferry /etc/ferry/ferry.yaml && chmod 0640 /etc/ferry/ferry.yaml \
    && install -d -o ferry -g ferry -m 0750 /var/lib/ferry
USER ferry
WORKDIR /var/lib/ferry
VOLUME /var/lib/ferry
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
CMD ["ferry", "serve", "--config", "/etc/ferry/ferry.yaml"]
