# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 16, the verification report (SPEC Report):
# a run recorded from the simulator with marks, a unit muted for a while
# (comm_error and missed) and a DUT/REF pair; `tbdaq report`'s JSON
# figures against those tools/report_check.py computes from the
# database with Python's statistics module; the HTML self-contained and
# complete; Chromium's print of it to PDF on A4 pages. Sourced by run.sh
# after lib.sh; each case_NAME runs in its own subshell with $T set.

# rq ARGS...: `tbdaq -c $T/t.conf ARGS`; stdout in $T/o, stderr in $T/e,
# the exit status in RC.
rq() {
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# rq_want RC PATTERN WHAT: the last rq exited RC, its stderr matching
# PATTERN (grep -E) unless empty.
rq_want() {
    [ "$RC" = "$1" ] ||
        fail "$3: exit $RC, want $1 (stderr: $(head -2 "$T/e" | tr '\n' ' '))"
    [ -z "$2" ] || grep -qE -e "$2" "$T/e" ||
        fail "$3: stderr '$(head -2 "$T/e" | tr '\n' ' ')' does not match '$2'"
}

# report_count TAG QUALITY: readings of TAG of that quality so far.
report_count() {
    sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE s.tag = '$1' AND r.quality = '$2';"
}

# report_record [HOLD_S]: run R1 recorded and sealed, the daemon stopped.
# Units 1 (FT-DUT, PT-101) and 2 (FT-REF, the reference) on buses of
# their own, 100 ms grid; marks "point 2" and "point 3"; unit 2 muted in
# the second segment until it has comm_error and missed readings.
report_record() {
    local n
    start_sim --port 0 --units 2
    CONF_BUSES+=("  { name = \"plantA\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 350; retries = 0; }")
    CONF_BUSES+=("  { name = \"plantB\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 350; retries = 0; }")
    conf_sensor 'id = "FT-DUT"; kind = "flow"; bus = "plantA"; unit_id = 1; table = "holding"; address = 20; type = "float32"; interval_ms = 100; calibration = { date = "2026-01-10"; due = "2099-01-10"; certificate = "KTL-DUT-1"; };'
    conf_sensor 'id = "PT-101"; kind = "pressure"; bus = "plantA"; unit_id = 1; table = "holding"; address = 100; type = "int16"; scale = 0.01; interval_ms = 100; calibration = { date = "2019-01-10"; due = "2020-01-10"; certificate = "OLD-7"; };'
    conf_sensor 'id = "FT-REF"; kind = "flow"; bus = "plantB"; unit_id = 2; table = "holding"; address = 20; type = "float32"; interval_ms = 100;'
    conf_write "$T/t.conf" "commit_interval_ms = 50;" 'devices = (
  { bus = "plantA"; unit_id = 1; model = "Sim flow meter";
    serial = { address = 800; count = 8; };
    firmware = { table = "holding"; address = 810; count = 4; }; });'
    start_daemon
    wait_or_fail "rq status; grep -q '^tbdaqd: running since ' '$T/o'" 10 \
        "tbdaq status does not see the daemon running"
    rq run start R1 --operator "QA <one> & \"two\"" --note "flow points 1-3"
    rq_want 0 "" "run start R1"
    wait_or_fail "[ \$(report_count FT-REF good) -ge 15 ]" 10 "no readings in R1"
    rq run mark "point 2"
    rq_want 0 "" "run mark"
    n=$(report_count FT-REF good)
    wait_or_fail "[ \$(report_count FT-REF good) -ge $((n + 10)) ]" 10 \
        "no readings after the mark"
    sim_ctl "mute 2"
    wait_or_fail "[ \$(report_count FT-REF comm_error) -ge 2 ] &&
        [ \$(report_count FT-REF missed) -ge 2 ]" 15 \
        "muted unit 2 gave no comm_error and missed readings"
    sim_ctl "normal 2"
    n=$(report_count FT-REF good)
    wait_or_fail "[ \$(report_count FT-REF good) -ge $((n + 10)) ]" 10 \
        "unit 2 did not come back"
    rq run mark "point 3"
    rq_want 0 "" "second run mark"
    n=$(report_count FT-REF good)
    wait_or_fail "[ \$(report_count FT-REF good) -ge $((n + 15)) ]" 10 \
        "no readings after the second mark"
    rq run stop
    rq_want 0 "" "run stop"
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = 'R1'
        AND chain_head IS NOT NULL;\")\" ]" 10 "R1 was not sealed"
    stop_daemon
}

