#!/bin/bash
# callscreen-asterisk-start: the asterisk service's command in
# docker-compose.yml (mounted as /usr/local/bin/callscreen-asterisk-start).
#
# Asterisk's configuration files cannot read the environment, so this
# writes the parts that come from .env, checks them first, fetches
# Asterisk's core sounds (digits, beep) once if the image has none, then
# runs Asterisk in the foreground as the asterisk user:
#
#   ari_callscreen.conf    the ARI user callscreen logs in as (ARI_PASSWORD)
#   pjsip_callscreen.conf  transports (SIP_EXTERNAL_ADDRESS), the test
#                          phone's password (PHONE_PASSWORD), the trunk
#                          (TRUNK_HOST, TRUNK_MATCH, TRUNK_USERNAME, TRUNK_PASSWORD)
#
# docker-compose.yml passes ARI_PASSWORD from .env's ASTERISK_ARI_PASSWORD
# and PHONE_PASSWORD from PHONE_100_PASSWORD; the other names are .env's.
#
# usage: callscreen-asterisk-start [--dry-run]
#   --dry-run  write the files, skip ownership, sounds and Asterisk; print
#              the Asterisk command instead (deploy/deploy_test.go uses it)
#
# ASTERISK_ETC_DIR and ASTERISK_SOUNDS_DIR override /etc/asterisk and
# /var/lib/asterisk/sounds.
set -euo pipefail

dry=0
case "${1:-}" in
--dry-run) dry=1 ;;
"") ;;
*) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

etc="${ASTERISK_ETC_DIR:-/etc/asterisk}"
sounds="${ASTERISK_SOUNDS_DIR:-/var/lib/asterisk/sounds}"

fail() {
	echo "callscreen-asterisk-start: $*" >&2
	exit 1
}

# A secret goes into an Asterisk configuration file as it is: it must not
# hold what that syntax gives a meaning (';' starts a comment, spaces are
# trimmed), and a placeholder or a short one is refused.
secret() {
	local name="$1" value="${!1:-}"
	[ -n "$value" ] || fail "$name is not set (docker-compose.yml passes it from .env; see .env.example)"
	[[ "$value" =~ ^[A-Za-z0-9._~+=@%:,/-]+$ ]] || fail "$name: use only letters, digits and ._~+=@%:,/- (openssl rand -base64 24 is fine)"
	[ "${#value}" -ge 12 ] || fail "$name: want at least 12 characters, got ${#value}"
	case "$value" in *change-me* | *changeme*) fail "$name still holds the example value: set a real one in .env" ;; esac
}

secret ARI_PASSWORD
secret PHONE_PASSWORD

