{{/* The chart's name, or nameOverride. */}}
{{- define "nbw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of every object (Service, webhook configurations, RBAC): fullnameOverride, the
release name when it already holds the chart's name, else <release>-<chart>.
*/}}
{{- define "nbw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nbw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nbw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nbw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nbw.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nebula-br-webhook
{{- end -}}

{{- define "nbw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "nbw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository@digest, else repository:tag (the tag defaults to the appVersion). */}}
{{- define "nbw.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The one list of exempt namespaces, as JSON: the release namespace first (the webhook must
never guard itself), then exemptNamespaces.
*/}}
{{- define "nbw.exemptNamespaces" -}}
{{- prepend .Values.exemptNamespaces .Release.Namespace | uniq | toJson -}}
{{- end -}}

{{- define "nbw.tlsSecretName" -}}
{{- printf "%s-tls" (include "nbw.fullname" .) -}}
{{- end -}}

{{- define "nbw.certSecretName" -}}
{{- printf "%s-cert" (include "nbw.fullname" .) -}}
{{- end -}}

{{/* The webhook's configuration file (schemas/config.schema.json). */}}
{{- define "nbw.config" -}}
{{- $c := .Values.config -}}
{{- $config := dict
  "clusterDomain" $c.clusterDomain
  "defaultConcurrency" $c.defaultConcurrency
  "operatorCredentials" $c.operatorCredentials
  "crossNamespace" $c.crossNamespace
  "exemptNamespaces" (include "nbw.exemptNamespaces" . | fromJsonArray)
  "failOpen" $c.failOpen
  "rules" $c.rules -}}
{{- with $c.imagePullSecret }}{{ $_ := set $config "imagePullSecret" . }}{{ end -}}
{{- toYaml $config -}}
{{- end -}}
