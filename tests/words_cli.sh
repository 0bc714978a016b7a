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
            --width --heads --held-out --seed --samples --check --max-memory; do
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
# A flag's value is quoted escaped and in part: no raw terminal escape, no 15 MB echo.
out=$("$words" --rate $'\033[2J1' 2>&1) && fail "--rate ESC[2J1 was accepted"
grep -qF -- "--rate: '\x1b[2J1' is not a number" <<<"$out" || fail "escaped --rate: $out"
! grep -q $'\033' <<<"$out" || fail "the message holds a raw escape byte: $out"
out=$("$words" --models "$(head -c 100000 /dev/zero | tr '\0' m)" 2>&1) && fail "a 100 kB --models was accepted"
[ "${#out}" -le 300 ] || fail "the message for a 100 kB --models is ${#out} bytes long"
expect_error "--batch: missing value" --batch
expect_error "$work/missing.txt: cannot open" --words "$work/missing.txt" --out "$work/x"
printf 'apple\nice cream\n' > "$work/two.txt"
expect_error "two.txt: line 2: 'ice cream' is more than one word" --words "$work/two.txt" --out "$work/x"
touch "$work/a-file"
expect_error "--out: cannot create output folder" --words "$data/words2000.txt" --out "$work/a-file/sub"

# Refusals that must come before any training: non-zero exit, the message, no model trained
# ("NAME: N parameters" starts each model's training), within a few seconds. Memory is capped so
# that a run that does start to allocate what the flags ask for fails here instead of swapping.
# expect_refused "what the message must contain" args...
expect_refused() {
  local want=$1; shift
  local out start=$SECONDS
  out=$(ulimit -v 4000000; timeout 60 "$words" --out "$work/refused" "$@" 2>&1) && { fail "exit 0 for: $*"; return; }
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
  ! grep -q " parameters, " <<<"$out" || fail "trained before refusing: $*"
  [ $((SECONDS - start)) -le 10 ] || fail "took $((SECONDS - start)) s to refuse: $*"
}
w2000=(--words "$data/words2000.txt")
# Flags asking for more memory than --max-memory (2 GiB by default): named with the estimate.
expect_refused "attention: training would take about" "${w2000[@]}" --models attention --batch 512
expect_refused "--batch 512" "${w2000[@]}" --models attention --batch 512
expect_refused "above the 2 GiB of --max-memory" "${w2000[@]}" --models attention --batch 512
expect_refused "mlp: training would take about" "${w2000[@]}" --models mlp --context 64 --embedding 4096 --hidden 4096
expect_refused "--context 64, --embedding 4096, --hidden 4096" "${w2000[@]}" --models mlp --context 64 --embedding 4096 --hidden 4096
expect_refused "above the 1 GiB of --max-memory" "${w2000[@]}" --models attention --batch 512 --max-memory 1
expect_refused "--max-memory: '0' is not a number" --max-memory 0
# The default sizes fit: one step of every model.
out=$("$words" "${w2000[@]}" --steps 1 --samples 0 --log-every 0 --out "$work/defaults" 2>&1) \
  || fail "one step of every model at the default sizes failed: $out"
# A list too small for a model's minibatches is refused before the mlp (trained first) starts.
head -n 100 "$data/words2000.txt" > "$work/hundred.txt"
expect_refused "rnn: " --words "$work/hundred.txt" --models mlp,rnn --batch 200 --steps 5
expect_refused "--batch 200 and --bptt 16" --words "$work/hundred.txt" --models mlp,rnn --batch 200 --steps 5
# A folder, an endless line, a long line and terminal escape bytes in a word list.
expect_refused "'.' is a folder, not a word list" --words .
expect_refused "/dev/zero: line 1 is longer than 4096 bytes" --words /dev/zero
head -c 15000000 /dev/zero | tr '\0' a > "$work/long-line.txt"
out=$("$words" --words "$work/long-line.txt" --out "$work/refused" 2>&1) && fail "a 15 MB line was accepted"
[ "${#out}" -le 300 ] || fail "the message for a 15 MB line is ${#out} bytes long"
grep -qF "long-line.txt: line 1 is longer than 4096 bytes" <<<"$out" || fail "15 MB line: $out"
printf 'apple\n\033[31mred green\n' > "$work/escape.txt"
out=$("$words" --words "$work/escape.txt" --out "$work/refused" 2>&1) && fail "two words on a line were accepted"
grep -qF "line 2: '\x1b[31mred green' is more than one word" <<<"$out" || fail "escape bytes: $out"
! grep -q $'\033' <<<"$out" || fail "the message holds a raw escape byte: $out"

# Training that diverges stops with an error naming the model, the step and the flag to lower.
out=$("$words" "${small[@]}" --models attention --rate 10 --steps 300 --out "$work/diverged" 2>&1) \
  && fail "a diverged run (--rate 10) exited 0: $out"
grep -qE "attention: the training loss .* at step [0-9]+" <<<"$out" || fail "divergence not named: $out"
grep -qF -- "lower --rate (10)" <<<"$out" || fail "divergence message names no flag: $out"
! grep -q "held-out loss" <<<"$out" || fail "a diverged run printed the table: $out"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "words command line: all checks passed"
