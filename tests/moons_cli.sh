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
# --save over the --load folder in another precision would replace its weights: refused before
# anything is written. In its own precision the model is saved back as it is; converted, to
# another folder, and said so.
cp -r "$work/model32" "$work/keep32"
expect_error "--save '$work/./keep32/' is the --load folder, whose model is float32: --dtype float64 would replace" \
  --samples 300 --load "$work/keep32" --dtype float64 --save "$work/./keep32/" --out "$work/f32d"
cmp -s "$work/model32/layer0_W.npy" "$work/keep32/layer0_W.npy" && grep -qx "dtype float32" "$work/keep32/model.txt" \
  || fail "a refused --load --dtype --save changed the float32 model"
out=$("$moons" --samples 300 --load "$work/keep32" --save "$work/keep32" --out "$work/f32d" 2>&1) \
  || fail "--load m --save m in the model's own precision exited non-zero: $out"
out=$("$moons" --samples 300 --load "$work/keep32" --dtype float64 --save "$work/conv64" --out "$work/f32d" 2>&1) \
  || fail "--load --dtype float64 --save elsewhere exited non-zero: $out"
grep -qF "converted from float32" <<<"$out" && grep -qx "dtype float64" "$work/conv64/model.txt" \
  || fail "a converted model saved elsewhere is not float64 or not said to be converted: $out"
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
# Labels 0 and 99999 on 10 rows would make a network of 100000 outputs (trained in a moment, its
# picture in minutes): classes beyond the rows are refused before training, naming the labels.
awk 'BEGIN { print "x0,x1,label"; for (i = 0; i < 10; i++) printf "%d,%d,%d\n", i % 3, int(i / 3), (i % 2) * 99999 }' > "$work/gap.csv"
expect_refused "gap.csv': labels 0, 99999 make 100000 classes (the largest label + 1) for 10 rows" \
  --data "$work/gap.csv" --passes 10 --out "$work/gap"
# Labels 1 and 2 (class 0 empty) are no such gap.
awk 'BEGIN { print "x0,x1,label"; for (i = 0; i < 10; i++) printf "%d,%d,%d\n", i % 3, int(i / 3), 1 + i % 2 }' > "$work/from1.csv"
out=$("$moons" --data "$work/from1.csv" --passes 10 --log-every 0 --out "$work/from1" 2>&1) \
  || fail "labels 1 and 2 were refused: $out"
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

# --help is generated from the flags' declarations and lists every flag with its range or choices.
help=$("$moons" --help) || fail "--help exited non-zero"
for flag in --hidden --activation --classes --batch-size --optimizer --rate --schedule --decay \
            --decay-every --reg --loss-reduction --standardize --samples --noise --seed --data \
            --labels --test-fraction --split-seed --write-split --save --load --dtype --passes \
            --log-every --sweep --out --help; do
  grep -qE -- "^ +(-h,)?$flag( |$)" <<<"$help" || fail "--help does not list $flag"
done
grep -qF -- "--rate X:in [1e-12, 1000]" <<<"$help" || fail "--help does not give --rate's range"
grep -qF -- "{sum,mean}" <<<"$help" || fail "--help does not give --loss-reduction's choices"
grep -qF "refused with --data" <<<"$help" || fail "--help does not say --classes is refused with --data"

# --classes, --samples and --noise describe generated data: refused with --data, whose labels give
# the classes.
expect_refused "--classes '3' is for generated data" --data "$work/exp/data.csv" --classes 3 --hidden 3 --passes 10 --out "$work/o8"
expect_refused "--samples '300' is for generated data" --data "$work/exp/data.csv" --samples 300 --passes 10 --out "$work/o8"
expect_refused "--noise '0.1' is for generated data" --data "$data/moons200_X.npy" --labels "$data/moons200_y.npy" --noise 0.1 --out "$work/o8"

