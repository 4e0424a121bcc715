# DiLO's image for those who build with Docker: the same content as hack/image/build.sh writes
# without Docker (make images): /manager (the entrypoint), /agent and /target, static, non-root.
#   docker build -t localhost/dilo:dev .
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./cmd/manager ./cmd/agent ./cmd/target

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /out/agent /out/target /
USER 65532:65532
ENTRYPOINT ["/manager"]
