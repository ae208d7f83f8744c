{{/*
Names. The full name is the release name when it already contains the chart
name, else `<release>-<chart>`; every object name derives from it, so one
release's objects never clash with another's.
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The operator's Deployment, Lease, ClusterRole and bindings. */}}
{{- define "portcullis.operatorName" -}}
{{- printf "%s-operator" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The webhook Service; the certificate is made for <this>.<namespace>.svc. */}}
{{- define "portcullis.webhookServiceName" -}}
{{- printf "%s-webhook" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret holding the webhook's certificate. */}}
{{- define "portcullis.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "portcullis.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The MutatingWebhookConfiguration (cluster-scoped). */}}
{{- define "portcullis.webhookConfigName" -}}
{{- include "portcullis.fullname" . }}
{{- end }}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portcullis.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end }}

{{/* What the Services, the PDB and the spread constraints select the operator pods by. */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/*
A repository with global.imageRegistry in place of the registry host it
starts with (a first segment with a dot or a colon, or `localhost`).
*/}}
{{- define "portcullis.repository" -}}
{{- $repository := .repository -}}
{{- with .registry -}}
{{- $parts := splitList "/" $repository -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- $repository = join "/" (rest $parts) -}}
{{- end -}}
{{- printf "%s/%s" (trimSuffix "/" .) $repository -}}
{{- else -}}
{{- $repository -}}
{{- end -}}
{{- end }}

{{- define "portcullis.operatorImage" -}}
{{- $repository := include "portcullis.repository" (dict "repository" .Values.image.repository "registry" .Values.global.imageRegistry) }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "portcullis.sidecarImage" -}}
{{- $repository := include "portcullis.repository" (dict "repository" .Values.sidecar.image.repository "registry" .Values.global.imageRegistry) }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.sidecar.image.tag) }}
{{- end }}