# --load evaluates a saved model: flags that would shape or train a new one are refused.
expect_refused "--hidden '8,8' shapes or trains a new model" --classes 3 --samples 300 --load "$work/model" --hidden 8,8 --out "$work/o8"
expect_refused "--passes '5' shapes or trains" --classes 3 --samples 300 --load "$work/model" --passes 5 --out "$work/o8"
expect_refused "--standardize shapes or trains" --classes 3 --samples 300 --load "$work/model" --standardize --out "$work/o8"
expect_refused "--loss-reduction 'mean'" --classes 3 --samples 300 --load "$work/model" --loss-reduction mean --out "$work/o8"

# The final pass is always logged: 50 passes logged every 10 end with pass 49.
out=$("$moons" --hidden 3 --passes 50 --log-every 10 --out "$work/o9" 2>&1) || fail "--passes 50 --log-every 10 failed: $out"
[ "$(grep -c "^Loss after iteration" <<<"$out")" = 6 ] && grep -q "^Loss after iteration 49:" <<<"$out" \
  || fail "50 passes logged every 10 do not end with pass 49: $out"

# --test-fraction, --split-seed, --write-split: the held-out part's size, its own seed, the rows.
out=$("$moons" --hidden 3 --passes 1 --test-fraction 0.35 --write-split "$work/split.csv" --out "$work/o10" 2>&1) \
  || fail "--test-fraction 0.35 failed: $out"
grep -qF "on 130 points" <<<"$out" || fail "--test-fraction 0.35 of 200 rows does not train on 130: $out"
[ "$(head -1 "$work/split.csv")" = "row,part" ] || fail "--write-split has no 'row,part' header"
[ "$(grep -c ',test$' "$work/split.csv")" = 70 ] && [ "$(grep -c ',train$' "$work/split.csv")" = 130 ] \
  || fail "--write-split does not list 70 test and 130 training rows"
[ "$(cut -d, -f1 "$work/split.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq -s ' ' 0 199) " ] \
  || fail "--write-split does not list rows 0 to 199 in order"
split_of() {  # the split file written with these flags
  "$moons" --hidden 3 --passes 1 --write-split "$work/s.csv" --out "$work/o10" "$@" >/dev/null 2>&1 || fail "--write-split with $* failed"
  cat "$work/s.csv"
}
a=$(split_of --seed 1 --split-seed 5 --samples 100)
b=$(split_of --seed 2 --split-seed 5 --samples 100)
c=$(split_of --seed 1 --split-seed 6 --samples 100)
d=$(split_of --seed 5 --samples 100 --noise 0)
e=$(split_of --seed 6 --samples 100 --noise 0)
[ "$a" = "$b" ] || fail "--split-seed 5 gives another split when --seed changes"
[ "$a" != "$c" ] || fail "--split-seed 6 gives the same split as --split-seed 5"
[ "$a" = "$d" ] || fail "without --split-seed the split does not follow --seed"
[ "$d" != "$e" ] || fail "--seed 5 and --seed 6 give the same split"
cp "$work/exp/data.csv" "$work/keep.csv"
expect_refused "refusing to overwrite it" --data "$work/keep.csv" --passes 1 --write-split "$work/keep.csv" --out "$work/o10"
cmp -s "$work/exp/data.csv" "$work/keep.csv" || fail "--write-split over --data changed the data"
expect_refused "inside the model folder" --hidden 3 --passes 1 --save "$work/m-split" --write-split "$work/m-split/s.csv" --out "$work/o10"
expect_refused "does not exist" --hidden 3 --passes 1 --write-split "$work/no-such-folder/s.csv" --out "$work/o10"
expect_error "--test-fraction: '0' is not a number in (0, 1)" --test-fraction 0
expect_error "--test-fraction 0.999" --hidden 3 --passes 1 --test-fraction 0.999 --samples 100 --out "$work/o10"
expect_error "--split-seed: 'x' is not a whole number" --split-seed x

