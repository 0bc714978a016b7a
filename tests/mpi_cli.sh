#!/usr/bin/env bash
# Data-parallel runs as a user starts them: bad input and failing ranks end every rank non-zero with
# one message naming the rank (never a hang: each run is given 60 s), and the moons program under
# mpirun prints the lines one process prints for the same flags, once.
# usage: mpi_cli.sh "MPIEXEC [FLAGS]" TEST_MPI_BINARY MOONS_BINARY|none SCRATCH_FOLDER TEST_DATA_FOLDER
set -u
read -r -a mpiexec <<<"$1"
test_mpi=$2
moons=$3
work=$4
data=$5
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

# run_mpi RANKS program args...: stdout to $work/out, stderr to $work/err; returns the exit code.
run_mpi() {
  local ranks=$1; shift
  timeout 60 "${mpiexec[@]}" -n "$ranks" "$@" >"$work/out" 2>"$work/err"
}

# run_job MPIEXEC_ARGS...: as run_mpi, for a job whose ranks are given different command lines
# (mpirun's "-n 1 program args : -n 1 program other-args"). 30 s: such a job ends in a second or
# two when the ranks notice that they differ; a job still running then is a hang.
run_job() {
  timeout 30 "${mpiexec[@]}" "$@" >"$work/out" 2>"$work/err"
}

# check_one_error CODE "what the one message must contain" what-was-run...
check_one_error() {
  local code=$1 want=$2; shift 2
  [ "$code" -eq 124 ] && { fail "timed out (a hang): $*"; return; }
  [ "$code" -ne 0 ] || { fail "exit 0 for: $*"; return; }
  grep -qF -- "$want" "$work/err" || fail "message for '$*' lacks '$want': $(cat "$work/err")"
  local count
  count=$(grep -c "error:" "$work/err")
  [ "$count" -eq 1 ] || fail "$count error messages instead of one for '$*': $(cat "$work/err")"
}

# expect_one_error RANKS "what the one message must contain" program args...
expect_one_error() {
  local ranks=$1 want=$2; shift 2
  run_mpi "$ranks" "$@"
  check_one_error $? "$want" "$@"
}

# expect_one_job_error "what the one message must contain" MPIEXEC_ARGS...
expect_one_job_error() {
  local want=$1; shift
  run_job "$@"
  check_one_error $? "$want" "$@"
}

expect_one_error 2 "rank 1 disagrees with rank 0 on the model: rank 1 has 2-4-2 tanh, rank 0 has 2-3-2 tanh" \
  "$test_mpi" disagree-model
expect_one_error 3 "rank 1 disagrees with rank 0 on the feature columns: rank 1 has 3, rank 0 has 2" \
  "$test_mpi" disagree-columns
# Ranks that reach different steps (one reading a shard, one at an agreement or training) all stop
# with one message saying so, instead of reading each other's messages as their own.
expect_one_error 2 "the ranks are out of step: rank 1 is at nn::agree, rank 0 at reading a shard" \
  "$test_mpi" out-of-step
expect_one_error 2 "the ranks are out of step: rank 1 is at nn::train's check of the setup, rank 0 at nn::agree" \
  "$test_mpi" out-of-step-train

# One rank fails alone: MPI_Abort ends them all, non-zero, with that rank's message.
run_mpi 2 "$test_mpi" fail-rank
code=$?
[ "$code" -eq 124 ] && fail "fail-rank timed out (a hang)"
[ "$code" -ne 0 ] || fail "fail-rank exited 0"
grep -qF "test_mpi: error: rank 1: a failure of rank 1 alone" "$work/err" || fail "fail-rank: no message from rank 1: $(cat "$work/err")"

if [ "$moons" != none ]; then
  flags=(--data "$data/moons200.csv" --hidden 5 --batch-size 20 --optimizer adam --passes 60
         --log-every 20 --seed 3 --out "$work/out-pictures")
  # The split and loss flags mean the same under mpirun (the last pass is always reported).
  mean_flags=(--data "$data/moons200.csv" --hidden 5 --batch-size 16 --loss-reduction mean
              --rate 0.5 --passes 30 --log-every 10 --test-fraction 0.3 --split-seed 7
              --out "$work/out-pictures")
  for case in flags mean_flags; do
  declare -n case_flags=$case
  alone=$("$moons" "${case_flags[@]}" 2>&1) || fail "moons in one process exited non-zero: $alone"
  for ranks in 2 3; do
    run_mpi "$ranks" "$moons" "${case_flags[@]}" || fail "moons on $ranks ranks exited non-zero: $(cat "$work/err")"
    # The reports and accuracies, without the seconds: the same as one process's, printed once.
    want=$(grep -E "^(Loss after|training accuracy)" <<<"$alone" | sed 's/ *[0-9.]* s$//')
    got=$(grep -E "^(Loss after|training accuracy)" "$work/out" | sed 's/ *[0-9.]* s$//')
    [ -n "$want" ] || fail "moons in one process printed no reports: $alone"
    [ "$got" = "$want" ] || fail "moons on $ranks ranks printed
