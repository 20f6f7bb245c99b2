{{/* The six services, in start order. */}}
{{- define "hop.services" -}}
ingest validator legacy compute router bridge
{{- end -}}

{{/* Name prefix: fullnameOverride, else the release name. */}}
{{- define "hop.prefix" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* `<prefix>-<name>`; argument: dict "root" $ "name" NAME. */}}
{{- define "hop.name" -}}
{{- printf "%s-%s" (include "hop.prefix" .root) .name -}}
{{- end -}}

{{- define "hop.selectorLabels" -}}
app.kubernetes.io/name: heavy-optimizer
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "hop.labels" -}}
{{ include "hop.selectorLabels" . }}
app.kubernetes.io/part-of: heavy-optimizer
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* `<registry>/hop-<name>:<tag>`, the tag defaulting to the chart's appVersion. */}}
{{- define "hop.image" -}}
{{- $tag := toString (default .root.Chart.AppVersion .root.Values.image.tag) -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag is latest: pin a version (empty means the chart's appVersion)" -}}
{{- end -}}
{{- printf "%s/hop-%s:%s" (trimSuffix "/" .root.Values.image.registry) .name $tag -}}
{{- end -}}

{{/* The gRPC URI of a service by its Service DNS name (mutual TLS). */}}
{{- define "hop.uri" -}}
{{- printf "https://%s:%d" (include "hop.name" .) (int .root.Values.ports.grpc) -}}
{{- end -}}

{{/* The services whose callers balance over their pods: a headless Service `<name>-headless`
each, named by the router's engine addresses and in their certificates. Space-separated. */}}
{{- define "hop.balanced" -}}compute legacy{{- end -}}

{{- define "hop.headlessUri" -}}
{{- printf "https://%s-headless:%d" (include "hop.name" .) (int .root.Values.ports.grpc) -}}
{{- end -}}

{{- define "hop.secretName" -}}
{{- default (printf "%s-secrets" (include "hop.prefix" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* "true" when the router replicas share a PostgreSQL store; fails when several replicas would
each have their own SQLite file. */}}
{{- define "hop.routerShared" -}}
{{- if .Values.router.postgres -}}true
{{- else if gt (int .Values.router.replicas) 1 -}}
{{- fail "router.replicas > 1 needs router.postgres (a PostgreSQL connection string): without it each replica would keep its own SQLite job store" -}}
{{- end -}}
{{- end -}}

{{/* "true" when the legacy service talks to a real HeavyDB. */}}
{{- define "hop.heavydb" -}}
{{- if hasPrefix "heavydb://" .Values.legacy.backend -}}true{{- end -}}
{{- end -}}

{{/* The cut-over weight the stage implies, checked against cutover.greenPercent. */}}
{{- define "hop.greenPercent" -}}
{{- $stage := .Values.cutover.stage -}}
{{- $percent := int .Values.cutover.greenPercent -}}
{{- $fixed := dict "legacy" 0 "dual" 0 "green" 100 "decommissioned" 100 -}}
{{- if hasKey $fixed $stage -}}
{{- if ne $percent (int (get $fixed $stage)) -}}
{{- fail (printf "cutover.stage %s means cutover.greenPercent %d, not %d: use stage weighted for another weight" $stage (int (get $fixed $stage)) $percent) -}}
{{- end -}}
{{- else if ne $stage "weighted" -}}
{{- fail (printf "cutover.stage %q is not one of legacy, dual, weighted, green, decommissioned" $stage) -}}
{{- else if or (lt $percent 0) (gt $percent 100) -}}
{{- fail (printf "cutover.greenPercent is %d, it must be from 0 to 100" $percent) -}}
{{- end -}}
{{- $percent -}}
{{- end -}}

{{/*
Whole numbers from values arrive as floats (20.0) and TOML would keep them floats; the services'
integer keys refuse those. Rewrites them to integers in place, in maps and lists.
*/}}
{{- define "hop.integers" -}}
{{- $map := . -}}
{{- range $key, $value := $map -}}
{{- if and (kindIs "float64" $value) (eq $value (floor $value)) -}}
{{- $_ := set $map $key (int64 $value) -}}
{{- else if kindIs "map" $value -}}
{{- include "hop.integers" $value -}}
{{- else if kindIs "slice" $value -}}
{{- $items := dict "list" (list) -}}
{{- range $value -}}
{{- $item := . -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}{{- $item = int64 . -}}{{- end -}}
{{- $_ := set $items "list" (append $items.list $item) -}}
{{- end -}}
{{- $_ := set $map $key $items.list -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Mount points inside the containers. */}}
{{- define "hop.configDir" -}}/etc/hop/config{{- end -}}
{{- define "hop.cutoverDir" -}}/etc/hop/cutover{{- end -}}
{{- define "hop.secretsDir" -}}/etc/hop/secrets{{- end -}}
{{- define "hop.dataDir" -}}/var/lib/hop{{- end -}}
{{- define "hop.cacheDir" -}}/var/cache/hop/parquet{{- end -}}
{{- define "hop.tlsDir" -}}/etc/hop/tls{{- end -}}
{{- define "hop.tokensDir" -}}/etc/hop/tokens{{- end -}}

{{/* The TLS Secret of a service; argument: dict "root" $ "name" NAME. */}}
{{- define "hop.tlsSecret" -}}
{{- default (printf "%s-tls" (include "hop.name" .)) (get .root.Values.tls.existingSecrets .name) -}}
{{- end -}}

{{- define "hop.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "hop.prefix" .)) .Values.tokens.existingSecret -}}
{{- end -}}

{{/* The token kind a service sends on its own calls (empty: none). */}}
{{- define "hop.sendsToken" -}}
{{- $sends := dict "router" "service" "compute" "service" "bridge" "bridge" -}}
{{- get $sends .name -}}
{{- end -}}

{{/*
The token files a service's pod mounts: the kinds its gRPC services accept (the policy table of
hop_runtime::security::policy) and the one it sends. Space-separated.
*/}}
{{- define "hop.tokenKinds" -}}
{{- $kinds := dict "ingest" "service client" "validator" "service admin" "legacy" "service" "compute" "service" "router" "bridge client admin service" "bridge" "bridge" -}}
{{- get $kinds .name -}}
{{- end -}}

{{/* The callers (components) whose pods may reach a service's gRPC port. Space-separated. */}}
{{- define "hop.callers" -}}
{{- $callers := dict "ingest" "compute" "validator" "router" "legacy" "router" "compute" "router" "router" "bridge" "bridge" "" -}}
{{- get $callers .name -}}
{{- end -}}

{{/* Fills .out with the service's own TOML section; argument: dict "root" $ "name" NAME "out" DICT. */}}
{{- define "hop.ownConfig" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $uri := dict -}}
{{- range splitList " " (include "hop.services" $root) -}}
{{- $_ := set $uri . (include "hop.uri" (dict "root" $root "name" .)) -}}
{{- end -}}
{{- $own := dict -}}
{{- if eq .name "ingest" -}}
{{- $own = dict "input_root" (printf "%s/input" $v.share.mountPath) "cache_dir" (include "hop.cacheDir" .) -}}
{{- else if eq .name "compute" -}}
{{- $own = dict "ingest" $uri.ingest "engine" $v.compute.engine -}}
{{- else if eq .name "legacy" -}}
{{- $own = dict "backend" $v.legacy.backend "input_root" (printf "%s/input" $v.share.mountPath) -}}
{{- if include "hop.heavydb" $root -}}
{{- $_ := set $own "password_file" (printf "%s/heavydb-password" (include "hop.secretsDir" .)) -}}
{{- end -}}
{{- else if eq .name "router" -}}
{{- $r := $v.router.rollback -}}
{{- $cutover := dict "file" (printf "%s/cutover.toml" (include "hop.cutoverDir" .)) "window" (int $r.window) "min_samples" (int $r.minSamples) "max_error_rate" (float64 $r.maxErrorRate) "max_runtime" $r.maxRuntime "max_relative_difference" (float64 $r.maxRelativeDifference) -}}
{{- $blue := include "hop.headlessUri" (dict "root" $root "name" "legacy") -}}
{{- $green := include "hop.headlessUri" (dict "root" $root "name" "compute") -}}
{{- $own = dict "blue" $blue "green" $green "validator" $uri.validator "cutover" $cutover -}}
{{- if include "hop.routerShared" $root -}}
{{- $_ := set $own "postgres" $v.router.postgres -}}
{{- $_ := set $own "postgres_password_file" (printf "%s/postgres-password" (include "hop.secretsDir" .)) -}}
{{- end -}}
{{- else if eq .name "bridge" -}}
{{- $own = dict "share" $v.share.mountPath "router" $uri.router "csv_root" (printf "%s/input" $v.share.mountPath) "unc_prefixes" $v.share.uncPrefixes -}}
{{- end -}}
{{- $extra := deepCopy (get $v .name).config -}}
{{- include "hop.integers" $extra -}}
{{- range $key, $value := mergeOverwrite $own $extra -}}
{{- $_ := set $.out $key $value -}}
{{- end -}}
{{- end -}}

{{/* The whole config file of one service: [common] and [<service>]. */}}
{{- define "hop.config" -}}
{{- $v := .root.Values -}}
{{- $common := dict "listen" (printf "0.0.0.0:%d" (int $v.ports.grpc)) "metrics_listen" (printf "0.0.0.0:%d" (int $v.ports.metrics)) "log_filter" $v.common.logFilter "log_format" $v.common.logFormat "shutdown_grace" (printf "%ds" (int $v.common.shutdownGraceSeconds)) "data_dir" (include "hop.dataDir" .) -}}
{{- with $v.common.otlpEndpoint -}}
{{- $_ := set $common "otlp_endpoint" . -}}
{{- end -}}
{{- with (get $v .name).maxConnectionAge -}}
{{- $_ := set $common "max_connection_age" . -}}
{{- end -}}
{{- $tls := include "hop.tlsDir" . -}}
{{- $tokens := include "hop.tokensDir" . -}}
{{- $_ := set $common "health_listen" (printf "0.0.0.0:%d" (int $v.ports.health)) -}}
{{- $_ := set $common "tls_cert" (printf "%s/tls.crt" $tls) -}}
{{- $_ := set $common "tls_key" (printf "%s/tls.key" $tls) -}}
{{- $_ := set $common "tls_ca" (printf "%s/ca.crt" $tls) -}}
{{- $_ := set $common "tokens_dir" $tokens -}}
{{- with include "hop.sendsToken" . -}}
{{- $_ := set $common "token_file" (printf "%s/%s" $tokens .) -}}
{{- end -}}
{{- $own := dict -}}
{{- include "hop.ownConfig" (dict "root" .root "name" .name "out" $own) -}}
# {{ include "hop.name" . }}: read through HOP_CONFIG. [common] for every service, [{{ .name }}] its own keys.
{{ toToml (dict "common" $common .name $own) }}
{{- end -}}

{{/* The claim of ingest's shared Parquet cache (empty: an emptyDir per pod); fails when several
ingest replicas would each have their own. */}}
{{- define "hop.ingestCacheClaim" -}}
{{- $c := .Values.ingest.cache -}}
{{- $claim := $c.existingClaim -}}
{{- if and (not $claim) $c.create -}}
{{- $claim = printf "%s-ingest-cache" (include "hop.prefix" .) -}}
{{- end -}}
{{- if and (gt (int .Values.ingest.replicas) 1) (not $claim) -}}
{{- fail "ingest.replicas > 1 needs a shared cache: set ingest.cache.existingClaim (a ReadWriteMany claim) or ingest.cache.create=true, or a replica answers DATASET_NOT_FOUND for what another imported" -}}
{{- end -}}
{{- $claim -}}
{{- end -}}
