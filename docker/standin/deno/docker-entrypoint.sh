#!/bin/sh
# Entrypoint of wb-local/deno: the official denoland/deno image's.
set -e

# An option (`--help`) is deno's.
if [ "$1" != "${1#-}" ]; then
	exec deno "$@"
fi

case "$1" in
bench | bundle | cache | check | clean | compile | completions | coverage | deploy | doc | eval | fmt | help | info | init | install | jupyter | lint | lsp | outdated | publish | repl | run | serve | task | test | types | uninstall | update | upgrade | vendor)
	exec deno "$@"
	;;
esac

exec "$@"
