#!/usr/bin/env bash
# The moons program as a user runs it: the walkthrough with few passes, an exercise with save and
# load, and bad input (each must exit non-zero with a message naming what was wrong).
# usage: moons_cli.sh MOONS_BINARY SCRATCH_FOLDER TEST_DATA_FOLDER
set -u
moons=$1
work=$2
data=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# expect_error "what the message must contain" args...
expect_error() {
  local want=$1; shift
  local out
  out=$("$moons" "$@" 2>&1) && { fail "exit 0 for: $*"; return; }
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
}

out=$("$moons" --passes 300 --sweep 1,3 --out "$work/walk" 2>&1) || fail "walkthrough exited non-zero: $out"
grep -qF "Loss after iteration 0: 0.432387" <<<"$out" || fail "walkthrough does not print the post's first loss"
for f in 1-data.png 2-logistic-regression.png 3-hidden-3.png 4-hidden-sizes.png; do
  [ -s "$work/walk/$f" ] || fail "walkthrough did not write $f"
done
grep -qF "softmax_cross_entropy" "$work/walk/tape.dot" || fail "walkthrough wrote no tape.dot with the loss op"
# Without Graphviz on PATH the walkthrough still succeeds and says how to draw tape.dot.
out=$(PATH=/nonexistent "$moons" --passes 10 --sweep 1 --out "$work/nodot" 2>&1) \
  || fail "walkthrough without Graphviz exited non-zero: $out"
grep -qF "install Graphviz" <<<"$out" || fail "no hint about Graphviz when dot is missing: $out"
[ -s "$work/nodot/tape.dot" ] && [ ! -e "$work/nodot/tape.png" ] || fail "without Graphviz: tape.dot missing or tape.png present"

out=$("$moons" --hidden 8,8 --activation relu --classes 3 --samples 300 --batch-size 32 \
        --optimizer adam --rate 0.01 --passes 30 --log-every 10 --save "$work/model" --out "$work/ex" 2>&1) \
  || fail "exercise run exited non-zero: $out"
trained=$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")
[ -n "$trained" ] || fail "exercise run printed no accuracy: $out"
[ -s "$work/model/model.txt" ] || fail "--save wrote no model.txt"
out=$("$moons" --classes 3 --samples 300 --load "$work/model" --out "$work/ex2" 2>&1) || fail "--load exited non-zero: $out"
loaded=$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")
[ "$trained" = "$loaded" ] || fail "loaded model scores '$loaded', trained one '$trained'"

# --dtype float32: a float32 model trained on the same data, saved as <f4 files with its dtype, and
# loaded back as it was saved (or converted, and said so, with --dtype float64).
out=$("$moons" --dtype float32 --hidden 8 --samples 300 --passes 300 --log-every 100 \
        --save "$work/model32" --out "$work/f32" 2>&1) || fail "--dtype float32 exited non-zero: $out"
grep -qF "float32)" <<<"$out" || fail "--dtype float32 does not say it trains in float32: $out"
trained32=$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")
[ -n "$trained32" ] || fail "--dtype float32 printed no accuracy: $out"
grep -qx "dtype float32" "$work/model32/model.txt" || fail "a float32 model.txt lacks 'dtype float32'"
grep -qaF "'descr': '<f4'" "$work/model32/layer0_W.npy" || fail "a float32 model's layer0_W.npy is not <f4"
out=$("$moons" --samples 300 --load "$work/model32" --out "$work/f32b" 2>&1) || fail "--load of a float32 model exited non-zero: $out"
grep -qF "(float32) from" <<<"$out" || fail "--load of a float32 model did not keep float32: $out"
[ "$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")" = "$trained32" ] || fail "the loaded float32 model scores differently: $out"
out=$("$moons" --samples 300 --load "$work/model32" --dtype float64 --out "$work/f32c" 2>&1) || fail "--load --dtype float64 exited non-zero: $out"
grep -qF "converted from float32" <<<"$out" || fail "--load of a float32 model as float64 does not say it converted: $out"
out=$("$moons" --dtype float32 --passes 300 --sweep 1 --out "$work/walk32" 2>&1) || fail "float32 walkthrough exited non-zero: $out"
grep -qF "Loss after iteration 0: 0.4323" <<<"$out" || fail "float32 walkthrough does not print about the post's first loss: $out"
expect_error "--dtype: 'float16' is not one of float64, float32" --dtype float16
"$moons" --help | grep -qF -- "--dtype" || fail "--help does not list --dtype"

