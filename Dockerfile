# syntax=docker/dockerfile:1
#
# The ade image: the operator, `ade-validate` (the ValidationSuite runner the
# operator starts as Jobs) and `ade-stream` (the StreamConsumer pods), plus `crdgen`, which writes this
# version's CRD YAML under its working directory
# (`docker run --rm --entrypoint /usr/local/bin/crdgen -v "$PWD:/w" -w /w <image>`).
#
#   docker build -t ghcr.io/ade-dev/ade-operator:0.1.0 .
#
# rust-toolchain.toml pins the exact toolchain; when this image's 1.95 patch
# release differs, rustup installs the pinned one on the first build.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# target/ is a cache mount, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ade-operator --bin crdgen --bin ade-validate --bin ade-stream \
 && mkdir -p /out \
 && cp target/release/ade-operator target/release/crdgen target/release/ade-validate target/release/ade-stream /out/

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ade-operator /usr/local/bin/ade-operator
COPY --from=builder /out/crdgen /usr/local/bin/crdgen
COPY --from=builder /out/ade-validate /usr/local/bin/ade-validate
COPY --from=builder /out/ade-stream /usr/local/bin/ade-stream
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ade-operator"]