# --standardize: features far from 0 and of unit spread 1000 saturate tanh at rate 0.01; scaled by
# the training rows' mean and deviation (saved with the model) they are easy. The data: two
# classes split by x0 + x1 > 1 in the unit square, then x0 -> 5000 + 1000·x0, x1 -> -3000 + 1000·x1.
awk 'BEGIN { srand(1); print "x0,x1,label";
             for (i = 0; i < 300; i++) { x = rand(); y = rand(); printf "%.6f,%.6f,%d\n", 5000 + 1000 * x, -3000 + 1000 * y, (x + y > 1) } }' \
  > "$work/far.csv"
out=$("$moons" --data "$work/far.csv" --hidden 3 --passes 300 --log-every 0 --standardize --save "$work/std-model" --out "$work/o11" 2>&1) \
  || fail "--standardize failed: $out"
std_acc=$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")
# 90%: the classes are separated by a line, which a scaled 2-3-2 network finds within 300 passes.
[ "${std_acc//[^0-9]/}" -ge 900 ] || fail "--standardize on far.csv reaches only $std_acc"
out=$("$moons" --data "$work/far.csv" --hidden 3 --passes 300 --log-every 0 --out "$work/o11" 2>&1) || fail "far.csv unscaled failed: $out"
raw_acc=$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")
[ "${raw_acc//[^0-9]/}" -lt 800 ] || fail "far.csv is learnt without scaling ($raw_acc): the --standardize check shows nothing"
grep -qx "input_scaling standardize" "$work/std-model/model.txt" || fail "--save does not record the scaling"
[ -s "$work/std-model/input_mean.npy" ] && [ -s "$work/std-model/input_scale.npy" ] || fail "--save wrote no scaling files"
out=$("$moons" --data "$work/far.csv" --load "$work/std-model" --out "$work/o11" 2>&1) || fail "--load of a standardized model failed: $out"
[ "$(grep -o "held-out accuracy [0-9.]*%" <<<"$out")" = "$std_acc" ] || fail "the loaded standardized model scores differently: $out"
grep -qF "standardizing its inputs" <<<"$out" || fail "--load does not say it standardizes: $out"

# --loss-reduction mean: with the full batch and no weight penalty, the mean at rate 0.01·160 takes
# the steps of the sum at rate 0.01 (160 training rows), so the printed losses agree to their 6
# decimals; at the same rate they do not.
sum_run=$("$moons" --hidden 3 --reg 0 --rate 0.01 --passes 20 --log-every 10 --out "$work/o12" 2>&1 | grep "^Loss")
mean_run=$("$moons" --hidden 3 --reg 0 --rate 1.6 --loss-reduction mean --passes 20 --log-every 10 --out "$work/o12" 2>&1 | grep "^Loss")
same_rate=$("$moons" --hidden 3 --reg 0 --rate 0.01 --loss-reduction mean --passes 20 --log-every 10 --out "$work/o12" 2>&1 | grep "^Loss")
[ -n "$sum_run" ] && [ "$(cut -d' ' -f5 <<<"$sum_run")" = "$(cut -d' ' -f5 <<<"$mean_run")" ] \
  || fail "--loss-reduction mean at rate·N does not match the sum: $sum_run / $mean_run"
[ "$(tail -1 <<<"$sum_run" | cut -d' ' -f5)" != "$(tail -1 <<<"$same_rate" | cut -d' ' -f5)" ] \
  || fail "--loss-reduction mean changes nothing at the same rate"
expect_error "--loss-reduction: 'avg' is not one of sum, mean" --loss-reduction avg
expect_error "--standardize: takes no value" --standardize=0

# pandas' to_csv: default integer column names and the index column.
printf '0,1,2\n' > "$work/pandas.csv"; tail -n +2 "$work/far.csv" >> "$work/pandas.csv"
out=$("$moons" --data "$work/pandas.csv" --hidden 3 --passes 1 --out "$work/o13" 2>&1) || fail "a 0,1,2 header failed: $out"
grep -qF "Training 2-3-2 tanh on 240 points" <<<"$out" || fail "a 0,1,2 header was not read as a header: $out"
awk 'NR == 1 { print "," $0; next } { print NR - 2 "," $0 }' "$work/far.csv" > "$work/indexed.csv"
out=$("$moons" --data "$work/indexed.csv" --hidden 3 --passes 1 --out "$work/o13" 2>&1) || fail "an index column failed: $out"
grep -qF "Training 2-3-2 tanh on 240 points" <<<"$out" || fail "the index column was read as a feature: $out"
printf ',x0,x1,label\n0,1,2,0\nnine,1,2,1\n' > "$work/bad-index.csv"
expect_error "bad-index.csv: line 3: column 1 is an index column" --data "$work/bad-index.csv" --hidden 3


