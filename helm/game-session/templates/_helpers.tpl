{{/* Chart name. */}}
{{- define "game-session.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, at most 63 characters. */}}
{{- define "game-session.fullname" -}}
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

{{- define "game-session.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "game-session.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "game-session.selectorLabels" -}}
app.kubernetes.io/name: {{ include "game-session.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "game-session.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "game-session.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret that holds the JWT key, or "" when none is used. */}}
{{- define "game-session.jwtSecretName" -}}
{{- if eq .Values.auth.authenticator "jwt" }}
{{- if .Values.auth.jwt.existingSecret }}
{{- .Values.auth.jwt.existingSecret }}
{{- else }}
{{- printf "%s-jwt" (include "game-session.fullname" .) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "game-session.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret with the ops tokens file, or "" with opsAuth.mode none. */}}
{{- define "game-session.opsTokensSecretName" -}}
{{- if eq .Values.opsAuth.mode "tokens" }}
{{- default (printf "%s-ops-tokens" (include "game-session.fullname" .)) .Values.opsAuth.tokens.secretName }}
{{- end }}
{{- end }}

{{/* The port the probes use: the ops port, or the health port with TLS. */}}
{{- define "game-session.probePort" -}}
{{- if .Values.opsAuth.tls.secretName }}
{{- .Values.ports.health }}
{{- else }}
{{- .Values.ports.ops }}
{{- end }}
{{- end }}
