#!/usr/bin/env bash
# pki.sh STATE NODE HOSTIP — a throwaway CA, the API server's serving certificate, client
# certificates for every component and the admin, the service-account key pair, and a
# kubeconfig per client with the certificates inline (so a kubeconfig can be copied alone).
set -euo pipefail
state=$1 node=$2 hostip=$3
p=$state/pki
mkdir -p "$p"
cd "$p"
# ECDSA P-256: every Kubernetes component accepts it, and ten keys take milliseconds
# instead of the seconds RSA-2048 needs (this runs on every cluster start).
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -nodes -key ca.key -subj "/CN=csi-viso-e2e-ca" -days 3650 -out ca.crt
key sa.key
openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >client.ext
cat >apiserver.ext <<EOT
basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$node,IP:127.0.0.1,IP:10.96.0.1,IP:$hostip
EOT
# cert NAME SUBJECT EXTFILE: a key and a CA-signed certificate.
cert() {
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
		-out "$1.crt" -extfile "$3" 2>/dev/null
	rm "$1.csr"
}
cert apiserver "/CN=kube-apiserver" apiserver.ext
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
cert admin "/O=system:masters/CN=kubernetes-admin" client.ext
cert controller-manager "/CN=system:kube-controller-manager" client.ext
cert scheduler "/CN=system:kube-scheduler" client.ext
cert kubelet "/O=system:nodes/CN=system:node:$node" client.ext
cert kube-proxy "/CN=system:kube-proxy" client.ext

b64() { base64 -w0 "$1"; }
# kubeconfig FILE USER: a kubeconfig for USER's certificate against the local API server.
kubeconfig() {
	cat >"$1" <<EOT
apiVersion: v1
kind: Config
clusters:
- name: csi-viso-e2e
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $(b64 ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$2.crt")
    client-key-data: $(b64 "$2.key")
contexts:
- name: csi-viso-e2e
  context: {cluster: csi-viso-e2e, user: $2}
current-context: csi-viso-e2e
EOT
	chmod 600 "$1"
}
kubeconfig "$state/kubeconfig" admin
for n in controller-manager scheduler kubelet kube-proxy; do kubeconfig "$state/$n.kubeconfig" "$n"; done
