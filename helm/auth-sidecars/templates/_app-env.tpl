{{/*
Each app's environment by its config variable names (apps/<app>/src/config.ts), the files it
mounts from Secrets, and the render-time checks that replace an exit 78 in the pod.
Every template here takes the app context (dict "root" "key" "app" "values" "meta").
*/}}

{{- define "auth-sidecars.mountDir" -}}/var/run/secrets/auth-sidecars/{{ . }}{{- end -}}

{{- define "auth-sidecars.env.common" -}}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
- name: PORT
  value: {{ .values.port | quote }}
{{- end -}}

{{/*
The Entra identity. Under workload identity the webhook adds AZURE_FEDERATED_TOKEN_FILE. The apps on
auth-core get the credential kind the chart chose, so none of them falls back to another identity
(openai-proxy requires its certificate unless told otherwise); aks-broker only knows workload identity.
*/}}
{{- define "auth-sidecars.env.entra" -}}
{{- if ne .key "aksBroker" }}
- name: AZURE_CREDENTIAL_KIND
  value: {{ include "auth-sidecars.credentialKind" . | quote }}
{{- end }}
{{- with .root.Values.azure.authorityHost }}
- name: AZURE_AUTHORITY_HOST
  value: {{ . | quote }}
{{- end }}
{{- with .root.Values.azure.tenantId }}
- name: AZURE_TENANT_ID
  value: {{ . | quote }}
{{- end }}
{{- with include "auth-sidecars.clientId" . }}
- name: AZURE_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- if eq (include "auth-sidecars.credentialKind" .) "client-secret" }}
- name: AZURE_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      {{- include "auth-sidecars.secretKeyRef" (dict "root" .root "app" .app "ref" .values.azure.clientSecret "internalKey" "azure-client-secret") | nindent 6 }}
{{- end }}
{{- end -}}

{{/* The client side of both token-injecting proxies (proxy-kit's CLIENT_* variables). */}}
{{- define "auth-sidecars.env.proxyClient" -}}
- name: CLIENT_HEADERS_TIMEOUT
  value: {{ .values.clientHeadersTimeout | toString | quote }}
- name: CLIENT_MAX_CONNECTIONS
  value: {{ .values.clientMaxConnections | int | toString | quote }}
{{- end -}}

{{- define "auth-sidecars.env.promSidecar" -}}
- name: PROMETHEUS_QUERY_ENDPOINT
  value: {{ .values.queryEndpoint | quote }}
{{- with .values.scope }}
- name: AZURE_SCOPE
  value: {{ . | quote }}
{{- end }}
- name: ALLOW_STATUS_CONFIG
  value: {{ .values.allowStatusConfig | toString | quote }}
{{- with .values.allowPathPrefixes }}
- name: ALLOW_PATH_PREFIXES
  value: {{ join "," . | quote }}
{{- end }}
{{ include "auth-sidecars.env.proxyClient" . }}
{{- end -}}

{{- define "auth-sidecars.env.openaiProxy" -}}
- name: API_BASE_URL
  value: {{ .values.apiBaseUrl | quote }}
{{- with .values.scope }}
- name: AZURE_SCOPE
  value: {{ . | quote }}
{{- end }}
{{- if eq (include "auth-sidecars.credentialKind" .) "certificate" }}
- name: AZURE_CERTIFICATE_PATH
  value: {{ include "auth-sidecars.mountDir" "certificate" }}/cert.pem
{{- end }}
{{ include "auth-sidecars.env.proxyClient" . }}
{{- end -}}

{{- define "auth-sidecars.env.tokenServer" -}}
- name: HOST
  value: {{ include "auth-sidecars.tokenServerHost" .root | quote }}
{{- if include "auth-sidecars.secretSet" .values.sharedSecret }}
- name: AZD_AUTH_SECRET_FILE
  value: {{ include "auth-sidecars.mountDir" "shared-secret" }}/secret
{{- end }}
{{- if include "auth-sidecars.secretSet" .values.clients }}
- name: TOKEN_SERVER_CLIENTS_FILE
  value: {{ include "auth-sidecars.mountDir" "clients" }}/clients.json
{{- end }}
{{- with .values.allowedScopes }}
- name: TOKEN_SERVER_ALLOWED_SCOPES
  value: {{ join "," . | quote }}
{{- end }}
{{- if .values.tls.existingSecret }}
- name: TLS_CERT_PATH
  value: {{ include "auth-sidecars.mountDir" "tls" }}/tls.crt
- name: TLS_KEY_PATH
  value: {{ include "auth-sidecars.mountDir" "tls" }}/tls.key
{{- end }}
{{- end -}}

