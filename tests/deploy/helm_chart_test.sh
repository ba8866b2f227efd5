#!/usr/bin/env bash
# helm_chart_test.sh HELM CHART_DIR: `helm lint` and `helm template` on the
# chart with a real helm, then checks on the rendered manifests (plain bash,
# grep and awk): kinds, the sidecar, ports and protocols, gRPC probes, drain
# timing, resources, security context, ConfigMap flags, the Secret and the
# ServiceMonitor guard, and the ops API's tokens and TLS.
set -uo pipefail
helm=${1:?usage: helm_chart_test.sh HELM CHART_DIR}
chart=${2:?usage: helm_chart_test.sh HELM CHART_DIR}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# check DESCRIPTION COMMAND...: runs the command, counts the result.
check() {
  local what=$1
  shift
  if "$@"; then ok; else fail "$what"; fi
}

# doc FILE KIND NAME: the rendered document of that kind and name.
doc() {
  awk -v kind="$2" -v name="$3" '
    function flush() { if (k == kind && n == name) printf "%s", buf; buf = ""; k = ""; n = "" }
    /^---/ { flush(); next }
    { buf = buf $0 "\n" }
    /^kind: / { k = $2 }
    /^  name: / && n == "" { n = $2 }
    END { flush() }' "$1"
}
# container TEXT NAME: the block of one container of a pod template.
container() {
  awk -v name="$2" '
    $0 == "        - name: " name { on = 1; print; next }
    on && (/^        - / || /^      [a-zA-Z]/) { on = 0 }
    on { print }' <<<"$1"
}
# has TEXT REGEX: TEXT has a line matching the extended REGEX.
has() { grep -Eq -- "$2" <<<"$1"; }
# after TEXT REGEX N: the N lines after the first line matching REGEX.
after() { grep -E -m1 -A"$3" -- "$2" <<<"$1" | tail -n +2; }
# port_block TEXT NAME: a named port entry (name, port/containerPort, protocol).
port_block() { grep -E -A4 -- "- name: $2\$" <<<"$1" | head -5; }
count_kind() { grep -c "^kind: $2\$" "$1"; }

render() {  # render OUTFILE ARGS...
  local file=$1
  shift
  "$helm" template gs "$chart" --namespace games "$@" >"$file" 2>"$file.err"
}

# --- lint -------------------------------------------------------------------
check "helm lint (strict)" "$helm" lint --strict "$chart"
check "helm lint with jwt values" "$helm" lint --strict "$chart" \
  --set auth.authenticator=jwt --set auth.jwt.existingSecret=jwt-key
check "helm lint with ops TLS values" "$helm" lint --strict "$chart" \
  --set opsAuth.tls.secretName=ops-tls --set opsAuth.tls.requireClientCert=true

# --- default values -----------------------------------------------------------
def="$out/default.yaml"
if ! render "$def"; then
  fail "helm template (defaults): $(cat "$def.err")"
  echo "$passed passed, $failed failed"
  exit 1
fi
check "one StatefulSet" test "$(count_kind "$def" StatefulSet)" = 1
check "no Deployment" test "$(count_kind "$def" Deployment)" = 0
check "three Services" test "$(count_kind "$def" Service)" = 3
check "a PodDisruptionBudget" test "$(count_kind "$def" PodDisruptionBudget)" = 1
check "a ConfigMap" test "$(count_kind "$def" ConfigMap)" = 1
check "no Secret with dev logins" test "$(count_kind "$def" Secret)" = 0
check "no ServiceMonitor without the CRD" test "$(count_kind "$def" ServiceMonitor)" = 0

sts=$(doc "$def" StatefulSet gs-game-session)
check "StatefulSet found" test -n "$sts"
check "two containers in the pod" test "$(grep -cE '^        - name: ' <<<"$(sed -n '/^      containers:/,/^      volumes:/p' <<<"$sts")")" = 2
svc=$(container "$sts" session-service)
gw=$(container "$sts" gateway)
check "session-service container" test -n "$svc"
check "gateway sidecar container" test -n "$gw"
check "service started with --flagfile" has "$svc" '--flagfile=/etc/gss/config/service.flags'
check "service gets an instance tag from the ordinal" has "$svc" '--instance_tag=\$\(\( \$\{POD_NAME##\*-\} \+ 1'
check "gateway started with --flagfile" has "$gw" -- '- --flagfile=/etc/gss/config/gateway.flags'

b=$(port_block "$gw" game-udp)
check "gateway game-udp containerPort 7777/UDP" has "$b" 'containerPort: 7777' && check "  protocol UDP" has "$b" 'protocol: UDP$'
b=$(port_block "$gw" game-tcp)
check "gateway game-tcp containerPort 7777/TCP" has "$b" 'containerPort: 7777' && check "  protocol TCP" has "$b" 'protocol: TCP$'
b=$(port_block "$gw" metrics-gw)
check "gateway metrics port 9465/TCP" has "$b" 'containerPort: 9465'
b=$(port_block "$svc" ops-grpc)
check "service ops port 7781/TCP" has "$b" 'containerPort: 7781' && check "  protocol TCP" has "$b" 'protocol: TCP$'
b=$(port_block "$svc" metrics-svc)
check "service metrics port 9464/TCP" has "$b" 'containerPort: 9464'
check "link port not exposed" bash -c '! grep -q "containerPort: 7780" <<<"$1"' _ "$sts"

