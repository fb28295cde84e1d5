#!/bin/sh
# Each /etc/nginx/templates/NAME.template written to /etc/nginx/conf.d/NAME
# by envsubst, for the variables that are set alone, so that nginx's own
# $variables stay: as the official image's script of this name documents.
set -eu
set_variables=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' \
                | tr '\n' ' ')
for template in /etc/nginx/templates/*.template; do
    [ -f "$template" ] || continue
    output=/etc/nginx/conf.d/$(basename "$template" .template)
    envsubst "$set_variables" <"$template" >"$output"
    echo "$0: $template to $output"
done
