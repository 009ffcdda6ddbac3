"""The seed's threat analyzer (shared/seed/kafka-poc-threat-analyzer.md,
Step 4) ported from kafka-python to confluent-kafka, for scripts/bench-e2e.sh.

Same consumer settings (earliest, auto commit, a group) and the same loop
body, one poll() per message as in confluent-kafka's own examples. The only
addition: it exits once every assigned partition has reported end-of-
partition (enable.partition.eof), i.e. when the topic is drained.

usage: analyzer_confluent.py BOOTSTRAP TOPIC GROUP
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError

bootstrap, topic, group = sys.argv[1:4]

# Kafka consumer initialization
consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': True,
    'group.id': group,
    'enable.partition.eof': True,
})
consumer.subscribe([topic])

print("[+] Listening for threat logs...\n")

eof = set()
while True:
    msg = consumer.poll(1.0)
    if msg is None:
        continue
    if msg.error():
        if msg.error().code() == KafkaError._PARTITION_EOF:
            eof.add(msg.partition())
            assigned = consumer.assignment()
            if assigned and eof >= {tp.partition for tp in assigned}:
                break
            continue
        print(f"[ERROR] {msg.error()}", file=sys.stderr)
        continue
    eof.discard(msg.partition())
    value = msg.value().decode('utf-8')
    try:
        data = json.loads(value)

        host = data.get("host", "Unknown")
        threat = data.get("threat", "Unknown")
        severity = data.get("severity", "Unknown").lower()

        if severity == "high":
            print(f"[ALERT] Host: {host} | Threat: {threat} | Severity: HIGH")
        elif severity == "critical":
            print(f"[ALERT] Host: {host} | Threat: {threat} | Severity: CRITICAL")
        else:
            print(f"[DEBUG] Host: {host} | Threat: {threat} | Severity: {severity}")

    except json.JSONDecodeError:
        print(f"[ERROR] Received malformed JSON: {value}")

consumer.close()
