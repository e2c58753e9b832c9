# Keyward container image: docs/operator-guide.md, "Container image".
# Multi-stage: the Go toolchain builds a static binary (the SQLite driver,
# modernc.org/sqlite, is pure Go, so CGO is off), and the final image is
# distroless/static running as the non-root user 65532.
# deploy/deploy_test.go runs this file's build command and checks the
# result, since the test machines cannot run docker.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags=-buildid= -o /out/keyward ./cmd/keyward
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyward /usr/local/bin/keyward
# The data directory belongs to the non-root user, mode 0700 (it holds
# master.key and the SQLite database unless the store is PostgreSQL).
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /var/lib/keyward
USER 65532:65532
ENV KEYWARD_DATA_DIR=/var/lib/keyward
EXPOSE 8080
VOLUME ["/var/lib/keyward"]
ENTRYPOINT ["/usr/local/bin/keyward"]
CMD ["serve"]