trunk_host="${TRUNK_HOST:-}"
trunk_match="${TRUNK_MATCH:-${trunk_host%%:*}}"
trunk_user="${TRUNK_USERNAME:-}"
if [ -n "$trunk_host" ]; then
	[[ "$trunk_host" =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] || fail "TRUNK_HOST $trunk_host: want host or host:port"
	[[ "$trunk_match" =~ ^[A-Za-z0-9.,/:-]+$ ]] || fail "TRUNK_MATCH $trunk_match: want addresses or CIDR prefixes, comma-separated"
fi
if [ -n "$trunk_user" ]; then
	[ -n "$trunk_host" ] || fail "TRUNK_USERNAME is set but TRUNK_HOST is not"
	[[ "$trunk_user" =~ ^[A-Za-z0-9._+-]+$ ]] || fail "TRUNK_USERNAME $trunk_user: want letters, digits and ._+-"
	[ -n "${TRUNK_PASSWORD:-}" ] || fail "TRUNK_USERNAME is set but TRUNK_PASSWORD is not"
	[[ "$TRUNK_PASSWORD" =~ ^[A-Za-z0-9._~+=@%:,/-]+$ ]] || fail "TRUNK_PASSWORD: use only letters, digits and ._~+=@%:,/-"
fi
external="${SIP_EXTERNAL_ADDRESS:-}"
if [ -n "$external" ]; then
	[[ "$external" =~ ^[A-Za-z0-9.-]+$ ]] || fail "SIP_EXTERNAL_ADDRESS $external: want a host name or IPv4 address"
fi

umask 027
mkdir -p "$etc"

cat >"$etc/ari_callscreen.conf.tmp" <<CONF
; Written by callscreen-asterisk-start from .env at container start. Do not edit.
[callscreen]
type = user
read_only = no
password_format = plain
password = $ARI_PASSWORD
CONF

{
	echo "; Written by callscreen-asterisk-start from .env at container start. Do not edit."
	for proto in udp tcp; do
		echo
		echo "[transport-$proto]"
		echo "type = transport"
		echo "protocol = $proto"
		echo "bind = 0.0.0.0:5060"
		if [ -n "$external" ]; then
			echo "external_media_address = $external"
			echo "external_signaling_address = $external"
			echo "local_net = 10.0.0.0/8"
			echo "local_net = 172.16.0.0/12"
			echo "local_net = 192.168.0.0/16"
			echo "local_net = 127.0.0.0/8"
		fi
	done
	cat <<CONF

[100]
type = auth
auth_type = userpass
username = 100
password = $PHONE_PASSWORD

[trunk](trunk-endpoint)
CONF
	[ -z "$trunk_user" ] || echo "outbound_auth = trunk"
	echo
	echo "[trunk]"
	echo "type = aor"
	if [ -n "$trunk_host" ]; then
		echo "contact = sip:$trunk_host"
		echo "qualify_frequency = 60"
		echo
		echo "[trunk]"
		echo "type = identify"
		echo "endpoint = trunk"
		echo "match = $trunk_match"
	fi
	if [ -n "$trunk_user" ]; then
		cat <<CONF

[trunk]
type = auth
auth_type = userpass
username = $trunk_user
password = $TRUNK_PASSWORD

[trunk]
type = registration
outbound_auth = trunk
server_uri = sip:$trunk_host
client_uri = sip:$trunk_user@$trunk_host
contact_user = $trunk_user
retry_interval = 60
forbidden_retry_interval = 600
CONF
	fi
} >"$etc/pjsip_callscreen.conf.tmp"

mv -f "$etc/ari_callscreen.conf.tmp" "$etc/ari_callscreen.conf"
mv -f "$etc/pjsip_callscreen.conf.tmp" "$etc/pjsip_callscreen.conf"
[ -n "$trunk_host" ] || echo "callscreen-asterisk-start: TRUNK_HOST is not set: no trunk; use the test phone (8 + number)" >&2

asterisk=(/usr/sbin/asterisk -f -n -U asterisk -G asterisk -vvv)
if [ "$dry" -eq 1 ]; then
	echo "${asterisk[*]}"
	exit 0
fi

chown root:asterisk "$etc/ari_callscreen.conf" "$etc/pjsip_callscreen.conf"

# The image ships no core sounds; the challenge says its digits with them.
# Fetched once into the sounds volume. Without them the call still goes
# on: callscreen allows it with challenge.unavailable.
format="${ASTERISK_CORE_SOUNDS:-gsm}"
case "$format" in
none) ;;
gsm | ulaw | alaw | wav | g722)
	if [ ! -e "$sounds/en/digits/1.$format" ]; then
		url="https://downloads.asterisk.org/pub/telephony/sounds/asterisk-core-sounds-en-$format-current.tar.gz"
		echo "callscreen-asterisk-start: fetching core sounds ($format)" >&2
		mkdir -p "$sounds/en"
		if ! curl -fsSL --max-time 300 "$url" | tar -xz -C "$sounds/en"; then
			echo "callscreen-asterisk-start: could not fetch $url; challenges will be skipped (challenge.unavailable) until the core sounds are in $sounds/en" >&2
		fi
	fi
	;;
*) fail "ASTERISK_CORE_SOUNDS $format: want gsm, ulaw, alaw, wav, g722 or none" ;;
esac

exec "${asterisk[@]}"