{{- define "auth-sidecars.env.cartaForwardauth" -}}
- name: TARGET_NAMESPACE
  value: {{ .values.targetNamespace | quote }}
- name: PROBE_PORT
  value: {{ .values.probePort | quote }}
{{- end -}}

{{/*
aks-broker. The Redis password never sits in the Deployment: Kubernetes puts REDIS_PASSWORD (from
its Secret) into REDIS_URL at container start through $(REDIS_PASSWORD), which needs it declared first.
*/}}
{{- define "auth-sidecars.env.aksBroker" -}}
{{- $secrets := .values.secrets -}}
{{- $own := dict "existingSecret" $secrets.existingSecret "key" "session-secret" -}}
- name: PUBLIC_URL
  value: {{ .values.publicUrl | quote }}
- name: ENTRA_TIMEOUT_SECONDS
  value: {{ .values.entraTimeoutSeconds | toString | quote }}
- name: KUBE_MAX_STREAMS_PER_USER
  value: {{ .values.kube.maxStreamsPerUser | int | toString | quote }}
- name: KUBE_MAX_CALLS_PER_USER
  value: {{ .values.kube.maxCallsPerUser | int | toString | quote }}
- name: CLI_CREDENTIAL_TTL_SECONDS
  value: {{ .values.cli.credentialTtlSeconds | int | toString | quote }}
