#!/usr/bin/env bash
# Emergency rollback of the blue -> green cut-over (SPEC 5): every new job goes to blue at once
# and stays there (the router's latch, persisted across restarts) until an operator runs
# `hop cutover resume --ack`. Jobs already running finish on the side they started on.
#
# Two ways, for whatever the operator's shell has:
#
#   hop mode (default): `hop cutover rollback --reason TEXT` against the router.
#     Router: --router URI, else $HOP_ROUTER, else the local `hop up`'s.
#     Token:  $HOP_ADMIN_TOKEN_FILE or $HOP_ADMIN_TOKEN, else the local `hop up`'s token file.
#
#   kubectl mode (--kubectl, or when `hop` is not installed): for a cluster deployed by helm/.
#     1. Patches the cut-over ConfigMap's desired state to `stage = "dual"` (desired green
#        weight 0; green keeps shadowing so its answers are still compared). The router applies
#        it without a restart once the kubelet has refreshed the mounted file (up to a minute or
#        so, plus cutover.poll). The previous content is printed so it can be restored.
#     2. Runs `hop cutover rollback` inside the router pod to latch at once, when the router
#        image has `hop` (if not, step 1 alone still moves the traffic, later and unlatched).
#   Assumptions (override through the environment):
#     HOP_NAMESPACE          namespace (default: kubectl's current one)
#     HOP_CUTOVER_CONFIGMAP  the ConfigMap (default: hop-cutover), key cutover.toml
#     HOP_ROUTER_TARGET      what `kubectl exec` runs in (default: deploy/hop-router)
#     Inside the router container, `hop` finds the router and the token through its environment
#     ($HOP_ROUTER and $HOP_ADMIN_TOKEN_FILE, set by the chart).
#   A later `helm upgrade` rewrites the ConfigMap from the values: set the values to the dual
#   stage as well (values file of the `dual` stage) before the next upgrade.
#
# Exit codes: 0 rolled back; 1 the rollback failed; 2 usage; 3 kubectl mode, partly: the
# ConfigMap was patched but the latch could not be set in the pod.

set -euo pipefail

readonly EXIT_FAILED=1 EXIT_USAGE=2 EXIT_PARTIAL=3
readonly DESIRED='stage = "dual"'

usage() {
    cat <<'EOF'
Usage: emergency-rollback.sh --reason TEXT [--router URI] [--kubectl]

Sends every new job back to blue at once and latches there until
`hop cutover resume --ack`.

  --reason TEXT   why (required; goes to the router's audit log and status)
  --router URI    the router for hop mode (default: $HOP_ROUTER, else the local `hop up`'s)
  --kubectl       kubectl mode: patch the ConfigMap and latch from inside the router pod
  -h, --help      this text

Environment: HOP_ADMIN_TOKEN_FILE or HOP_ADMIN_TOKEN (hop mode); HOP_NAMESPACE,
HOP_CUTOVER_CONFIGMAP (hop-cutover), HOP_ROUTER_TARGET (deploy/hop-router) for kubectl mode.
Exit codes: 0 rolled back, 1 failed, 2 usage, 3 ConfigMap patched but not latched.
EOF
}

fail() {
    echo "emergency-rollback: $2" >&2
    exit "$1"
}

usage_error() {
    usage >&2
    fail "$EXIT_USAGE" "$1"
}

reason=""
router=""
mode=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reason) [[ $# -ge 2 ]] || usage_error "--reason needs a value"; reason="$2"; shift 2 ;;
        --router) [[ $# -ge 2 ]] || usage_error "--router needs a value"; router="$2"; shift 2 ;;
        --kubectl) mode="kubectl"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
done
[[ -n "${reason// /}" ]] || usage_error "--reason TEXT is required"

if [[ -z "$mode" ]]; then
    if command -v hop >/dev/null 2>&1; then
        mode="hop"
    elif command -v kubectl >/dev/null 2>&1; then
        echo "emergency-rollback: no \`hop\` on PATH, using kubectl" >&2
        mode="kubectl"
    else
        fail "$EXIT_FAILED" "neither \`hop\` nor \`kubectl\` is on PATH"
    fi
fi

if [[ "$mode" == "hop" ]]; then
    args=(cutover rollback --reason "$reason")
    [[ -z "$router" ]] || args+=(--router "$router")
    hop "${args[@]}" || fail "$EXIT_FAILED" "\`hop cutover rollback\` failed (see above)"
    exit 0
fi

command -v kubectl >/dev/null 2>&1 || fail "$EXIT_FAILED" "kubectl is not on PATH"
[[ -z "$router" ]] || usage_error "--router is for hop mode; kubectl mode runs hop in the router pod"
kube=(kubectl)
[[ -z "${HOP_NAMESPACE:-}" ]] || kube+=(--namespace "$HOP_NAMESPACE")
configmap="${HOP_CUTOVER_CONFIGMAP:-hop-cutover}"
target="${HOP_ROUTER_TARGET:-deploy/hop-router}"

previous="$("${kube[@]}" get configmap "$configmap" -o 'jsonpath={.data.cutover\.toml}')" ||
    fail "$EXIT_FAILED" "cannot read ConfigMap $configmap"
echo "emergency-rollback: previous $configmap cutover.toml (to restore later):" >&2
printf '%s\n' "$previous" | sed 's/^/    /' >&2
patch=$(printf '{"data":{"cutover.toml":"%s\\n"}}' "${DESIRED//\"/\\\"}")
"${kube[@]}" patch configmap "$configmap" --type merge --patch "$patch" >/dev/null ||
    fail "$EXIT_FAILED" "cannot patch ConfigMap $configmap"
echo "emergency-rollback: ConfigMap $configmap now says: $DESIRED" >&2

if ! "${kube[@]}" exec "$target" -- hop --version >/dev/null 2>&1; then
    fail "$EXIT_PARTIAL" "cannot run \`hop\` in $target: not latched; the router moves to blue \
when it sees the ConfigMap change (about a minute); latch with \`hop cutover rollback\` when you can"
fi
"${kube[@]}" exec "$target" -- hop cutover rollback --reason "$reason" ||
    fail "$EXIT_PARTIAL" "\`hop cutover rollback\` failed in $target: not latched; the ConfigMap \
change still moves the traffic to blue (about a minute)"
echo "emergency-rollback: rolled back and latched; release with \`hop cutover resume --ack\`" >&2
