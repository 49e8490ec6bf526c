{{/* Names, labels and the per-app table the templates range over. */}}

{{- define "auth-sidecars.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "auth-sidecars.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: auth-sidecars
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one app; call with (dict "root" $ "app" "openai-proxy"). */}}
{{- define "auth-sidecars.selectorLabels" -}}
app.kubernetes.io/name: {{ .app }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "auth-sidecars.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "auth-sidecars.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Resource name of one app: <fullname>-<app>. */}}
{{- define "auth-sidecars.appFullname" -}}
{{- printf "%s-%s" (include "auth-sidecars.fullname" .root) .app | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "auth-sidecars.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .values.image (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- end -}}

{{/* The apps: values key -> app name. Every app serves /livez and /readyz on its port. */}}
{{- define "auth-sidecars.appNames" -}}
promSidecar: prom-sidecar
openaiProxy: openai-proxy
tokenServer: token-server
cartaForwardauth: carta-forwardauth
aksBroker: aks-broker
{{- end -}}

{{/* Name of the Secret holding an app's secret value: existing or chart-made. */}}
{{- define "auth-sidecars.secretName" -}}
{{- if .secret.existingSecret -}}
{{- .secret.existingSecret -}}
{{- else -}}
{{- include "auth-sidecars.appFullname" . -}}
{{- end -}}
{{- end -}}
