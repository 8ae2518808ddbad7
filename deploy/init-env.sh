#!/bin/sh
# Creates deploy/.env for deploy/compose.yaml from deploy/.env.example, private from the first byte
# (umask 077: mode 0600), with new random secrets: TURN_SECRET, REDIS_PASSWORD,
# GHOSTCHAT_CLUSTER_KEY and GHOSTCHAT_ID_SIGNING_KEY (64 hex digits each). Then set TURN_HOST and TURN_EXTERNAL_IP in it.
#
#   deploy/init-env.sh [FILE]        default FILE: deploy/.env next to this script; never overwrites
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/.env}
if [ -e "$out" ]; then
  echo "init-env.sh: $out exists; not overwriting it (delete it first to start over)" >&2
  exit 1
fi
umask 077
secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    TURN_SECRET=) line="TURN_SECRET=$(secret)" ;;
    REDIS_PASSWORD=) line="REDIS_PASSWORD=$(secret)" ;;
    GHOSTCHAT_CLUSTER_KEY=) line="GHOSTCHAT_CLUSTER_KEY=$(secret)" ;;
    GHOSTCHAT_ID_SIGNING_KEY=) line="GHOSTCHAT_ID_SIGNING_KEY=$(secret)" ;;
  esac
  printf '%s\n' "$line"
done < "$here/.env.example" > "$tmp"
chmod 600 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out (mode 600); now set TURN_HOST and TURN_EXTERNAL_IP in it" >&2
