#!/usr/bin/env bash
# Makes the webhook's TLS material without cert-manager: a private CA and a serving certificate for the
# dns-tuner Service, written where manifests/overlays/self-signed picks them up.
#
#   certs/self-signed.sh                 # writes manifests/overlays/self-signed/generated/
#   kubectl apply -k manifests/overlays/self-signed
#
# Safe to re-run (e.g. from a monthly job): it keeps a CA that is still good and reissues the serving certificate
# only when it is missing, expires within --renew-days, no longer matches its key, the CA or the Service name.
# Then re-apply: the Secret is updated in place and the webhook re-reads it (no restart needed).
# To force a new serving certificate, delete generated/tls.crt; to force a new CA, delete generated/ca.crt.
#
# Output (in --out, git-ignored; the keys are secrets, mode 0600):
#   ca.key, ca.crt     the CA (ECDSA P-256). A new CA is made when it would expire before a certificate issued now.
#   ca-previous.crt    the CA before the last renewal, kept while it is still valid.
#   ca-bundle.crt      ca.crt + ca-previous.crt: the webhook's caBundle. Trusting both CAs during a CA switch
#                      means the apiserver accepts the old serving certificate until the pods have re-read the new
#                      one (the kubelet syncs Secret volumes within about a minute).
#   tls.key, tls.crt   the serving certificate (ECDSA P-256), SANs <service>.<namespace>.svc and
#                      <service>.<namespace>.svc.<cluster domain>; the apiserver calls the first
#                      (https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#service-reference).
#
# Needs bash and openssl (OpenSSL 1.1.1+ or LibreSSL 3+).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${repo_root}/manifests/overlays/self-signed/generated"
namespace="dns-tuner"
service="dns-tuner"
cluster_domain="cluster.local"
ca_days=3650
cert_days=365
renew_days=30

usage() {
  cat <<EOF
Usage: $0 [--out DIR] [--namespace NS] [--service NAME] [--cluster-domain DOMAIN]
          [--ca-days N] [--cert-days N] [--renew-days N]
Defaults: --out ${out} --namespace ${namespace} --service ${service} --cluster-domain ${cluster_domain}
          --ca-days ${ca_days} --cert-days ${cert_days} --renew-days ${renew_days}
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --namespace) namespace="${2:?--namespace needs a value}"; shift 2 ;;
    --service) service="${2:?--service needs a value}"; shift 2 ;;
    --cluster-domain) cluster_domain="${2:?--cluster-domain needs a value}"; shift 2 ;;
    --ca-days) ca_days="${2:?--ca-days needs a value}"; shift 2 ;;
    --cert-days) cert_days="${2:?--cert-days needs a value}"; shift 2 ;;
    --renew-days) renew_days="${2:?--renew-days needs a value}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "self-signed.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

for n in "$ca_days" "$cert_days" "$renew_days"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "self-signed.sh: day counts must be whole numbers, got '$n'" >&2; exit 2; }
done
if ((cert_days <= renew_days)); then
  echo "self-signed.sh: --cert-days (${cert_days}) must exceed --renew-days (${renew_days})" >&2
  exit 2
fi
if ((ca_days <= cert_days)); then
  echo "self-signed.sh: --ca-days (${ca_days}) must exceed --cert-days (${cert_days})" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "self-signed.sh: openssl not found" >&2; exit 1; }

dns_names=("${service}.${namespace}.svc" "${service}.${namespace}.svc.${cluster_domain}")

umask 077
mkdir -p "$out"
work="$(mktemp -d "${out}/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log() { echo "self-signed.sh: $*" >&2; }

# True when the certificate and the private key belong together.
key_matches() { # cert key
  [[ -s "$1" && -s "$2" ]] || return 1
  local a b
  a="$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" || return 1
  b="$(openssl pkey -in "$2" -pubout 2>/dev/null)" || return 1
  [[ -n "$a" && "$a" == "$b" ]]
}

# True when the certificate is still valid N days from now.
valid_for_days() { # cert days
  openssl x509 -in "$1" -noout -checkend "$(($2 * 86400))" >/dev/null 2>&1
}

# The certificate's DNS SANs, sorted, one per line.
dns_sans() { # cert
  openssl x509 -in "$1" -noout -text 2>/dev/null |
    grep -A1 'X509v3 Subject Alternative Name' | tail -n 1 | tr ',' '\n' |
    sed -n 's/^ *DNS:\(.*\)$/\1/p' | sort
}

