#!/usr/bin/env bash
# The README's code block under a heading must be, line for line, the part of a source file
# between its "// README-BEGIN" and "// README-END" markers: the README shows code that compiles.
# usage: readme_snippet.sh README HEADING SOURCE
set -u
readme=$1 heading=$2 source=$3
shown=$(awk -v h="$heading" '$0 == h {found = 1; next} found && /^```/ {if (inside) exit; inside = 1; next} inside' "$readme")
built=$(awk '/README-END/ {exit} inside; /README-BEGIN/ {inside = 1}' "$source")
[ -n "$built" ] || { echo "no README-BEGIN/README-END block in $source"; exit 1; }
if [ "$shown" != "$built" ]; then
  echo "the block under '$heading' in $readme differs from $source:"
  diff <(printf '%s\n' "$shown") <(printf '%s\n' "$built")
  exit 1
fi
echo "the README's block under '$heading' is $source"
