# Every class of malformed record (docs/rules.md §18) lands unchanged in the
# dead-letter topic with its reason, the stream goes on, and good records
# around them still produce their hits.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in"; topic "$hits"; topic "$dlq"

python3 - >records <<'PY'
import sys
good = b'{"host":"ok%d","severity":"critical"}'
bad = [
    (b'{"host": "x", "threat": ', "invalid_json"),
    (b'{"a":"\xff\xfe"}', "invalid_json"),                 # invalid UTF-8
    (b'{"a":"\\uD800"}', "invalid_json"),                  # lone surrogate escape
    (b'{"a":"\\u0000"}', "invalid_json"),
    (b'{"a":1,"a":2}', "invalid_json"),                    # duplicate key
    (b'[{"severity":"critical"}]', "not_object"),
    (b'"critical"', "not_object"),
    (b'{"a":' + b'[' * 64 + b'1' + b']' * 64 + b'}', "too_deep"),   # 65 levels
    (b'{"severity":"critical","pad":"' + b'x' * 300 + b'"}', "too_large"),
    (b'', "empty"),                                         # sent as a NULL value (tombstone)
]
out = sys.stdout.buffer
# "key<TAB>value" lines for kcat -K: an empty value is sent as NULL (-Z).
for i, (rec, _) in enumerate(bad):
    out.write(b"k\t" + good % i + b"\n")
    out.write(b"k\t" + rec + b"\n")
out.write(b"k\t" + good % 99 + b"\n")
with open("reasons", "w") as f:
    for _, r in bad:
        f.write(r + "\n")
PY
kcat -b "$B" -P -t "$in" -Z -K $'\t' -l records

start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" -X input.max_bytes=200 --print none
wait_count "$hits" 11
wait_count "$dlq" 10
sleep 2
stop_kta kta
expect_eq "exit" 0 "$RC"
expect_eq "reasons, in order" "$(cat reasons)" \
    "$(consume "$dlq" '%h\n' | tr ',' '\n' | sed -n 's/^kta.error.reason=//p')"
expect_eq "dead-letter offsets" "1 3 5 7 9 11 13 15 17 19" \
    "$(consume "$dlq" '%h\n' | tr ',' '\n' | sed -n 's/^kta.source.offset=//p' | tr '\n' ' ' | sed 's/ $//')"
# Values go on unchanged: compare bytes (the tombstone stays a NULL value).
kcat -b "$B" -C -t "$dlq" -e -o beginning -q -Z -f '%S %s\n' >dlq.txt
python3 - <<'PY'
recs = [l.split(b"\t", 1)[1] for l in open("records", "rb").read().split(b"\n")[1:-2:2]]
lines = open("dlq.txt", "rb").read().split(b"\n")[:-1]
assert len(lines) == 10, lines
for want, got in zip(recs, lines):
    size, _, value = got.partition(b" ")
    if want == b"":
        assert size == b"-1" and value == b"NULL", got      # still a tombstone
    else:
        assert value == want, (want, got)
print("ok: dead-letter values unchanged")
PY
expect_eq "committed" "0:21" "$(committed "$group" "$in")"
grep -q 'processed 21 events: 11 hits, 10 malformed' kta.err || fail "summary: $(tail -3 kta.err)"
