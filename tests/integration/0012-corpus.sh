# The whole bad-input corpus (tests/corpus, with its 2 MiB record) goes
# through the real broker, in both delivery modes: every malformed record
# lands unchanged in the dead-letter topic with the reason the index gives,
# exactly once (read_committed in exactly-once mode), the valid controls
# are not dead-lettered, kta neither crashes nor stops, and the committed
# offset reaches the end of the partition.  Binary keys and headers (NUL
# and 0xff bytes) and a NULL value (tombstone) ride along.
. "$KTA_ROOT/tests/integration/lib.sh"

big=3145728   # topics and clients must take the 2 MiB record
python3 "$KTA_ROOT/tests/corpus/make-corpus.py" --large corpus
mapfile -t files < <(cut -f1 corpus/index)
n_files=${#files[@]}

# Extra records with a binary key: "KEY<US>VALUE<RS>" for kcat -K/-D.
python3 - <<'PY'
recs = [
    (b'\x00\xff\x01key', b'{"host":"binkey","severity":"critical"}', 'ok'),
    (b'\xfe\x00', b'{"host": "binkey", ', 'invalid_json'),
]
with open('binary.rec', 'wb') as f:
    for k, v, _ in recs:
        f.write(k + b'\x1f' + v + b'\x1e')
with open('binary.index', 'w') as f:
    for _, _, r in recs:
        f.write('binary\t%s\n' % r)
PY

for mode in alo eos; do
    in=$T-$mode-events hits=$T-$mode-hits dlq=$T-$mode-dlq group=$T-$mode-kta
    for t in "$in" "$hits" "$dlq"; do
        "$KAFKA" tool kafka-topics --bootstrap-server "$B" --create --if-not-exists --topic "$t" \
            --partitions 1 --replication-factor 1 --config max.message.bytes=$big >/dev/null
    done
    # kcat sends each FILE as one record but skips empty files: those go
    # as "KEY<US><RS>" (an empty, non-NULL value) in their place.
    batch=()
    for f in "${files[@]}" ""; do
        if [[ -n $f && -s corpus/$f ]]; then batch+=("$f"); continue; fi
        if ((${#batch[@]})); then
            (cd corpus && kcat -b "$B" -P -t "$in" -X message.max.bytes=$big -k corpus \
                -H $'bin.header=\xff\xfe' "${batch[@]}")
            batch=()
        fi
        [[ -n $f ]] && printf 'corpus\x1f\x1e' |
            kcat -b "$B" -P -t "$in" -K $'\x1f' -D $'\x1e' -H $'bin.header=\xff\xfe'
    done
    kcat -b "$B" -P -t "$in" -K $'\x1f' -D $'\x1e' -l binary.rec
    printf 'tomb\x1f' | kcat -b "$B" -P -t "$in" -Z -K $'\x1f'
    total=$((n_files + 3))
    { cut -f2 corpus/index; cut -f2 binary.index; echo empty; } >reasons.$mode

    args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits"
          -X dead_letter.topic="$dlq" --print none)
    iso=read_uncommitted
    if [[ $mode == eos ]]; then
        args+=(-X processing.guarantee=exactly_once -X transactional.id="$T-kta")
        iso=read_committed
    fi
    start_kta "$mode" "${args[@]}"
    end=$((SECONDS + 90))
    until [[ $(committed "$group" "$in") == "0:$total" ]]; do
        kill -0 "$(cat "$mode.pid")" 2>/dev/null || { cat "$mode.err" >&2; fail "$mode: kta exited"; }
        ((SECONDS < end)) || { tail -5 "$mode.err" >&2; fail "$mode: committed $(committed "$group" "$in"), want 0:$total"; }
        sleep 0.5
    done
    ok "$mode: committed offset reached the end ($total records)"
    stop_kta "$mode"
    expect_eq "$mode: exit" 0 "$RC"

    # Dead letters: "offset size headers\n" then exactly size value bytes.
    kcat -b "$B" -C -t "$dlq" -e -o beginning -q -Z -X isolation.level=$iso \
        -X fetch.message.max.bytes=$big -f '%o %S %k|%h\n%s' >dlq.$mode
    python3 - "$mode" "$total" <<'PY' || fail "$mode: dead letters wrong"
import sys, collections
mode, total = sys.argv[1], int(sys.argv[2])
reasons = open('reasons.' + mode).read().split('\n')[:total]
files = [l.split('\t')[0] for l in open('corpus/index').read().splitlines()]
values = [open('corpus/' + f, 'rb').read() for f in files]
values += [b'{"host":"binkey","severity":"critical"}', b'{"host": "binkey", ', None]
data = open('dlq.' + mode, 'rb').read()
got = collections.defaultdict(list)
pos = 0
while pos < len(data):
    nl = data.index(b'\n', pos)
    meta = data[pos:nl]
    off, size, rest = meta.split(b' ', 2)
    size = int(size)
    pos = nl + 1
    value = None
    if size >= 0:
        value = data[pos:pos + size]
        pos += size
    else:
        assert data[pos:pos + 4] == b'NULL', data[pos:pos + 20]
        pos += 4
    hdrs = rest.split(b'|', 1)[1]
    h = dict(kv.split(b'=', 1) for kv in hdrs.split(b',') if b'=' in kv)
    src = int(h[b'kta.source.offset'])
    got[src].append((value, h))
bad = 0
for i, reason in enumerate(reasons):
    copies = got.get(i, [])
    if reason == 'ok':
        if copies:
            print('%s: record %d (%s) is valid but was dead-lettered' % (mode, i, reason)); bad += 1
        continue
    if len(copies) != 1:
        print('%s: record %d: %d dead letters, want 1' % (mode, i, len(copies))); bad += 1
        continue
    value, h = copies[0]
    if h.get(b'kta.error.reason', b'').decode() != reason:
        print('%s: record %d: reason %r, want %s' % (mode, i, h.get(b'kta.error.reason'), reason)); bad += 1
    if value != values[i]:
        print('%s: record %d: value changed (%s bytes, want %s)' % (mode, i,
              None if value is None else len(value), None if values[i] is None else len(values[i]))); bad += 1
    if i < len(files) and h.get(b'bin.header') != b'\xff\xfe':
        print('%s: record %d: original binary header lost' % (mode, i)); bad += 1
extra = set(got) - set(range(total))
if extra:
    print('%s: dead letters for unknown offsets %s' % (mode, sorted(extra))); bad += 1
nbad = sum(1 for r in reasons if r != 'ok')
print('%s: %d records, %d dead letters expected, %d found' % (mode, total, nbad, sum(map(len, got.values()))))
sys.exit(1 if bad else 0)
PY
    ok "$mode: every malformed record dead-lettered once, unchanged, with its reason"
    # The binary key came through on the dead letter unchanged.
    kcat -b "$B" -C -t "$dlq" -e -o beginning -q -X isolation.level=$iso -X fetch.message.max.bytes=$big \
        -f '%k\n' | LC_ALL=C grep -ac $'^\xfe' | grep -qx 1 || fail "$mode: binary key not kept"
    ok "$mode: binary key kept"
    grep -qiE 'abort|segv|sanitizer' "$mode.err" && fail "$mode: $(grep -iE 'abort|segv|sanitizer' "$mode.err" | head -3)"
    wait_count "$hits" 1 10
done
