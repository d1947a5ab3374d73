#!/usr/bin/env bash
# register.sh: create the registration entry through which a focalpoint node
# (or one of its local clients) gets its X.509-SVID from SPIRE. Run it against
# the SPIRE server of the node's own trust domain. It is idempotent: an entry
# with the same SPIFFE ID, parent and selectors is left as it is.
#
#   register.sh --id spiffe://imigrasi.go.id/focalpoint/node \
#               --parent spiffe://imigrasi.go.id/spire/agent/x509pop/<fingerprint> \
#               --selector unix:uid:998 \
#               --federates-with spiffe://immigration.gov.kh \
#               [--ttl 3600] [--socket /run/spire/server/api.sock]
#
# --federates-with makes the agent hand the counterpart's bundle to the node
# with its SVID (the node trusts only that one and its own, whatever else the
# server federates with). --selector may be repeated; all must match.
# SPIRE_SERVER names the spire-server binary (default: spire-server on PATH).
set -euo pipefail

server=${SPIRE_SERVER:-spire-server}
id= parent= ttl=3600 socket=/tmp/spire-server/private/api.sock
selectors=() federates=()
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--id) id=$2; shift 2 ;;
	--parent) parent=$2; shift 2 ;;
	--selector) selectors+=("$2"); shift 2 ;;
	--federates-with) federates+=("$2"); shift 2 ;;
	--ttl) ttl=$2; shift 2 ;;
	--socket) socket=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "register.sh: unknown argument $1" >&2; usage ;;
	esac
done
if [ -z "$id" ] || [ -z "$parent" ] || [ ${#selectors[@]} -eq 0 ]; then
	echo "register.sh: --id, --parent and at least one --selector are required" >&2
	usage
fi

args=(-socketPath "$socket" -spiffeID "$id" -parentID "$parent")
for s in "${selectors[@]}"; do args+=(-selector "$s"); done

# entry show exits 0 and lists nothing when no entry matches.
if "$server" entry show "${args[@]}" -matchSelectorsOn exact | grep -q '^Entry ID'; then
	echo "register.sh: entry for $id under $parent already exists"
	exit 0
fi
for f in "${federates[@]}"; do args+=(-federatesWith "$f"); done
"$server" entry create "${args[@]}" -x509SVIDTTL "$ttl"