new_key() { # path
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

random_serial() { echo "0x$(openssl rand -hex 16)"; }

# --- CA ----------------------------------------------------------------------------------------------------------
# A serving certificate issued now must not outlive its CA, so the CA is renewed once it has less than
# --cert-days left.
ca_renewed=false
if key_matches "${out}/ca.crt" "${out}/ca.key" && valid_for_days "${out}/ca.crt" "$cert_days"; then
  log "keeping CA ${out}/ca.crt (valid until $(openssl x509 -in "${out}/ca.crt" -noout -enddate | cut -d= -f2))"
else
  log "making a new CA"
  cat >"${work}/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = dns-tuner-ca-$(date -u +%Y%m%d%H%M%S)
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  new_key "${work}/ca.key"
  openssl req -x509 -new -key "${work}/ca.key" -sha256 -days "$ca_days" -set_serial "$(random_serial)" \
    -config "${work}/ca.cnf" -extensions v3_ca -out "${work}/ca.crt"
  # Keep trusting the outgoing CA while it is valid: running pods still present a certificate it signed.
  if [[ -s "${out}/ca.crt" ]] && valid_for_days "${out}/ca.crt" 0; then
    cp "${out}/ca.crt" "${work}/ca-previous.crt"
    mv -f "${work}/ca-previous.crt" "${out}/ca-previous.crt"
  fi
  [[ ! -e "${out}/ca.crt" ]] || ca_renewed=true
  mv -f "${work}/ca.key" "${out}/ca.key"
  mv -f "${work}/ca.crt" "${out}/ca.crt"
fi

# --- serving certificate -----------------------------------------------------------------------------------------
reason=""
if ! key_matches "${out}/tls.crt" "${out}/tls.key"; then
  reason="missing or not matching its key"
elif ! openssl verify -CAfile "${out}/ca.crt" "${out}/tls.crt" >/dev/null 2>&1; then
  reason="not signed by the current CA"
elif ! valid_for_days "${out}/tls.crt" "$renew_days"; then
  reason="expires within ${renew_days} days"
elif [[ "$(dns_sans "${out}/tls.crt")" != "$(printf '%s\n' "${dns_names[@]}" | sort)" ]]; then
  reason="names differ from ${dns_names[*]}"
fi

if [[ -z "$reason" ]]; then
  log "keeping serving certificate ${out}/tls.crt (valid until $(openssl x509 -in "${out}/tls.crt" -noout -enddate | cut -d= -f2))"
else
  log "issuing serving certificate for ${dns_names[*]} (${reason})"
  sans="$(printf 'DNS:%s,' "${dns_names[@]}")"
  cat >"${work}/tls.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${dns_names[0]}
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${sans%,}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  new_key "${work}/tls.key"
  openssl req -new -key "${work}/tls.key" -config "${work}/tls.cnf" -out "${work}/tls.csr"
  openssl x509 -req -in "${work}/tls.csr" -CA "${out}/ca.crt" -CAkey "${out}/ca.key" -set_serial "$(random_serial)" \
    -sha256 -days "$cert_days" -extfile "${work}/tls.cnf" -extensions v3_server -out "${work}/tls.crt" 2>/dev/null
  # Key first, then certificate: a run cut short between the two leaves a mismatch, which the next run repairs.
  mv -f "${work}/tls.key" "${out}/tls.key"
  mv -f "${work}/tls.crt" "${out}/tls.crt"
fi

# --- caBundle ----------------------------------------------------------------------------------------------------
cat "${out}/ca.crt" >"${work}/ca-bundle.crt"
if [[ -s "${out}/ca-previous.crt" ]]; then
  if valid_for_days "${out}/ca-previous.crt" 0; then
    cat "${out}/ca-previous.crt" >>"${work}/ca-bundle.crt"
  else
    rm -f "${out}/ca-previous.crt"
  fi
fi
mv -f "${work}/ca-bundle.crt" "${out}/ca-bundle.crt"
chmod 0644 "${out}/ca.crt" "${out}/ca-bundle.crt" "${out}/tls.crt"
[[ ! -e "${out}/ca-previous.crt" ]] || chmod 0644 "${out}/ca-previous.crt"

if [[ "$ca_renewed" == true ]]; then
  log "the CA was replaced: apply the overlay so the webhook's caBundle and the Secret are updated together"
fi
log "done: ${out}"