- name: CLI_CREDENTIALS_PER_SESSION
  value: {{ .values.cli.credentialsPerSession | int | toString | quote }}
{{- with .values.kube.allowSubresources }}
- name: KUBE_ALLOW_SUBRESOURCES
  value: {{ join "," . | quote }}
{{- end }}
- name: SESSION_SECRET
  valueFrom:
    secretKeyRef:
      {{- include "auth-sidecars.secretKeyRef" (dict "root" .root "app" .app "ref" $own "internalKey" "session-secret") | nindent 6 }}
{{- with .values.redisUrl }}
{{- if include "auth-sidecars.secretSet" $.values.redisPassword }}
{{- $u := urlParse . }}
{{- $user := splitList ":" ($u.userinfo | default "") | first }}
{{- $rest := regexReplaceAll "^rediss?://([^@/]*@)?" . "" }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      {{- include "auth-sidecars.secretKeyRef" (dict "root" $.root "app" $.app "ref" $.values.redisPassword "internalKey" "redis-password") | nindent 6 }}
- name: REDIS_URL
  value: {{ printf "%s://%s:$(REDIS_PASSWORD)@%s" $u.scheme $user $rest | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ . | quote }}
{{- end }}
- name: CACHE_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      {{- include "auth-sidecars.secretKeyRef" (dict "root" $.root "app" $.app "ref" (dict "existingSecret" $secrets.existingSecret "key" "cache-encryption-key") "internalKey" "cache-encryption-key") | nindent 6 }}
- name: REDIS_TIMEOUT_SECONDS
  value: {{ $.values.redisTimeoutSeconds | toString | quote }}
{{- end }}
{{- if not .values.serviceAccount.automountServiceAccountToken }}
- name: KUBE_CA_FILE
  value: {{ include "auth-sidecars.mountDir" "kube-ca" }}/ca.crt
{{- end }}
{{- end -}}

{{/*
The container's env: the chart's variables, then the user's `env`. A name in both is written once,
with the user's value, in the chart's place (so $(VAR) references keep their order).
*/}}
{{- define "auth-sidecars.env" -}}
{{- $chart := include "auth-sidecars.env.common" . | fromYamlArray -}}
{{- if .meta.entra }}
{{- $chart = concat $chart (include "auth-sidecars.env.entra" . | fromYamlArray) -}}
{{- end }}
{{- $chart = concat $chart (include (printf "auth-sidecars.env.%s" .key) . | fromYamlArray) -}}
{{- $user := .values.env | default dict -}}
{{- $out := list -}}
{{- $seen := dict -}}
{{- range $chart }}
{{- if hasKey $user .name }}
{{- $out = append $out (include "auth-sidecars.userEnvEntry" (dict "name" .name "value" (get $user .name)) | fromYaml) -}}
{{- else }}
{{- $out = append $out . -}}
{{- end }}
{{- $_ := set $seen .name true -}}
{{- end }}
{{- range $name, $value := $user }}
{{- if not (hasKey $seen $name) }}
{{- $out = append $out (include "auth-sidecars.userEnvEntry" (dict "name" $name "value" $value) | fromYaml) -}}
{{- end }}
{{- end }}
{{- toYaml $out -}}
{{- end -}}

{{- define "auth-sidecars.userEnvEntry" -}}
name: {{ .name }}
{{- if kindIs "map" .value }}
{{ toYaml .value }}
{{- else }}
value: {{ .value | toString | quote }}
{{- end }}
{{- end -}}

{{/*
Secret-backed files an app mounts: list of {name, secret, items, path}. Only the needed key is
projected, under a fixed file name, so the env above can name the file.
*/}}
{{- define "auth-sidecars.secretMounts" -}}
{{- $ctx := . -}}
{{- if and (eq .key "openaiProxy") (eq (include "auth-sidecars.credentialKind" .) "certificate") }}
{{- $ref := include "auth-sidecars.secretKeyRef" (dict "root" .root "app" .app "ref" .values.certificate "internalKey" "cert.pem") | fromYaml }}
- { name: certificate, secret: {{ $ref.name }}, items: [{ key: {{ $ref.key | quote }}, path: cert.pem }], path: {{ include "auth-sidecars.mountDir" "certificate" }} }
{{- else if eq .key "tokenServer" }}
{{- if include "auth-sidecars.secretSet" .values.sharedSecret }}
{{- $ref := include "auth-sidecars.secretKeyRef" (dict "root" .root "app" .app "ref" .values.sharedSecret "internalKey" "secret") | fromYaml }}
- { name: shared-secret, secret: {{ $ref.name }}, items: [{ key: {{ $ref.key | quote }}, path: secret }], path: {{ include "auth-sidecars.mountDir" "shared-secret" }} }
{{- end }}
{{- if include "auth-sidecars.secretSet" .values.clients }}
{{- $ref := include "auth-sidecars.secretKeyRef" (dict "root" .root "app" .app "ref" .values.clients "internalKey" "clients.json") | fromYaml }}
- { name: clients, secret: {{ $ref.name }}, items: [{ key: {{ $ref.key | quote }}, path: clients.json }], path: {{ include "auth-sidecars.mountDir" "clients" }} }
{{- end }}
{{- with .values.tls.existingSecret }}
- { name: tls, secret: {{ . }}, items: [{ key: tls.crt, path: tls.crt }, { key: tls.key, path: tls.key }], path: {{ include "auth-sidecars.mountDir" "tls" }} }
{{- end }}
{{- end }}
{{- end -}}

{{/*
Entries of the chart-made Secret of one app (inline values only), as a dict internalKey -> value.
*/}}
{{- define "auth-sidecars.inlineSecrets" -}}
{{- $out := dict -}}
{{- with .values.azure }}
{{- with .clientSecret }}
{{- if and .value (not .existingSecret) }}{{ $_ := set $out "azure-client-secret" .value }}{{ end }}
{{- end }}
{{- end }}
{{- if eq .key "openaiProxy" }}
{{- with .values.certificate }}{{ if and .value (not .existingSecret) }}{{ $_ := set $out "cert.pem" .value }}{{ end }}{{ end }}
{{- else if eq .key "tokenServer" }}
{{- with .values.sharedSecret }}{{ if and .value (not .existingSecret) }}{{ $_ := set $out "secret" .value }}{{ end }}{{ end }}
{{- with .values.clients }}{{ if and .value (not .existingSecret) }}{{ $_ := set $out "clients.json" .value }}{{ end }}{{ end }}
{{- else if eq .key "aksBroker" }}
{{- if not .values.secrets.existingSecret }}
{{- $_ := set $out "session-secret" .values.secrets.sessionSecret }}
{{- if .values.redisUrl }}{{ $_ := set $out "cache-encryption-key" .values.secrets.cacheEncryptionKey }}{{ end }}
{{- end }}
{{- with .values.redisPassword }}{{ if and .value (not .existingSecret) }}{{ $_ := set $out "redis-password" .value }}{{ end }}{{ end }}
{{- end }}
{{- toYaml $out -}}
{{- end -}}

{{/* Render-time checks: a `fail` naming the value to set, instead of a pod that exits 78. */}}
{{- define "auth-sidecars.validate" -}}
{{- $p := printf "apps.%s" .key -}}
{{- $v := .values -}}
{{- $env := $v.env | default dict -}}
{{- if eq .key "promSidecar" }}
{{- if not $v.queryEndpoint }}{{ fail (printf "%s.queryEndpoint is required: the query endpoint of your Azure Monitor workspace (PROMETHEUS_QUERY_ENDPOINT)" $p) }}{{ end }}
{{- else if eq .key "openaiProxy" }}
{{- if not $v.apiBaseUrl }}{{ fail (printf "%s.apiBaseUrl is required: your Azure OpenAI endpoint, e.g. https://my-resource.openai.azure.com (API_BASE_URL)" $p) }}{{ end }}
{{- else if eq .key "tokenServer" }}
{{- if not (or (include "auth-sidecars.secretSet" $v.sharedSecret) (include "auth-sidecars.secretSet" $v.clients) (hasKey $env "AZD_AUTH_SECRET") (hasKey $env "TOKEN_SERVER_CLIENTS")) }}
{{- fail (printf "%s needs a client: set %s.sharedSecret.existingSecret (or .value), or %s.clients.existingSecret (or .value)" $p $p $p) }}
{{- end }}
{{- with $v.sharedSecret.value }}{{ if lt (len .) 16 }}{{ fail (printf "%s.sharedSecret.value must be at least 16 characters" $p) }}{{ end }}{{ end }}
{{- else if eq .key "cartaForwardauth" }}
{{- if not $v.probePort }}{{ fail (printf "%s.probePort is required: /livez, /readyz and /metrics are served there, since on %s.port every path is a ForwardAuth decision (PROBE_PORT)" $p $p) }}{{ end }}
{{- if eq (int $v.probePort) (int $v.port) }}{{ fail (printf "%s.probePort must differ from %s.port (%d): on that port every path is a ForwardAuth decision" $p $p (int $v.port)) }}{{ end }}
{{- if hasKey $env "PROBE_PORT" }}{{ fail (printf "%s.env.PROBE_PORT: set %s.probePort instead; the container port, probes, Service, NetworkPolicy and monitors follow it" $p $p) }}{{ end }}
{{- else if eq .key "aksBroker" }}
{{- if not $v.publicUrl }}{{ fail (printf "%s.publicUrl is required: the broker's public URL; <publicUrl>/callback is the redirect URI registered in Entra (PUBLIC_URL)" $p) }}{{ end }}
{{- if and (gt (int $v.replicas) 1) (not $v.redisUrl) }}
{{- fail (printf "%s.replicas is %d but %s.redisUrl is empty: a sign-in that starts on one replica and returns to another fails with invalid_state. Set %s.redisUrl (and %s.secrets.cacheEncryptionKey), or set %s.replicas=1" $p (int $v.replicas) $p $p $p $p) }}
{{- end }}
{{- if not $v.secrets.existingSecret }}
{{- if lt (len $v.secrets.sessionSecret) 32 }}{{ fail (printf "%s.secrets: set existingSecret (keys session-secret, cache-encryption-key) or sessionSecret (32+ characters)" $p) }}{{ end }}
{{- if and $v.redisUrl (not $v.secrets.cacheEncryptionKey) }}{{ fail (printf "%s.secrets.cacheEncryptionKey is required with redisUrl (openssl rand -base64 32), or set %s.secrets.existingSecret" $p $p) }}{{ end }}
{{- end }}
{{- if and (include "auth-sidecars.secretSet" $v.redisPassword) (not $v.redisUrl) }}{{ fail (printf "%s.redisPassword is set but %s.redisUrl is empty" $p $p) }}{{ end }}
{{- if and (include "auth-sidecars.secretSet" $v.redisPassword) (contains ":" ((urlParse $v.redisUrl).userinfo | default "")) }}{{ fail (printf "%s.redisUrl carries a password and %s.redisPassword is set: keep the password in redisPassword only" $p $p) }}{{ end }}
{{- if ne (include "auth-sidecars.credentialKind" .) "workload-identity" }}
{{- fail (printf "%s signs users in with workload identity: set azure.workloadIdentity.enabled=true (or give AZURE_FEDERATED_TOKEN_FILE in %s.env)" $p $p) }}
{{- end }}
{{- if $v.ingress.enabled }}
{{- if not (hasPrefix "https://" $v.publicUrl) }}{{ fail (printf "%s.ingress needs an https publicUrl: the session cookie is __Host- and Secure" $p) }}{{ end }}
{{- if not $v.ingress.tls.secretName }}{{ fail (printf "%s.ingress.tls.secretName is required: the broker needs HTTPS for its __Host- cookie" $p) }}{{ end }}
{{- end }}
{{- end }}
{{- if .meta.entra }}
{{- $kind := include "auth-sidecars.credentialKind" . }}
{{- if ne $kind "default" }}
{{- if not (or .root.Values.azure.tenantId (hasKey $env "AZURE_TENANT_ID")) }}
{{- fail (printf "%s needs the Entra tenant for its %s credential: set azure.tenantId" $p $kind) }}
{{- end }}
{{- if not (include "auth-sidecars.clientId" .) }}
{{- fail (printf "%s needs an Entra client id for its %s credential: set %s.azure.clientId (or azure.clientId for every app)" $p $kind $p) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
