#!/usr/bin/env bash
# Issue 15's iMAML / MAML (order 2) / first-order MAML runs: one `metatape run` per (task, algorithm, seed) for
# accuracy and speed, and a few iterations per (task, algorithm, inner steps) for memory. Each run is its own
# process, one at a time, so its peak RSS is its own. Run folders go to experiments/imaml-vs-maml/<part>/<id>/;
# aggregate.ts turns them into results.md.
#
#   bash experiments/imaml-vs-maml/run.sh accuracy sinusoid [seeds]     # default seeds: 0 1 2
#   bash experiments/imaml-vs-maml/run.sh accuracy omniglot [seeds]
#   bash experiments/imaml-vs-maml/run.sh memory sinusoid|omniglot [iterations]   # default 6 iterations
#
# Environment: OMNIGLOT_ROOT (default datasets/omniglot) is the folder of the prepared Omniglot Arrow files
# (`metatape datasets prepare omniglot --from ../shared/datasets/omniglot --dir DIR`); ITERATIONS overrides
# the accuracy runs' meta-iterations (their folder is then <task>-<iterations>); ALGORITHMS (default
# "maml2 fomaml imaml") picks the algorithms of the accuracy runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
part=${1:?accuracy|memory}
task=${2:?sinusoid|omniglot}
here=experiments/imaml-vs-maml
case $task in
  sinusoid) config=configs/imaml-vs-maml-sinusoid.yaml; data=() ;;
  omniglot) config=configs/imaml-vs-maml-omniglot-mlp.yaml; data=(--set "data.root=${OMNIGLOT_ROOT:-datasets/omniglot}") ;;
  *) echo "unknown task '$task' (sinusoid|omniglot)" >&2; exit 2 ;;
esac

# The three algorithms as overrides of the one config.
algorithm_flags() {
  case $1 in
    maml2) echo "--set trainer.algorithm=maml --set trainer.order=2" ;;
    fomaml) echo "--set trainer.algorithm=maml --set trainer.order=1" ;;
    imaml) echo "--set trainer.algorithm=imaml" ;;
    # MAML with full per-task weight copies (no low-rank fast weights), as iMAML holds them: memory only.
    maml2full) echo "--set trainer.algorithm=maml --set trainer.order=2 --set trainer.fastWeights=full" ;;
  esac
}

run() {
  local dir=$1
  shift
  if [[ -f $dir/summary.json ]]; then echo "done already: $dir"; return; fi
  echo "== $dir: $*"
  # shellcheck disable=SC2068
  /usr/bin/time -f "%e s wall, %U s user" nice -n 5 npx tsx src/cli/main.ts run "$config" ${data[@]+"${data[@]}"} \
    --run-dir "$dir" --log-level warn "$@" >"$dir.out" 2>&1 || { tail -20 "$dir.out"; return 1; }
  tail -1 "$dir.out"
}

case $part in
  accuracy)
    shift 2
    seeds=("${@:-0 1 2}")
    read -ra seeds <<<"${seeds[*]}"
    its=()
    folder=$here/$task
    [[ -n ${ITERATIONS:-} ]] && its=(--iterations "$ITERATIONS") && folder=$folder-$ITERATIONS
    read -ra algorithms <<<"${ALGORITHMS:-maml2 fomaml imaml}"
    for seed in "${seeds[@]}"; do
      for alg in "${algorithms[@]}"; do
        mkdir -p "$folder"
        # shellcheck disable=SC2046
        run "$folder/$alg-s$seed" $(algorithm_flags $alg) --set "seed=$seed" ${its[@]+"${its[@]}"}
      done
    done
    ;;
  memory)
    n=${3:-6}
    for k in 1 5 10 20; do
      for alg in maml2 fomaml imaml maml2full; do
        mkdir -p "$here/memory-$task"
        # Logging every iteration times all but the first; no evaluation (it is not what is measured).
        # shellcheck disable=SC2046
        run "$here/memory-$task/$alg-k$k" $(algorithm_flags $alg) --set "trainer.innerSteps=$k" \
          --iterations "$n" --set logging.every=1 --set eval.tasks=1 --set eval.steps=[1]
      done
    done
    ;;
  *) echo "unknown part '$part' (accuracy|memory)" >&2; exit 2 ;;
esac