# --- Writing files: whole or not at all, never through a planted link, devices kept ---------------
# A save cut short by the file size limit (ulimit -f counts 1024-byte blocks: 4 MB, below the
# 8 MB of a 1000x1000 layer's weights) fails naming the file, and the old model stays loadable.
out=$("$moons" --hidden 3 --passes 10 --save "$work/limited" --out "$work/w1" 2>&1) || fail "saving a small model failed: $out"
out=$( (ulimit -f 4000; trap '' XFSZ; "$moons" --hidden 1000,1000 --passes 1 --save "$work/limited" --out "$work/w1") 2>&1) \
  && fail "a save cut short by ulimit -f exited 0: $out"
grep -qF "layer1_W.npy" <<<"$out" && grep -qF "File too large" <<<"$out" || fail "a short write does not name the file and the reason: $out"
out=$("$moons" --load "$work/limited" --out "$work/w1" 2>&1) || fail "the old model does not load after a failed save: $out"
grep -qF "Loaded 2-3-2 tanh" <<<"$out" || fail "the model after a failed save is not the old one: $out"
[ -z "$(find "$work" -maxdepth 1 -name '.limited.*')" ] || fail "a failed save left hidden folders: $(ls -a "$work")"

# A link planted at the temporary name of the old scheme (NAME.writing-PID; exec keeps the PID).
mkdir -p "$work/plant" && echo precious > "$work/plant/victim"
bash -c 'ln -s "$1/victim" "$1/split.csv.writing-$$"; exec "$2" --hidden 3 --passes 1 --write-split "$1/split.csv" --out "$3"' \
  _ "$work/plant" "$moons" "$work/w2" >/dev/null 2>&1 || fail "--write-split beside a planted link failed"
[ "$(cat "$work/plant/victim")" = precious ] || fail "--write-split wrote through a planted link"
grep -qx "row,part" "$work/plant/split.csv" || fail "--write-split beside a planted link wrote no split"

# Devices, FIFOs and pipes are written in place, never replaced by a regular file.
ln -s /dev/null "$work/null-link"
out=$("$moons" --hidden 3 --passes 1 --write-split "$work/null-link" --out "$work/w3" 2>&1) || fail "--write-split to a link to /dev/null failed: $out"
if [ -L "$work/null-link" ] && [ -c "$work/null-link" ]; then
  out=$("$moons" --hidden 3 --passes 1 --write-split /dev/null --out "$work/w3" 2>&1) || fail "--write-split /dev/null failed: $out"
  [ -c /dev/null ] || fail "--write-split /dev/null replaced the device"
else
  fail "--write-split replaced a link to /dev/null (so --write-split /dev/null itself is not tried)"
fi
mkfifo "$work/split.fifo"
cat "$work/split.fifo" > "$work/from-fifo" &
reader=$!
out=$("$moons" --hidden 3 --passes 1 --write-split "$work/split.fifo" --out "$work/w3" 2>&1) || fail "--write-split to a FIFO failed: $out"
kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null
[ -p "$work/split.fifo" ] || fail "--write-split replaced a FIFO"
[ "$(head -1 "$work/from-fifo")" = "row,part" ] || fail "--write-split wrote nothing into the FIFO"
out=$("$moons" --hidden 3 --passes 1 --write-split /dev/stdout --out "$work/w3" 2>"$work/stderr" | grep -c ',t')
[ "${PIPESTATUS[0]}" = 0 ] && [ "$out" = 200 ] || fail "--write-split /dev/stdout into a pipe: $out rows, $(cat "$work/stderr")"

