// Package deploy holds no code. Its tests check the files that put
// callscreen into service, none of which a Go test would otherwise touch:
// the Dockerfile and .dockerignore, docker-compose.yml with .env.example,
// the Asterisk configuration of the compose stack (deploy/asterisk), the
// systemd unit (deploy/systemd) and `make install`.
//
// The checks run the real tools where they are installed (docker-compose
// config, systemd-analyze verify, make install, the container's start
// script) and otherwise parse the files: every file a configuration names
// exists, every name one file gives another (service, port, context,
// endpoint, user, prompt) agrees on both sides.
//
// It must never need a Docker engine, an Asterisk or a running systemd,
// and never write outside the test's temporary directories (make install
// builds bin/callscreen, as make build does).
package deploy