# The JSON's figures against the database's; the command's errors.
case_report_json() {
    local n
    report_record
    rq report --run R1 --compare FT-DUT=FT-REF --format json -o "$T/r.json"
    rq_want 0 "" "report --format json"
    python3 "$HERE/tools/report_check.py" "$T/t.db" "$T/r.json" R1 \
        FT-DUT=FT-REF || fail "the report's figures differ from the database's"
    # the muted unit's gap shows, in its segment
    python3 - "$T/r.json" <<'PY' || fail "the report misses what happened"
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["id"]: x for x in r["sensors"]}
ref = s["FT-REF"]["segments"][1]
assert ref["comm_error"] >= 2 and ref["missed"] >= 2, ref
assert s["FT-DUT"]["stats"]["comm_error"] == 0, s["FT-DUT"]["stats"]
assert [g["label"] for g in r["segments"]] == ["start", "point 2", "point 3"]
d = s["FT-DUT"]["device"]
assert d["model"] == "Sim flow meter" and d["serial"] == "TBSIM-001", d
assert d["firmware"] == "1.4.2", d
assert s["FT-REF"]["device"] is None
assert s["FT-DUT"]["calibration"]["expired"] is False
assert s["PT-101"]["calibration"]["expired"] is True
assert s["FT-REF"]["calibration"]["expired"] is None
assert r["run"]["operator"] == 'QA <one> & "two"'
kinds = [e["kind"] for e in r["events"]]
assert kinds.count("run_mark") == 2 and "run_stop" in kinds, kinds
# unit 1 serves 21 + sine, unit 2 22 + sine: about -4.5 %
e = r["comparisons"][0]["run"]["relative_error_pct"]
assert -6 < e < -3, e
PY
    # the same report on stdout; errors
    rq report --run R1 --format json
    rq_want 0 "" "report to stdout"
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["sensors"]))' "$T/o")
    [ "$n" = 3 ] || fail "report on stdout has $n sensors, want 3"
    rq report --run R9
    rq_want 1 "unknown run 'R9'" "report of an unknown run"
    rq report --run R1 --compare FT-DUT=NOPE
    rq_want 1 "no sensor 'NOPE' in run 'R1'" "--compare with an unknown sensor"
    rq report --run R1 --compare FT-DUT
    rq_want 2 "not DUT=REF" "--compare without ="
    rq report --run R1 --format pdf
    rq_want 2 "unknown format 'pdf'" "--format pdf"
    rq report
    rq_want 2 "needs --run" "report without --run"
    rq report --run R1 -o "$T/nodir/r.html"
    rq_want 1 "nodir" "report into a missing directory"
}

# The HTML: self-contained, complete, and printed by Chromium to A4.
case_report_html() {
    local n pdf pages
    report_record
    rq report --run R1 --compare FT-DUT=FT-REF -o "$T/r.html"
    rq_want 0 "" "report (html)"
    grep -qiE 'https?://' "$T/r.html" && fail "the HTML names another host: $(grep -oiE 'https?://[^"]*' "$T/r.html" | head -1)"
    grep -qiE '<script|<link|@import|url\(|<iframe|<img' "$T/r.html" &&
        fail "the HTML loads something: $(grep -oiE '<script|<link|@import|url\(|<iframe|<img' "$T/r.html" | head -1)"
    for tag in FT-DUT FT-REF PT-101; do
        grep -q "id=\"sensor-$tag\"" "$T/r.html" || fail "no section for $tag"
    done
    n=$(grep -o '<svg' "$T/r.html" | wc -l)
    [ "$n" = 3 ] || fail "$n plots, want one per sensor (3)"
    grep -q 'QA &lt;one&gt; &amp; &quot;two&quot;' "$T/r.html" ||
        fail "the operator is not escaped"
    grep -q 'class="gap comm_error"' "$T/r.html" || fail "no comm_error mark in a plot"
    grep -q 'class="gap missed"' "$T/r.html" || fail "no missed mark in a plot"
    grep -q '@page' "$T/r.html" || fail "no @page rule"
    # Chromium's print to PDF: A4 pages (595 x 842 points)
    command -v chromium >/dev/null || fail "no chromium (Debian package chromium)"
    pdf="$T/r.pdf"
    HOME="$T" timeout 40 chromium --headless --no-sandbox --disable-gpu \
        --no-pdf-header-footer --user-data-dir="$T/chromium" \
        --print-to-pdf="$pdf" "file://$T/r.html" >"$T/chromium.out" 2>&1 ||
        fail "chromium could not print the report (see chromium.out)"
    [ -s "$pdf" ] || fail "chromium wrote no PDF"
    pages=$(python3 - "$pdf" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)
bad = [b for b in boxes if round(float(b[2])) != 595 or round(float(b[3])) != 842]
if not boxes or bad:
    print("bad", boxes[:3]); sys.exit(1)
print(len(boxes))
PY
) || fail "the PDF's pages are not A4: $pages"
    # and as poppler's pdfinfo (Debian poppler-utils) reads it, page by page
    command -v pdfinfo >/dev/null || fail "no pdfinfo (Debian package poppler-utils)"
    pdfinfo -f 1 -l 9999 "$pdf" >"$T/pdfinfo.out" 2>&1 || fail "pdfinfo cannot read the PDF"
    [ "$(grep -c '^Page  *[0-9]* size: .*(A4)$' "$T/pdfinfo.out")" = "$pages" ] ||
        fail "pdfinfo: $(grep -m2 'size' "$T/pdfinfo.out" | tr '\n' ' ')"
    echo "report printed to $pages A4 pages"
}

EXTRA_CASES+=(report_json report_html)
