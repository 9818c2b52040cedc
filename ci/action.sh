#!/usr/bin/env bash
# The shell steps of the aigc-audit GitHub Action (action.yml at the repository root), kept in one
# script so that tests run them against a built wheel:
#
#   action.sh install   torch (CPU build) first, as the Makefile does, then aigc-audit from ACTION_PATH
#   action.sh audit     runs `aigc-audit audit`, appends report.md to $GITHUB_STEP_SUMMARY, writes the
#                       verdict and exit code to $GITHUB_OUTPUT, and exits with the audit's code
#
# Inputs arrive as INPUT_* environment variables, never pasted into the script by the workflow, so a
# value holding quotes or $(...) stays one argument and is never run as code.
set -euo pipefail

step="${1:-}"

truthy() {
  case "${1,,}" in
    true | yes | 1) return 0 ;;
    false | no | 0 | "") return 1 ;;
    *) echo "::error::strict must be true or false; got '$1'" >&2; exit 2 ;;
  esac
}

read_verdict() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))["verdict"])' "$1"
}

case "$step" in
install)
  # torch first, from the CPU wheel index, so that nothing else can pull a CUDA build.
  python -m pip install --quiet --index-url "${INPUT_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" \
    torch==2.13.0
  python -m pip install --quiet "${ACTION_PATH:?set ACTION_PATH to the folder of the action}"
  ;;
audit)
  out="${INPUT_OUT:-aigc-audit-report}"
  args=(audit --samples "${INPUT_SAMPLES:?the samples input is required}" --policy "${INPUT_POLICY:-default}"
        --out "$out")
  if [[ -n "${INPUT_REFERENCE:-}" ]]; then args+=(--reference "$INPUT_REFERENCE"); fi
  if [[ -n "${INPUT_STORE:-}" ]]; then args+=(--store "$INPUT_STORE"); fi
  # --baseline (compare with an earlier run) is passed only when the input is set: an aigc-audit
  # without that option then still runs this action, and one given a baseline it cannot use stops
  # with exit 2 (verdict "error") instead of auditing without it.
  if [[ -n "${INPUT_BASELINE:-}" ]]; then args+=(--baseline "$INPUT_BASELINE"); fi
  if truthy "${INPUT_STRICT:-false}"; then args+=(--strict); fi

  set +e
  aigc-audit "${args[@]}"
  code=$?
  set -e

  # 0 and 1 are verdicts with fresh reports; anything else means the audit could not be made, and
  # a report.json left in the folder by an earlier run must not be read as this run's.
  verdict=error
  if [[ $code -le 1 && -f "$out/report.json" ]]; then
    verdict="$(read_verdict "$out/report.json")"
  fi
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    { echo "verdict=$verdict"; echo "exit-code=$code"; echo "report-dir=$out"; } >> "$GITHUB_OUTPUT"
  fi
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    if [[ $verdict != error && -f "$out/report.md" ]]; then
      { cat "$out/report.md"; echo; echo "_Full reports (HTML, JSON, JUnit, SARIF) are in this run's artifacts._"; } \
        >> "$GITHUB_STEP_SUMMARY"
    else
      echo "## aigc-audit: the audit could not be run (exit $code); the step's log says why" \
        >> "$GITHUB_STEP_SUMMARY"
    fi
  fi
  exit "$code"
  ;;
*)
  echo "usage: action.sh install|audit" >&2
  exit 2
  ;;
esac
