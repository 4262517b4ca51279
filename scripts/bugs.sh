#!/usr/bin/env bash
# `make bugs`: hunt every scenario in scenarios/bugs/ on the etcd versions its header names
# (`# make bugs: 3.5.1` — the affected versions here; `# make bugs control: 3.4.23` — a fixed
# version, run as a control; `# make bugs expects: resumable|reliable` — the bug's signature,
# a regular expression one of a failed run's `caught_by` must match for it to count as the
# bug; `# make bugs tried:` — what the scenario does, in a few words, for the table), BUG_RUNS runs each (default 3, all of them: --keep-going), on
# BUG_BACKEND (default process). Prints the table and writes it into docs/findings.md between
# the `make bugs` markers, with the date and the command. Bounded: scenarios x versions x
# BUG_RUNS runs of 20-30 s workloads (about 45 s a run with start-up, checks and teardown).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${BUG_RUNS:-3}"
backend="${BUG_BACKEND:-process}"
bin="${FAULTLINE:-./target/release/faultline}"
out="${BUG_OUT:-reports/bugs-$(date -u +%Y%m%dT%H%M%SZ)}"
only="${BUGS:-}"
mkdir -p "$out"
rows=()
hunting=0
for scen in scenarios/bugs/*.yaml; do
  name=$(basename "$scen" .yaml)
  if [ -n "$only" ] && [[ "$name" != *"$only"* ]]; then continue; fi
  issue=$(sed -n 's/^name: etcd-\([0-9]*\)-.*/\1/p' "$scen")
  affected=$(sed -n 's/^# make bugs: //p' "$scen")
  controls=$(sed -n 's/^# make bugs control: //p' "$scen")
  expects=$(sed -n 's/^# make bugs expects: //p' "$scen")
  tried=$(sed -n 's/^# make bugs tried: //p' "$scen")
  for version in $affected $controls; do
    role=affected
    [[ " $controls " == *" $version "* ]] && role=control
    dir="$out/$name-$version"
    echo "== $name on etcd $version ($role), $runs run(s) on $backend" >&2
    code=0
    if [ "${BUG_REUSE:-0}" = 1 ] && [ -f "$dir/hunt.json" ]; then
      echo "   (BUG_REUSE: the hunt already in $dir)" >&2
    else
      set +e
      "$bin" hunt "$scen" --runs "$runs" --keep-going --backend "$backend" --set "cluster.etcd.version=$version" --out "$dir" >&2
      code=$?
      set -e
    fi
    hunting=$(( hunting + $(jq '[.runs[].ended_s] | max // 0 | floor' "$dir/hunt.json" 2>/dev/null || echo 0) ))
    if [ ! -f "$dir/hunt.json" ]; then
      rows+=("| [#$issue](https://github.com/etcd-io/etcd/issues/$issue) | \`$name\` | $version ($role) | 0 | – | – | – | the hunt did not run (exit $code) | $tried |")
      continue
    fi
    row=$(jq -r --arg issue "$issue" --arg name "$name" --arg v "$version" --arg role "$role" --arg expects "${expects:-.}" --arg tried "$tried" '
      def valid: [.runs[] | select(.verdict == "passed" or .verdict == "failed")];
      def fails: [.runs[] | select(.verdict == "failed")];
      (valid | length) as $n | (fails | length) as $k |
      ([fails[] | (.caught_by // [])[] | gsub("[0-9]+ "; "")] | unique | join("; ")) as $by |
      ([fails[] | select([(.caught_by // [])[] | test($expects)] | any)] | length) as $sig |
      (if $k > 0 then (fails[0].ended_s | floor | tostring) + " s" else "–" end) as $first |
      ([.runs[] | select(.verdict != "passed" and .verdict != "failed")] | length) as $bad |
      (if $role == "control" then (if $k == 0 then "control: clean, as a fixed version should be" else "control FAILED: not this bug" end)
       elif $sig > 0 then "**reproduced**" + (if $sig < $k then " (\($sig) of the \($k) failures with its signature)" else "" end)
       elif $k > 0 then "not reproduced: the failures are not this bug'"'"'s signature (`\($expects)`)"
       else "not reproduced" end) as $verdict |
      "| [#\($issue)](https://github.com/etcd-io/etcd/issues/\($issue)) | `\($name)` | \($v) (\($role)) | \($n)\(if $bad > 0 then " (+\($bad) invalid)" else "" end) | \($k) | \($first) | \(if $by == "" then "–" else $by end) | \($verdict) | \($tried) |"
    ' "$dir/hunt.json")
    rows+=("$row")
  done
done
table="| etcd issue | scenario | version | valid runs | failures | time to first failure | caught by | verdict | what was tried |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for r in "${rows[@]}"; do table+=$'\n'"$r"; done
note="Measured $(date -u +%Y-%m-%d) by \`make bugs\` (\`BUG_RUNS=$runs BUG_BACKEND=$backend${only:+ BUGS=$only}\`, $hunting s of hunting; hunts in \`$out\`)."
echo "$table"
echo "$note"
if [ "${BUG_WRITE:-1}" = 1 ]; then
  # The whole pack replaces the table; BUGS=... replaces its own rows and adds its note.
  TABLE="$table" NOTE="$note" PARTIAL="${only:+1}" python3 - <<'PY'
import os, re
p = "docs/findings.md"
s = open(p).read()
table, note, partial = os.environ["TABLE"], os.environ["NOTE"], os.environ.get("PARTIAL") == "1"
pat = re.compile(r"<!-- make bugs: begin -->\n(.*?)<!-- make bugs: end -->", re.S)
m = pat.search(s)
if partial and m:
    old = m.group(1)
    lines = old.split("\n")
    key = lambda r: tuple(c.strip() for c in r.split("|")[2:4])
    new_rows = {key(r): r for r in table.split("\n")[2:]}
    kept = [new_rows.pop(key(l), l) if l.startswith("| [#") else l for l in lines]
    body = "\n".join(kept).rstrip() + "\n"
    extra = "\n".join(new_rows.values())
    if extra:
        body = body.replace("\n\nMeasured", "\n" + extra + "\n\nMeasured", 1)
    body += note + "\n"
else:
    body = table + "\n\n" + note + "\n"
block = "<!-- make bugs: begin -->\n" + body + "<!-- make bugs: end -->"
s = pat.sub(lambda _: block, s) if m else s.rstrip() + "\n\n" + block + "\n"
open(p, "w").write(s)
PY
  echo "written to docs/findings.md" >&2
fi