# --- What could fail after training is refused before it -----------------------------------
mkdir -p "$work/o20/boundary.png"
expect_refused "boundary.png" --hidden 3 --passes 10 --save "$work/m20" --out "$work/o20"
expect_refused "--out" --hidden 3 --passes 10 --save "$work/m20" --out "$work/o20"
mkdir -p "$work/o21/loss.png"
expect_refused "loss.png" --hidden 3 --passes 10 --out "$work/o21"
expect_refused "mount point" --hidden 3 --passes 10 --save /proc --out "$work/o22"
if [ -d /dev/shm ] && [ -z "$(ls -A /dev/shm 2>/dev/null)" ] && findmnt -n /dev/shm >/dev/null 2>&1; then
  expect_refused "mount point" --hidden 3 --passes 10 --save /dev/shm --out "$work/o22"
fi
# The model is saved first, then the split, then the pictures.
out=$("$moons" --hidden 3 --passes 10 --save "$work/m23" --write-split "$work/s23.csv" --out "$work/o23" 2>&1) || fail "save, split and pictures failed: $out"
[ "$(grep -oE "^(saved the model|wrote the split|  wrote .*boundary)" <<<"$out" | tr '\n' '|')" = "saved the model|wrote the split|  wrote $work/o23/boundary|" ] \
  || fail "not saved first, then the split, then the pictures: $out"

# --- Graphviz is optional: a dot that fails, writes nothing or hangs is a warning -------------
mkdir -p "$work/dot-fail" "$work/dot-empty" "$work/dot-hang" "$work/dot-good"
printf '#!/bin/sh\necho "dot: broken" >&2\nexit 1\n' > "$work/dot-fail/dot"
printf '#!/bin/sh\nexit 0\n' > "$work/dot-empty/dot"
printf '#!/bin/sh\nsleep 60\n' > "$work/dot-hang/dot"
# A working dot: the picture to -o's file, or to stdout without -o.
printf '#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done\nif [ -n "$out" ]; then echo fake-png > "$out"; else echo fake-png; fi\n' > "$work/dot-good/dot"
chmod +x "$work"/dot-*/dot
for kind in fail empty hang; do
  start=$SECONDS
  out=$(PATH="$work/dot-$kind:$PATH" MOONS_DOT_TIMEOUT=1 "$moons" --passes 10 --sweep 1 --out "$work/walk-$kind" 2>&1) \
    || fail "a dot that does '$kind' ended the walkthrough: $out"
  grep -qF "4. Varying the hidden layer size" <<<"$out" || fail "a dot that does '$kind' stopped the walkthrough: $out"
  [ "$(grep -ci "warning.*dot" <<<"$out")" = 1 ] || fail "a dot that does '$kind' gives no one-line warning: $out"
  [ ! -e "$work/walk-$kind/tape.png" ] || fail "a dot that does '$kind' left a tape.png"
  [ $((SECONDS - start)) -lt 20 ] || fail "a dot that does '$kind' held the walkthrough $((SECONDS - start)) s"
done
out=$(PATH="$work/dot-good:$PATH" "$moons" --passes 10 --sweep 1 --out "$work/walk-good" 2>&1) || fail "a working dot: $out"
[ "$(cat "$work/walk-good/tape.png")" = fake-png ] || fail "a working dot's picture is not tape.png: $out"
# The picture's temporary name of the old scheme (tape.png.tmpPID), planted as a link.
mkdir -p "$work/walk-plant" && echo precious > "$work/plant/victim2"
PATH="$work/dot-good:$PATH" bash -c 'ln -s "$1/victim2" "$2/tape.png.tmp$$"; exec "$3" --passes 10 --sweep 1 --out "$2"' \
  _ "$work/plant" "$work/walk-plant" "$moons" >/dev/null 2>&1 || fail "the walkthrough beside a planted link failed"
[ "$(cat "$work/plant/victim2")" = precious ] || fail "the tape picture was written through a planted link"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "moons command line: all checks passed"
