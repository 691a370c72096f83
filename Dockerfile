# The app image of wb's docker runtime: wb-server:<serverVersion>.
#
#   docker build -t wb-server:0.1.0 .      # then: wb c update <id> --server-version 0.1.0
#
# `wb run` starts it as container <id> on the instance's network with PORT=8000,
# DATABASE_URL, REDIS_URL (redis://:<password>@<id>-redis:6379), ADMIN_TOKEN and
# WB_INSTANCE (secrets passed by name: `docker run -e NAME`), and waits for GET /healthz on
# the published port. `wb load` runs `deno run -A server/load.ts` in a throw-away container.
#
# The base image is a build argument: the official Deno image by default; on a machine
# without a registry, the stand-in of `deno task docker:images` (docs/docker.md):
#
#   docker build --build-arg DENO_IMAGE=wb-local/deno:2.9.6 -t wb-server:0.1.0 .
ARG DENO_IMAGE=denoland/deno:2.9.6
FROM ${DENO_IMAGE}

ENV DENO_NO_UPDATE_CHECK=1
WORKDIR /app

# Only what the server needs: the lock (dependencies exactly as tested), the cache library,
# the server (migrations and loader included) and the web client it serves (owned by the
# app's user: the build below writes client/dist/), each with its deno.json (its imports).
COPY deno.json deno.lock ./
# The workspace's other members (deno.json): only their configuration, so the workspace the
# root deno.json names is whole and `--frozen` finds the lock matching it (a missing member is
# skipped, and the lock's per-member dependency lists then no longer match).
COPY cli/deno.json cli/
COPY bench/deno.json bench/
COPY chaos/deno.json chaos/
COPY docker/deno.json docker/
COPY lib/ lib/
COPY server/ server/
COPY --chown=deno:deno client/ client/

# Fetch every dependency at build time, as the unprivileged user that runs the app (the
# image's DENO_DIR belongs to it), so the container starts without touching the network.
USER deno
RUN deno cache --frozen server/main.ts server/load.ts
# `wb user add` runs server/user_add.ts in a throw-away container; the web client is built as
# `deno task build` builds it (esbuild's binary comes from the lock, like every dependency).
RUN deno cache --frozen server/user_add.ts client/build.ts && deno run -A client/build.ts

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? 8000}/healthz`); Deno.exit(r.ok ? 0 : 1)"]

# The image's entrypoint prefixes `deno` to a deno subcommand, and runs anything else as is.
CMD ["run", "-A", "server/main.ts"]
