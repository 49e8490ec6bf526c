{{/* Each app's own environment, by its config variable names (see the app's README). */}}

{{- define "auth-sidecars.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | quote }}
- name: PORT
  value: {{ .values.port | quote }}
{{- with .root.Values.azure.authorityHost }}
- name: AZURE_AUTHORITY_HOST
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "auth-sidecars.azureIdentityEnv" -}}
{{- with .root.Values.azure.tenantId }}
- name: AZURE_TENANT_ID
  value: {{ . | quote }}
{{- end }}
{{- with .root.Values.azure.clientId }}
- name: AZURE_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "auth-sidecars.env.promSidecar" -}}
{{ include "auth-sidecars.azureIdentityEnv" . | trim }}
- name: PROMETHEUS_QUERY_ENDPOINT
  value: {{ required "apps.promSidecar.queryEndpoint is required" .values.queryEndpoint | quote }}
{{- with .values.scope }}
- name: AZURE_SCOPE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "auth-sidecars.env.openaiProxy" -}}
{{ include "auth-sidecars.azureIdentityEnv" . | trim }}
- name: API_BASE_URL
  value: {{ required "apps.openaiProxy.apiBaseUrl is required" .values.apiBaseUrl | quote }}
- name: AZURE_CERTIFICATE_PATH
  value: /var/run/secrets/auth-sidecars/certificate/{{ .values.certificate.key }}
{{- with .values.scope }}
- name: AZURE_SCOPE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "auth-sidecars.env.tokenServer" -}}
{{ include "auth-sidecars.azureIdentityEnv" . | trim }}
- name: HOST
  value: "0.0.0.0"
- name: AZD_AUTH_SECRET_FILE
  value: /var/run/secrets/auth-sidecars/shared-secret/{{ .values.sharedSecret.key }}
{{- if .values.tls.existingSecret }}
- name: TLS_CERT_PATH
  value: /var/run/secrets/auth-sidecars/tls/tls.crt
- name: TLS_KEY_PATH
  value: /var/run/secrets/auth-sidecars/tls/tls.key
{{- end }}
{{- end -}}

{{- define "auth-sidecars.env.cartaForwardauth" -}}
- name: TARGET_NAMESPACE
  value: {{ .values.targetNamespace | quote }}
- name: PROBE_PORT
  value: {{ .values.probePort | quote }}
{{- end -}}

{{- define "auth-sidecars.env.aksBroker" -}}
{{- $secretName := default (include "auth-sidecars.appFullname" .) .values.secrets.existingSecret }}
{{ include "auth-sidecars.azureIdentityEnv" . | trim }}
- name: PUBLIC_URL
  value: {{ required "apps.aksBroker.publicUrl is required" .values.publicUrl | quote }}
- name: SESSION_SECRET
  valueFrom:
    secretKeyRef: { name: {{ $secretName }}, key: session-secret }
{{- with .values.redisUrl }}
- name: REDIS_URL
  value: {{ . | quote }}
- name: CACHE_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secretName }}, key: cache-encryption-key }
{{- end }}
{{- end -}}

{{/* Secret-backed files each app mounts: list of {name, secret, path}. */}}
{{- define "auth-sidecars.secretMounts" -}}
{{- $ctx := . -}}
{{- if eq .key "openaiProxy" }}
- name: certificate
  secret: {{ include "auth-sidecars.secretName" (dict "root" $ctx.root "app" $ctx.app "secret" $ctx.values.certificate) }}
  path: /var/run/secrets/auth-sidecars/certificate
{{- else if eq .key "tokenServer" }}
- name: shared-secret
  secret: {{ include "auth-sidecars.secretName" (dict "root" $ctx.root "app" $ctx.app "secret" $ctx.values.sharedSecret) }}
  path: /var/run/secrets/auth-sidecars/shared-secret
{{- if .values.tls.existingSecret }}
- name: tls
  secret: {{ .values.tls.existingSecret }}
  path: /var/run/secrets/auth-sidecars/tls
{{- end }}
{{- end }}
{{- end -}}