expect_error "--rate: 'abc' is not a number" --rate abc
# The range is printed so that the rejected value is visibly outside it (found by fuzz_cli: it
# read "[0.000000, 1000.000000]").
expect_error "--rate: '0.00' is not a number in [1e-12, 1000]" --rate=0.00
expect_error "--noise: '101' is not a number in [0, 100]" --noise 101
expect_error "unknown flag '--bogus'" --bogus 1
expect_error "--hidden: '3,,2'" --hidden 3,,2
expect_error "--activation: 'softplus' is not one of tanh, sigmoid, relu" --activation softplus
expect_error "--passes: missing value" --passes
expect_error "missing.csv" --data "$work/missing.csv" --hidden 3
printf 'x0,x1,label\n0.1,0.2,0\n0.3,1\n' > "$work/ragged.csv"
expect_error "ragged.csv: line 3" --data "$work/ragged.csv" --hidden 3
printf 'x0,x1,label\n0.1,abc,0\n' > "$work/text.csv"
expect_error "text.csv: line 2" --data "$work/text.csv" --hidden 3
out=$("$moons" --data "$data/moons200_X.npy" --labels "$data/moons200_y.npy" --passes 200 --out "$work/npy" 2>&1) \
  || fail "training on .npy files exited non-zero: $out"
grep -qF "Training 2-3-2 tanh on 160 points" <<<"$out" || fail "the .npy data were not used: $out"
expect_error "--data: a .npy file of features needs --labels" --data "$data/moons200_X.npy"
expect_error "moons200_X.npy: expected 1-D integer labels" --data "$data/moons200_X.npy" --labels "$data/moons200_X.npy"
touch "$work/a-file"
expect_error "cannot create output folder" --hidden 3 --passes 1 --out "$work/a-file/sub"

# A model that fails to load leaves the output folder as it was.
cp -r "$work/model" "$work/broken-model"
truncate -s -8 "$work/broken-model/layer0_W.npy"
mkdir -p "$work/kept" && echo "earlier picture" > "$work/kept/boundary.png"
expect_error "layer0_W.npy: truncated" --classes 3 --samples 300 --load "$work/broken-model" --out "$work/kept"
[ "$(cat "$work/kept/boundary.png")" = "earlier picture" ] || fail "a failed --load changed the output folder"

