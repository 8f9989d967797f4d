FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/groupware groupware && mkdir -p /var/lib/groupware && chown groupware /var/lib/groupware
COPY --from=build /src/target/release/groupware /usr/local/bin/groupware
USER groupware
WORKDIR /var/lib/groupware
EXPOSE 8080
ENTRYPOINT ["groupware"]
CMD ["serve"]
