{{/*
Names. The CSI driver name is fixed (viso.csi.io): one installation per cluster.
*/}}
{{- define "csi-viso.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* fullname: the release name when it already contains the chart name, else release-chart. */}}
{{- define "csi-viso.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "csi-viso.driverName" -}}viso.csi.io{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "csi-viso.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "csi-viso.selectorLabels" . }}
{{- end -}}

{{- define "csi-viso.selectorLabels" -}}
app.kubernetes.io/name: {{ include "csi-viso.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component (node or controller): call with (list . "node"). */}}
{{- define "csi-viso.componentLabels" -}}
{{ include "csi-viso.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "csi-viso.componentSelector" -}}
{{ include "csi-viso.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* image reference from {repository, tag}; the csi-viso tag defaults to appVersion. */}}
{{- define "csi-viso.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "csi-viso.sidecarImage" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* Host folder of the CSI socket: where the kubelet dials the node plugin. */}}
{{- define "csi-viso.pluginDir" -}}
{{- printf "%s/plugins/%s" (trimSuffix "/" .Values.kubeletDir) (include "csi-viso.driverName" .) -}}
{{- end -}}
