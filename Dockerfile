# paxos-bench as a container image: the one `paxos-bench` binary on a slim Debian base, run as a non-root user,
# with a health check against the replica's health endpoint (`node --health 0.0.0.0:8080`).
#
# With a registry:    docker build -t paxos-bench .          (builds with cargo, runs on debian:bookworm-slim)
# Without a registry: scripts/docker-image.sh               (the `local` target below: the binary built on the
#                     host, on a base assembled from the host's shared libraries and imported with
#                     `docker import`; nothing is pulled)
#
# Both targets give the same image: the binary at /usr/local/bin/paxos-bench, user paxos (uid 10001), /data as
# the working directory and volume (keys, cluster file, write-ahead logs, results), the same health check and
# entrypoint. The `local` stage comes first because Docker's classic builder builds every stage before its
# target: a registry-less build must not reach the stage that pulls the Rust image.

ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1-slim-bookworm

# --- Without a registry. The build context is a folder holding only the host-built binary; the base already
# has the user, /data and the libraries the binary links (scripts/docker-image.sh makes both).
FROM ${BASE_IMAGE} AS local
COPY paxos-bench /usr/local/bin/paxos-bench
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 7100/udp 8080/tcp
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/paxos-bench", "health", "127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/paxos-bench"]
CMD ["--help"]

# --- With a registry: build with cargo.
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p paxos-harness --bin paxos-bench \
    && strip --strip-debug target/release/paxos-bench \
    && cp target/release/paxos-bench /paxos-bench

FROM ${BASE_IMAGE} AS runtime
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home paxos
COPY --from=build /paxos-bench /usr/local/bin/paxos-bench
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 7100/udp 8080/tcp
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/paxos-bench", "health", "127.0.0.1:8080"]
ENTRYPOINT ["/usr/local/bin/paxos-bench"]
CMD ["--help"]
