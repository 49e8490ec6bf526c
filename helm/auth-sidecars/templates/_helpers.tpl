{{/* Names, labels, the per-app table the templates range over, and the rules shared by them. */}}

{{- define "auth-sidecars.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every object name. Not cut here: `suffixed` cuts it so that its suffix survives. */}}
{{- define "auth-sidecars.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "auth-sidecars.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<suffix> within 63 characters, the prefix cut first; call with (dict "root" $ "suffix" "x"). */}}
{{- define "auth-sidecars.suffixed" -}}
{{- $prefix := include "auth-sidecars.fullname" .root | trunc (int (sub 62 (len .suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix .suffix -}}
{{- end -}}

{{/* Resource name of one app: <fullname>-<app>; call with a dict holding "root" and "app". */}}
{{- define "auth-sidecars.appFullname" -}}
{{- include "auth-sidecars.suffixed" (dict "root" .root "suffix" .app) -}}
{{- end -}}

{{- define "auth-sidecars.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: {{ include "auth-sidecars.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one app; call with (dict "root" $ "app" "openai-proxy"). */}}
{{- define "auth-sidecars.selectorLabels" -}}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/*
The apps: values key -> what the templates need to know about each.
  entra: holds an Entra credential; kubeApi: calls the Kubernetes API;
  hpa: may autoscale; upstream: the values key of its upstream URL.
*/}}
{{- define "auth-sidecars.apps" -}}
promSidecar: { name: prom-sidecar, entra: true, kubeApi: false, hpa: true, upstream: queryEndpoint }
openaiProxy: { name: openai-proxy, entra: true, kubeApi: false, hpa: true, upstream: apiBaseUrl }
tokenServer: { name: token-server, entra: true, kubeApi: false, hpa: false, upstream: "" }
cartaForwardauth: { name: carta-forwardauth, entra: false, kubeApi: true, hpa: true, upstream: "" }
aksBroker: { name: aks-broker, entra: true, kubeApi: true, hpa: false, upstream: "" }
{{- end -}}

{{/* values key -> app name, for templates that need only the names. */}}
{{- define "auth-sidecars.appNames" -}}
{{- range $key, $meta := include "auth-sidecars.apps" . | fromYaml }}
{{ $key }}: {{ $meta.name }}
{{- end }}
{{- end -}}

{{- define "auth-sidecars.serviceAccountName" -}}
{{- $sa := .values.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "auth-sidecars.appFullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{- define "auth-sidecars.image" -}}
{{- $registry := default .root.Values.image.registry .root.Values.global.imageRegistry -}}
{{- $tag := .values.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- $ref := printf "%s/%s:%s" $registry .values.image.repository $tag -}}
{{- with .values.image.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "auth-sidecars.imagePullSecrets" -}}
{{- $secrets := concat (.Values.global.imagePullSecrets | default list) .Values.imagePullSecrets -}}
{{- with $secrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* token-server's bind address: loopback unless TLS is set or the user chose one. */}}
{{- define "auth-sidecars.tokenServerHost" -}}
{{- $ts := .Values.apps.tokenServer -}}
{{- if $ts.host -}}{{ $ts.host }}{{- else if $ts.tls.existingSecret -}}0.0.0.0{{- else -}}127.0.0.1{{- end -}}
{{- end -}}

{{/* "true" when an app listens on loopback only, so nothing outside its pod can reach it. */}}
{{- define "auth-sidecars.loopbackOnly" -}}
{{- if eq .key "tokenServer" -}}
{{- $host := include "auth-sidecars.tokenServerHost" .root -}}
{{- if or (hasPrefix "127." $host) (eq $host "localhost") (eq $host "::1") -}}true{{- end -}}
{{- else -}}
{{- $host := (.values.env | default dict).HOST | default "" | toString -}}
{{- if or (hasPrefix "127." $host) (eq $host "localhost") (eq $host "::1") -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{- define "auth-sidecars.scheme" -}}
{{- if and (eq .key "tokenServer") .values.tls.existingSecret -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{/* A secret reference {existingSecret, key, value} is in use when either form is set. */}}
{{- define "auth-sidecars.secretSet" -}}
{{- if and . (or .existingSecret .value) -}}true{{- end -}}
{{- end -}}

{{/*
The Secret and key behind one secret reference. The chart-made Secret (<fullname>-<app>) keys its
entries by `internalKey`, so two inline values of one app never collide; `key` names the entry of
an existingSecret. Call with (dict "root" "app" "ref" "internalKey"); returns {name, key} as YAML.
*/}}
{{- define "auth-sidecars.secretKeyRef" -}}
{{- if .ref.existingSecret -}}
name: {{ .ref.existingSecret }}
key: {{ .ref.key }}
{{- else -}}
name: {{ include "auth-sidecars.appFullname" . }}
key: {{ .internalKey }}
{{- end -}}
{{- end -}}

{{/* The Entra client id an app acts as: its own, else the shared one, else one the user put in env. */}}
{{- define "auth-sidecars.clientId" -}}
{{- $own := "" -}}
{{- with .values.azure }}{{ $own = .clientId }}{{ end -}}
{{- $own | default .root.Values.azure.clientId | default (.values.env | default dict).AZURE_CLIENT_ID | default "" -}}
{{- end -}}

{{/*
How an Entra app gets its credential, by the precedence auth-core applies: client secret,
certificate, workload identity, else the DefaultAzureCredential chain (managed identity).
*/}}
{{- define "auth-sidecars.credentialKind" -}}
{{- $secret := "" -}}
{{- with .values.azure }}{{ $secret = include "auth-sidecars.secretSet" .clientSecret }}{{ end -}}
{{- if $secret -}}client-secret
{{- else if and (eq .key "openaiProxy") (include "auth-sidecars.secretSet" .values.certificate) -}}certificate
{{- else if .root.Values.azure.workloadIdentity.enabled -}}workload-identity
{{- else if hasKey (.values.env | default dict) "AZURE_FEDERATED_TOKEN_FILE" -}}workload-identity
{{- else -}}default
{{- end -}}
{{- end -}}

{{/* Port of a URL: explicit, else the scheme's (https 443, http 80, redis 6379). */}}
{{- define "auth-sidecars.urlPort" -}}
{{- $u := urlParse . -}}
{{- $hostPort := splitList ":" $u.host -}}
{{- if gt (len $hostPort) 1 -}}{{ last $hostPort }}
{{- else if eq $u.scheme "https" -}}443
{{- else if eq $u.scheme "http" -}}80
{{- else -}}6379
{{- end -}}
{{- end -}}

{{/*
Named container ports the probes and the scrapers use; call with the app context. An app with a
`probePort` (carta-forwardauth's PROBE_PORT) serves /livez, /readyz and /metrics there: on its `http`
port every method and path is a ForwardAuth decision, so a probe there would get a 403, not an
answer. The others serve all of it on `http`.
*/}}
{{- define "auth-sidecars.probePortName" -}}{{ if .values.probePort }}probes{{ else }}http{{ end }}{{- end -}}
{{- define "auth-sidecars.metricsPortName" -}}{{ include "auth-sidecars.probePortName" . }}{{- end -}}
{{/* The number behind probePortName. */}}
{{- define "auth-sidecars.probePort" -}}{{ .values.probePort | default .values.port }}{{- end -}}

{{/* Probe defaults; apps.<name>.probes.<kind> is merged over them. */}}
{{- define "auth-sidecars.probeDefaults" -}}
liveness: { path: /livez, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }
readiness: { path: /readyz, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 }
startup: { path: /livez, periodSeconds: 2, timeoutSeconds: 3, failureThreshold: 30 }
{{- end -}}

{{/*
One probe. An app bound to loopback cannot be probed over HTTP (the kubelet connects to the pod
IP), so its probes run the image's node against 127.0.0.1, as the image's HEALTHCHECK does.
Call with the app context plus "kind".
*/}}
{{- define "auth-sidecars.probe" -}}
{{- $defaults := index (include "auth-sidecars.probeDefaults" . | fromYaml) .kind -}}
{{- $probe := mergeOverwrite (deepCopy $defaults) (index (.values.probes | default dict) .kind | default dict) -}}
{{- $scheme := include "auth-sidecars.scheme" . -}}
{{- if include "auth-sidecars.loopbackOnly" . }}
exec:
  command:
    - node
    - -e
    - {{ printf "fetch('%s://127.0.0.1:%v%s').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" $scheme (include "auth-sidecars.probePort" .) $probe.path | quote }}
{{- else }}
httpGet:
  path: {{ $probe.path }}
  port: {{ include "auth-sidecars.probePortName" . }}
  scheme: {{ upper $scheme }}
{{- end }}
{{- toYaml (omit $probe "path") | nindent 0 }}
{{- end -}}

{{/* The pod's preStop hook: the sleep action where the cluster has it (1.30+), else the image's sleep. */}}
{{- define "auth-sidecars.preStop" -}}
{{- $seconds := int .Values.preStop.sleepSeconds -}}
{{- if gt $seconds 0 }}
lifecycle:
  preStop:
    {{- if semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version }}
    sleep:
      seconds: {{ $seconds }}
    {{- else }}
    exec:
      command: ["sleep", "{{ $seconds }}"]
    {{- end }}
{{- end }}
{{- end -}}

{{/* Merged pod-level setting: the app's own map over the global one, or the app's list if non-empty. */}}
{{- define "auth-sidecars.podMap" -}}
{{- $merged := mergeOverwrite (deepCopy (index .root.Values .name | default dict)) (index .values .name | default dict) -}}
{{- with $merged }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{- define "auth-sidecars.podList" -}}
{{- $list := index .values .name | default (index .root.Values .name) -}}
{{- with $list }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* In-cluster URL of an app's Service; call with the app context. */}}
{{- define "auth-sidecars.serviceUrl" -}}
{{- printf "%s://%s.%s.svc:%v" (include "auth-sidecars.scheme" .) (include "auth-sidecars.appFullname" .) .root.Release.Namespace .values.port -}}
{{- end -}}

{{/* The same Service on the port of /livez, /readyz and /metrics (the app port unless it has a probePort). */}}
{{- define "auth-sidecars.probeServiceUrl" -}}
{{- printf "%s://%s.%s.svc:%v" (include "auth-sidecars.scheme" .) (include "auth-sidecars.appFullname" .) .root.Release.Namespace (include "auth-sidecars.probePort" .) -}}
{{- end -}}

{{/* The URL a proxy's forward-auth call goes to. */}}
{{- define "auth-sidecars.cartaAuthUrl" -}}
{{- $carta := .Values.apps.cartaForwardauth -}}
{{- printf "%s/" (include "auth-sidecars.serviceUrl" (dict "root" . "key" "cartaForwardauth" "app" "carta-forwardauth" "values" $carta)) -}}
{{- end -}}