$got
instead of
$want"
    grep -qF "on $ranks processes" "$work/out" || fail "moons on $ranks ranks does not say so: $(cat "$work/out")"
  done
  done
  [ -s "$work/out-pictures/loss.png" ] || fail "moons under mpirun wrote no loss.png"
  expect_one_error 2 "cannot open '$work/missing.csv'" "$moons" --data "$work/missing.csv" --passes 10
  expect_one_error 2 "--passes" "$moons" --data "$data/moons200.csv" --passes -3
  expect_one_error 2 "under mpirun the moons program trains one model" "$moons"
  expect_one_error 2 "--standardize: not available under mpirun" "$moons" --data "$data/moons200.csv" --standardize
  expect_one_error 2 "--write-split: not available under mpirun" "$moons" --data "$data/moons200.csv" --write-split "$work/split.csv"

  # Ranks given different flags stop together before anything else, naming the rank and the flag
  # (rank 0 reading a file while rank 1 generates points, rank 1 asking for --help or for the
  # walkthrough while rank 0 trains, and the same model with another seed).
  one=(-n 1 "$moons")
  expect_one_job_error "the ranks were given different flags: rank 1 has no --data, rank 0 has --data '$data/moons200.csv'" \
    "${one[@]}" --data "$data/moons200.csv" --passes 5 --hidden 3 --out "$work/o" : "${one[@]}" --passes 5 --hidden 3 --out "$work/o"
  expect_one_job_error "rank 1 has --help, rank 0 has no --help" \
    "${one[@]}" --data "$data/moons200.csv" --passes 5 --out "$work/o" : "${one[@]}" --help
  expect_one_job_error "rank 1 has no --data" \
    "${one[@]}" --data "$data/moons200.csv" --passes 5 --out "$work/o" : "${one[@]}" --passes 5 --out "$work/o"
  expect_one_job_error "rank 1 has --seed '2', rank 0 has --seed '1'" \
    "${one[@]}" --data "$data/moons200.csv" --passes 5 --seed 1 --out "$work/o" : "${one[@]}" --data "$data/moons200.csv" --passes 5 --seed 2 --out "$work/o"
  # A flag only one rank can parse is that rank's error, for every rank.
  expect_one_job_error "rank 1: --hidden: '3,,2'" \
    "${one[@]}" --data "$data/moons200.csv" --passes 5 --out "$work/o" : "${one[@]}" --data "$data/moons200.csv" --passes 5 --hidden 3,,2 --out "$work/o"
  # The same flags written differently are the same flags.
  run_job "${one[@]}" --data="$data/moons200.csv" --passes 5 --log-every 0 --out "$work/o" : "${one[@]}" --passes=5 --out "$work/o" --log-every 0 --data "$data/moons200.csv" \
    || fail "ranks given the same flags in another order or form exited non-zero: $(cat "$work/err")"

  # The one-process checks of the data and the flags, made on all the ranks' rows together.
  awk -F, 'NR == 1 { print; next } { print $1 "," $2 ",1" }' "$data/moons200.csv" >"$work/one-label.csv"
  expect_one_error 2 "every row has label 1" "$moons" --data "$work/one-label.csv" --passes 5 --out "$work/o"
  ! grep -q "^Training" "$work/out" || fail "trained on a file of one label under mpirun"
  # Each rank alone holds one label, together two: that trains, as in one process.
  awk -F, 'NR == 1 { print; next } { print $1 "," $2 "," (NR <= 101 ? 0 : 1) }' "$data/moons200.csv" >"$work/halves.csv"
  run_mpi 2 "$moons" --data "$work/halves.csv" --passes 5 --log-every 0 --out "$work/o" \
    || fail "a file whose two halves have one label each was refused on 2 ranks: $(cat "$work/err")"
  awk 'BEGIN { print "x0,x1,label"; for (i = 0; i < 10; i++) printf "%d,%d,%d\n", i % 3, int(i / 3), (i % 2) * 99999 }' >"$work/gap.csv"
  expect_one_error 2 "labels 0, 99999 make 100000 classes (the largest label + 1) for 10 rows" \
    "$moons" --data "$work/gap.csv" --passes 5 --out "$work/o"
  expect_one_error 2 "--out and --save" "$moons" --data "$data/moons200.csv" --passes 5 --out "$work/same" --save "$work/same"
  [ ! -e "$work/same" ] || fail "--out X --save X under mpirun wrote X before refusing"
  # A picture's path that cannot be written is refused before training, and the model is saved
  # before the picture is drawn, as in one process.
  mkdir -p "$work/blocked/loss.png"
  expect_one_error 2 "--out: cannot write '$work/blocked/loss.png'" "$moons" --data "$data/moons200.csv" --passes 5 --out "$work/blocked"
  ! grep -q "^Training" "$work/out" || fail "trained under mpirun before refusing a loss.png that is a folder"
  run_mpi 2 "$moons" --data "$data/moons200.csv" --passes 5 --log-every 0 --out "$work/order" --save "$work/order-model" \
    || fail "a save under mpirun failed: $(cat "$work/err")"
  first=$(grep -E "^(saved the model|  wrote)" "$work/out" | head -n 1)
  [ "${first#saved the model}" != "$first" ] \
    || fail "under mpirun the picture was written before the model: $(cat "$work/out")"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all MPI command-line checks passed"