for probe in startupProbe readinessProbe livenessProbe; do
  b=$(after "$svc" "^          $probe:" 2)
  check "service $probe is a grpc probe" has "$b" '^            grpc:$'
  check "service $probe on the ops port" has "$b" 'port: 7781$'
done
check "gateway readiness probe" has "$gw" 'readinessProbe:'
check "gateway liveness probe" has "$gw" 'livenessProbe:'

grace=$(awk '/terminationGracePeriodSeconds:/ { print $2 }' <<<"$sts")
check "terminationGracePeriodSeconds is 25 (5 preStop + 10 drain + 10)" test "$grace" = 25
svc_stop=$(after "$svc" 'preStop:' 6 | grep -m1 'command:' | grep -oE '"[0-9]+"' | tr -d '"')
gw_stop=$(after "$gw" 'preStop:' 6 | grep -m1 'command:' | grep -oE '"[0-9]+"' | tr -d '"')
check "service preStop sleeps 5s" test "$svc_stop" = 5
check "gateway preStop outlives the drain (15s)" test "$gw_stop" = 15
check "grace covers the gateway's preStop" test "$grace" -gt "${gw_stop:-99}"

for c in svc gw; do
  text=${!c}
  r=$(after "$text" '^          resources:' 6)
  check "$c has cpu and memory requests" has "$r" '^            requests:'
  check "$c has limits" has "$r" '^            limits:'
  check "$c memory limit" has "$r" 'memory: '
  check "$c read-only root filesystem" has "$text" 'readOnlyRootFilesystem: true'
  check "$c no privilege escalation" has "$text" 'allowPrivilegeEscalation: false'
done
check "pod runs as non-root" has "$sts" 'runAsNonRoot: true'
check "scrape annotation on the pod" has "$sts" 'prometheus.io/scrape: "true"'
check "config checksum annotation" has "$sts" 'checksum/config: [0-9a-f]{64}'

game=$(doc "$def" Service gs-game-session-game)
b=$(port_block "$game" game-udp)
check "game Service UDP port 7777" has "$b" 'port: 7777$'
check "  protocol UDP" has "$b" 'protocol: UDP$'
b=$(port_block "$game" game-tcp)
check "game Service TCP port 7777" has "$b" 'port: 7777$'
check "  protocol TCP" has "$b" 'protocol: TCP$'
ops=$(doc "$def" Service gs-game-session-ops)
b=$(port_block "$ops" ops-grpc)
check "ops Service port 7781/TCP" has "$b" 'port: 7781$'
check "  protocol TCP" has "$b" 'protocol: TCP$'
pods=$(doc "$def" Service gs-game-session-pods)
check "headless governing Service" has "$pods" 'clusterIP: None'
check "StatefulSet uses it" has "$sts" 'serviceName: gs-game-session-pods'
check "metrics Service has both metrics ports" bash -c 'grep -q "port: 9464" <<<"$1" && grep -q "port: 9465" <<<"$1"' _ "$pods"

cm=$(doc "$def" ConfigMap gs-game-session)
for flag in '--link_address=127.0.0.1:7780' '--ops_address=0.0.0.0:7781' \
    '--metrics_address=0.0.0.0:9464' '--drain_deadline=10s' '--authenticator=dev' \
    '--game_address=0.0.0.0:7777' '--service_address=127.0.0.1:7780' \
    '--metrics_address=0.0.0.0:9465'; do
  check "ConfigMap has $flag" has "$cm" "^    ${flag//./\\.}\$"
done
for flag in '--ops_auth=tokens' '--ops_tokens_file=/etc/gss/ops-tokens/tokens' \
    '--ops_tokens_reload_interval=10s'; do
  check "ConfigMap has $flag" has "$cm" "^    ${flag//./\\.}\$"
done
check "no ops TLS by default" bash -c '! grep -q -- "--ops_tls_" <<<"$1"' _ "$cm"
check "ops tokens Secret mounted" has "$svc" 'mountPath: /etc/gss/ops-tokens$'
check "ops tokens volume from the default Secret" has "$sts" 'secretName: gs-game-session-ops-tokens$'
pdb=$(doc "$def" PodDisruptionBudget gs-game-session)
check "PDB maxUnavailable 1" has "$pdb" 'maxUnavailable: 1$'

