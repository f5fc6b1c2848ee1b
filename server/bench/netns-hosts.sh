#!/usr/bin/env bash
# Separate hosts on one machine, for the cluster benchmark (`loadgen --netns`): network
# namespaces `confab-host0` … `confab-host<N-1>` for the nodes and `confab-redis` for the Redis
# they share, each joined by a veth pair to a bridge in the root namespace (where the load
# generator runs), with `tc netem` delaying everything each host sends by 1 ms. A message that
# crosses nodes therefore pays two hops (node → Redis → node), as on real hosts. `DELAY=0`
# leaves latency out; so does a kernel without netem, which the script says.
#
#   server/bench/netns-hosts.sh up 3     # hosts 10.77.0.10-12, Redis at 10.77.0.2:6379
#   server/bench/netns-hosts.sh down 3
#
# Needs root (ip netns, tc) and redis-server. Only these namespaces and the bridge are touched.
set -euo pipefail

BRIDGE=confab-br
NET=10.77.0
DELAY=${DELAY:-1ms}
REDIS_PID=/run/confab-hosts-redis.pid

# host NAME ADDRESS: a namespace linked to the bridge, sending with $DELAY of latency.
host() {
  local ns=$1 addr=$2 veth=v-$1
  veth=${veth:0:15}
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  if [ "$DELAY" != 0 ] && ! tc -n "$ns" qdisc add dev eth0 root netem delay "$DELAY" 2> /dev/null; then
    echo "$ns: this kernel has no netem qdisc (sch_netem); its link adds no latency" >&2
    NO_NETEM=1
  fi
}

up() {
  local n=$1 i
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  host confab-redis "$NET.2"
  for ((i = 0; i < n; i++)); do
    host "confab-host$i" "$NET.$((10 + i))"
  done
  ip netns exec confab-redis redis-server --bind "$NET.2" --port 6379 --protected-mode no --save "" \
    --appendonly no --daemonize yes --pidfile "$REDIS_PID" > /dev/null
  for ((i = 0; i < 50; i++)); do
    redis-cli -h "$NET.2" ping > /dev/null 2>&1 && break
    sleep 0.1
  done
  [ -n "${NO_NETEM:-}" ] && DELAY=0
  echo "hosts $NET.10-$NET.$((9 + n)) (confab-host0-$((n - 1))), Redis at $NET.2:6379, $DELAY per send"
}

down() {
  local n=$1 i
  if [ -f "$REDIS_PID" ]; then kill "$(cat "$REDIS_PID")" 2> /dev/null || true; rm -f "$REDIS_PID"; fi
  for ((i = 0; i < n; i++)); do ip netns del "confab-host$i" 2> /dev/null || true; done
  ip netns del confab-redis 2> /dev/null || true
  ip link del "$BRIDGE" 2> /dev/null || true
}

case "${1:-}" in
  up) down "${2:?how many hosts}"; up "$2" ;;
  down) down "${2:?how many hosts}" ;;
  *) echo "usage: $0 up|down N" >&2; exit 2 ;;
esac
