#!/usr/bin/env bash
# The words program as a user runs it: all five models on the committed 2000-word list with small
# sizes, which must each beat the bigram's held-out loss (--check), then bad input (each must exit
# non-zero with a message naming what was wrong).
# usage: words_cli.sh WORDS_BINARY SCRATCH_FOLDER TEST_DATA_FOLDER
set -u
words=$1
work=$2
data=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

expect_error() {
  local want=$1; shift
  local out
  out=$("$words" "$@" 2>&1) && { fail "exit 0 for: $*"; return; }
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
}

out=$("$words" --help) || fail "--help exited non-zero"
for flag in --models --words --out --steps --batch --rate --embedding --hidden --context --bptt \
            --width --heads --held-out --seed --samples --check; do
  grep -qF -- "$flag" <<<"$out" || fail "--help does not list $flag"
done

small=(--words "$data/words2000.txt" --steps 400 --batch 32 --embedding 8 --hidden 32 --width 16
       --heads 2 --bptt 8 --rate 0.01 --log-every 0 --samples 5)
out=$("$words" "${small[@]}" --check --out "$work/run" 2>&1) || fail "the small run failed --check: $out"
echo "$out"
for m in bigram mlp rnn gru attention; do
  grep -qE "^\| $m +\| +[0-9]+\.[0-9]{4} \|" <<<"$out" || fail "no table row for $m"
done
[ -s "$work/run/loss.png" ] || fail "no loss.png"
[ "$(ls "$work/run")" = "loss.png" ] || fail "stray files in the output folder: $(ls "$work/run")"
# The same seed gives the same table.
again=$("$words" "${small[@]}" --models bigram,mlp --out "$work/run2" 2>&1)
[ "$(grep '^| mlp ' <<<"$out" | cut -d'|' -f3)" = "$(grep '^| mlp ' <<<"$again" | cut -d'|' -f3)" ] \
  || fail "a rerun with the same seed gives another mlp loss"

expect_error "--steps: '0' is not a whole number in [1," --steps 0
expect_error "--rate: 'abc' is not a number" --rate abc
expect_error "--models: 'mlp,lstm' is not a comma-separated list" --models mlp,lstm
expect_error "--heads: '3' does not divide --width 64" --heads 3
expect_error "--held-out: '1' is not a number in [0.001, 0.9]" --held-out 1
expect_error "unknown flag '--bogus'" --bogus 1
expect_error "--batch: missing value" --batch
expect_error "$work/missing.txt: cannot open" --words "$work/missing.txt" --out "$work/x"
printf 'apple\nice cream\n' > "$work/two.txt"
expect_error "two.txt: line 2: 'ice cream' is more than one word" --words "$work/two.txt" --out "$work/x"
touch "$work/a-file"
expect_error "--out: cannot create output folder" --words "$data/words2000.txt" --out "$work/a-file/sub"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "words command line: all checks passed"