# --- jwt, ServiceMonitor capability, longer drain ------------------------------
jwt="$out/jwt.yaml"
if render "$jwt" --api-versions monitoring.coreos.com/v1 \
    --set auth.authenticator=jwt \
    --set auth.jwt.key=0123456789abcdef0123456789abcdef \
    --set drain.deadlineSeconds=20 --set prometheusRule.enabled=true \
    --set service.game.type=LoadBalancer; then
  ok
  check "ServiceMonitor with the CRD" test "$(count_kind "$jwt" ServiceMonitor)" = 1
  sm=$(doc "$jwt" ServiceMonitor gs-game-session)
  check "ServiceMonitor scrapes metrics-svc" has "$sm" 'port: metrics-svc'
  check "ServiceMonitor scrapes metrics-gw" has "$sm" 'port: metrics-gw'
  pr=$(doc "$jwt" PrometheusRule gs-game-session)
  check "PrometheusRule carries the alerts" has "$pr" 'alert: GssSessionsStuckReconnecting'
  secret=$(doc "$jwt" Secret gs-game-session-jwt)
  check "JWT Secret" has "$secret" '^  jwt_key: "'
  cm=$(doc "$jwt" ConfigMap gs-game-session)
  check "jwt authenticator flag" has "$cm" '^    --authenticator=jwt$'
  check "jwt key file flag" has "$cm" '^    --jwt_key_file=/etc/gss/jwt/jwt_key$'
  check "drain deadline follows values" has "$cm" '^    --drain_deadline=20s$'
  sts=$(doc "$jwt" StatefulSet gs-game-session)
  check "grace follows the drain deadline (35)" has "$sts" 'terminationGracePeriodSeconds: 35$'
  check "JWT Secret mounted" has "$(container "$sts" session-service)" 'mountPath: /etc/gss/jwt'
  check "JWT volume from the Secret" has "$sts" 'secretName: gs-game-session-jwt'
  check "LoadBalancer game Service" has "$(doc "$jwt" Service gs-game-session-game)" 'type: LoadBalancer'
else
  fail "helm template (jwt): $(cat "$jwt.err")"
fi

# --- ops TLS with client certificates, tokens from a named Secret ------------
tls="$out/tls.yaml"
if render "$tls" --set opsAuth.tls.secretName=ops-tls \
    --set opsAuth.tls.requireClientCert=true \
    --set opsAuth.tokens.secretName=my-ops-tokens --set opsAuth.tokens.secretKey=ops.tokens; then
  ok
  cm=$(doc "$tls" ConfigMap gs-game-session)
  for flag in '--ops_tls_cert_file=/etc/gss/ops-tls/tls.crt' \
      '--ops_tls_key_file=/etc/gss/ops-tls/tls.key' \
      '--ops_tls_client_ca_file=/etc/gss/ops-tls/ca.crt' \
      '--health_address=0.0.0.0:7782' \
      '--ops_tokens_file=/etc/gss/ops-tokens/ops.tokens'; do
    check "TLS ConfigMap has $flag" has "$cm" "^    ${flag//./\\.}\$"
  done
  sts=$(doc "$tls" StatefulSet gs-game-session)
  svc=$(container "$sts" session-service)
  b=$(port_block "$svc" health-grpc)
  check "health port 7782/TCP with TLS" has "$b" 'containerPort: 7782'
  for probe in startupProbe readinessProbe livenessProbe; do
    b=$(after "$svc" "^          $probe:" 2)
    check "TLS: $probe on the plaintext health port" has "$b" 'port: 7782$'
  done
  check "TLS Secret mounted" has "$svc" 'mountPath: /etc/gss/ops-tls$'
  check "TLS volume from the Secret" has "$sts" 'secretName: ops-tls$'
  check "tokens volume from the named Secret" has "$sts" 'secretName: my-ops-tokens$'
else
  fail "helm template (ops TLS): $(cat "$tls.err")"
fi
none="$out/none.yaml"
if render "$none" --set opsAuth.mode=none; then
  ok
  check "opsAuth none flag" has "$(doc "$none" ConfigMap gs-game-session)" '^    --ops_auth=none$'
  check "opsAuth none mounts no tokens" bash -c '! grep -q "ops-tokens" <<<"$1"' _ "$(doc "$none" StatefulSet gs-game-session)"
else
  fail "helm template (ops none): $(cat "$none.err")"
fi

# A ServiceMonitor is never rendered without the CRD, even when enabled.
render "$out/nocrd.yaml" --set serviceMonitor.enabled=true --set prometheusRule.enabled=true
check "no ServiceMonitor/PrometheusRule without the CRD" \
  test "$(grep -cE '^kind: (ServiceMonitor|PrometheusRule)$' "$out/nocrd.yaml")" = 0
# Refused values.
check "jwt without a key is refused" bash -c '! "$1" template gs "$2" --set auth.authenticator=jwt >/dev/null 2>&1' _ "$helm" "$chart"
check "an unknown ops auth mode is refused" bash -c '! "$1" template gs "$2" --set opsAuth.mode=open >/dev/null 2>&1' _ "$helm" "$chart"
check "client certificates without TLS are refused" bash -c '! "$1" template gs "$2" --set opsAuth.tls.requireClientCert=true >/dev/null 2>&1' _ "$helm" "$chart"
check "an unknown authenticator is refused" bash -c '! "$1" template gs "$2" --set auth.authenticator=none >/dev/null 2>&1' _ "$helm" "$chart"

echo "$passed passed, $failed failed"
((failed == 0))
