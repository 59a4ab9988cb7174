#!/usr/bin/env bash
# Writes to $1 a kubeconfig for the chart's ServiceAccount (ade-operator in
# ade-system, token from the TokenRequest API, valid for an hour), so an
# operator run as a local process has exactly the chart's RBAC. Uses the
# current kubectl context for the server and its CA.
set -euo pipefail
out=${1:?usage: hack/operator-kubeconfig.sh FILE}
token=$(kubectl create token ade-operator -n ade-system --duration=1h)
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat > "$out" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: ade-operator, user: {token: "$token"}}]
contexts: [{name: local, context: {cluster: local, user: ade-operator}}]
current-context: local
KUBECONFIG
