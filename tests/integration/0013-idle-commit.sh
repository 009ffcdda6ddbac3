# Once the input is caught up, kta commits at once instead of waiting for
# commit_interval_ms (set to 10 minutes here): consumer lag reads 0 and, in
# exactly-once mode, read_committed readers see the hits, within seconds
# after each burst.  Both delivery modes.
. "$KTA_ROOT/tests/integration/lib.sh"

for mode in alo eos; do
    in=$T-$mode-events hits=$T-$mode-hits dlq=$T-$mode-dlq group=$T-$mode-kta
    topic "$in" 2; topic "$hits"; topic "$dlq"
    args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits"
          -X dead_letter.topic="$dlq" --print none -X commit_interval_ms=600000)
    [[ $mode == eos ]] && args+=(-X processing.guarantee=exactly_once)
    start_kta "$mode" "${args[@]}"
    wait_log "$mode" 'assigned 2 partitions'
    total=0
    for burst in 1 2; do
        "$KTA" produce -b "$B" -t "$in" --generate 500 --seed $burst --malicious 0.1 2>/dev/null
        total=$((total + 500))
        end=$((SECONDS + 15))
        while :; do
            sum=0
            for po in $(committed "$group" "$in"); do
                [[ ${po#*:} =~ ^[0-9]+$ ]] && sum=$((sum + ${po#*:}))
            done
            ((sum == total)) && break
            ((SECONDS < end)) || fail "$mode: burst $burst: committed $sum of $total after 15 s"
            sleep 0.5
        done
        ok "$mode: burst $burst committed ($total) long before commit_interval_ms"
    done
    # The hits of both bursts are readable (committed transactions in eos).
    consume "$in" >events.jsonl
    want=$("$KTA" eval -r "$KTA_ROOT/rules/seed.yaml" events.jsonl | wc -l)
    got=$(kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=read_committed | wc -l)
    expect_eq "$mode: hits visible to read_committed readers" "$want" "$got"
    stop_kta "$mode"
    expect_eq "$mode: exit" 0 "$RC"
done
