#!/bin/sh
# Prints the snippet as pasted into the Partner Portal (App → App Snippets): the source without
# its whole-line `//` comments and indentation, which are a sixth of its gzipped size. Nothing
# else changes, so the browser test (which serves this output) runs exactly what ships.
set -eu
sed -e '/^[[:space:]]*\/\//d' -e 's/^[[:space:]]*//' "$(dirname "$0")/klaviyo-salla.js"