# --save replaces only a model folder this program wrote, and refuses anything else before training.
# expect_refused "what the message must contain" args...: non-zero exit, the message, no training.
expect_refused() {
  local want=$1; shift
  local out
  out=$("$moons" "$@" 2>&1) && { fail "exit 0 for: $*"; return; }
  grep -qF -- "$want" <<<"$out" || fail "message for '$*' lacks '$want': $out"
  ! grep -q "^Training" <<<"$out" || fail "trained before refusing: $*"
}
echo precious > "$work/notes.txt"
expect_refused "notes.txt" --hidden 3 --passes 10 --save "$work/notes.txt" --out "$work/o"
[ "$(cat "$work/notes.txt")" = precious ] || fail "--save over a file changed it"
mkdir -p "$work/exp" && printf '0,0,0\n1,1,1\n0,1,0\n1,0,1\n0.5,0.5,0\n' > "$work/exp/data.csv"
expect_refused "$work/exp" --data "$work/exp/data.csv" --passes 10 --save "$work/exp" --out "$work/o2"
expect_refused "$work/exp" --data "$work/exp/data.csv" --passes 10 --save "$work/exp/" --out "$work/o2"
[ -s "$work/exp/data.csv" ] || fail "--save over the --data folder deleted the data"
mkdir -p "$work/cwd" && echo mine > "$work/cwd/mine.txt"
(cd "$work/cwd" && expect_refused "$work/cwd" --hidden 3 --passes 10 --save "$PWD" --out "$work/o3")
(cd "$work/cwd" && expect_refused "not a model" --hidden 3 --passes 10 --save . --out "$work/o3")
[ "$(cat "$work/cwd/mine.txt")" = mine ] || fail "--save into the current folder deleted its files"
expect_refused "--out and --save" --hidden 3 --passes 10 --out "$work/same" --save "$work/same"
expect_refused "--out and --save" --hidden 3 --passes 10 --out "$work/same/" --save "$work/./same"
[ ! -e "$work/same" ] || fail "--out X --save X wrote X before refusing"
expect_refused "a-file" --hidden 3 --passes 10 --save "$work/a-file/m" --out "$work/o4"
out=$("$moons" --hidden 3 --passes 10 --save "$work/slash/" --out "$work/o5" 2>&1) || fail "--save DIR/ failed: $out"
mkdir -p "$work/slash.saving" "$work/slash.previous" && echo a > "$work/slash.saving/a" && echo b > "$work/slash.previous/b"
out=$("$moons" --hidden 4 --passes 10 --save "$work/slash/" --out "$work/o5" 2>&1) || fail "--save DIR/ over a model failed: $out"
grep -q "sizes 2 4 2" "$work/slash/model.txt" || fail "--save DIR/ did not replace the model"
[ "$(cat "$work/slash.saving/a")$(cat "$work/slash.previous/b")" = ab ] || fail "a save removed a user's folder beside the model"

# Diverged training, non-finite and oversized models, and models that do not fit the data.
expect_error "--rate" --rate 1000 --log-every 0 --save "$work/nan-model" --out "$work/o6"
[ ! -e "$work/nan-model" ] || fail "a diverged run saved a model"
out=$("$moons" --rate 1000 --out "$work/o6" 2>&1) && fail "a diverged run with logging exited 0"
grep -qF -- "--rate" <<<"$out" && ! grep -q "line_plot" <<<"$out" || fail "a diverged run with logging: $out"
printf 'x0,x1,label\n0,0,0\n1,1,1000000\n' > "$work/big-label.csv"
expect_error "big-label.csv: line 3" --data "$work/big-label.csv" --hidden 3
expect_error "--hidden" --hidden 100000000 --passes 1
expect_error "--hidden" --hidden 5000,5000 --passes 1
expect_error "--sweep" --sweep 100000000 --passes 1
expect_error "--samples" --samples 1
expect_error "--samples" --classes 3 --samples 5
expect_error "--samples" --samples 99999999999 --passes 1
printf 'x0,x1,label\n0,0,0\n1,1,0\n0,1,0\n1,0,0\n0.5,0.5,0\n' > "$work/one-class.csv"
expect_error "one-class.csv" --data "$work/one-class.csv" --hidden 3 --passes 10
printf 'x0,x1,label\n0,0,1\n1,1,1\n0,1,1\n1,0,1\n0.5,0.5,1\n' > "$work/one-class1.csv"
expect_error "one-class1.csv" --data "$work/one-class1.csv" --hidden 3 --passes 10
# The 3-class model of the exercise run above against 2-class data.
expect_error "3 classes" --samples 300 --load "$work/model" --out "$work/o7"
expect_error "2 classes" --samples 300 --load "$work/model" --out "$work/o7"
cp -r "$work/model" "$work/short-model"
sed -i 's/^sizes .*/sizes 2 8 3/' "$work/short-model/model.txt"
cp "$work/short-model/layer2_W.npy" "$work/short-model/layer1_W.npy" 2>/dev/null
expect_error "layer2_" --classes 3 --samples 300 --load "$work/short-model" --out "$work/o7"
printf '1,2,0\n1,\001%0200d,1\n' 0 > "$work/long-cell.csv"
out=$("$moons" --data "$work/long-cell.csv" --hidden 3 2>&1)
grep -qF '\x01000' <<<"$out" && ! grep -q "0\{40\}" <<<"$out" || fail "a long bad cell is quoted whole or unescaped: $out"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "moons command line: all checks passed"
