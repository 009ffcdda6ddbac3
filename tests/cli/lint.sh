#!/usr/bin/env bash
# kta lint / kta check --lint: every lint warning on a rule that triggers it
# (lint/trigger.yml) and none on its near miss (lint/near-miss.yml); exit
# codes with and without --strict; load errors keep kta check's exit code.
# KTA = the binary to test.  Prints "cli lint: N passed, N failed".
set -u
CLI_SUITE=lint . "$(dirname "$0")/lib.sh"
here=$root/tests/cli/lint

cp "$here"/trigger.yml "$here"/near-miss.yml "$here"/scope.fieldmap .
"$KTA" lint -m scope.fieldmap trigger.yml >out 2>err; rc=$?
check "lint: warnings alone exit 0" test $rc -eq 0
for w in "trigger.yml:8:14: warning: rule every: the condition holds for an event with no fields: the rule matches every event [matches-everything]" \
         "trigger.yml:15:3: warning: rule unused: search 'other' is not used by the condition [unused-search]" \
         'trigger.yml:23:23: warning: rule dquoted: value "C:\Users\*" holds \* or \?' \
         "a path such as C:\\Users\\* then only matches a literal star; write it in single quotes, 'C:\\Users\\\\*' [never-matches]" \
         'trigger.yml:30:16: warning: rule cased: modifier '"'cased'"' on "1234", a value without letters, changes nothing [cased-without-letters]' \
         "trigger.yml:33:1: warning: rule dup: title 'Every event' is also the title of rule every (trigger.yml:3:1) [duplicate-title]" \
         "trigger.yml:40:1: warning: rule scope: its scope (logsource product=demo service=c, 2 entries ANDed) cannot hold: e.g. it needs Channel to be 'a' and 'c' at once" \
         "[unsatisfiable-scope]"; do
    check "lint: $w" has "$w" err
done
check "lint: six warnings in the summary" has "0 errors, 6 warnings in 1 file" out
check "lint: exactly six warning lines" test "$(grep -c ': warning: ' err)" -eq 6

"$KTA" lint -m scope.fieldmap near-miss.yml >out 2>err; rc=$?
check "lint near misses: exit 0" test $rc -eq 0
check "lint near misses: no warning" test "$(grep -c 'warning' err)" -eq 0
check "lint near misses: summary" has "0 errors, 0 warnings in 1 file" out

"$KTA" lint --strict -m scope.fieldmap trigger.yml >out 2>err; rc=$?
check "lint --strict with warnings: exit 1" test $rc -eq 1
check "lint --strict: promoted" has "[matches-everything] (a warning; --strict)" err
"$KTA" lint --strict -m scope.fieldmap near-miss.yml >out 2>err; rc=$?
check "lint --strict, no warnings: exit 0" test $rc -eq 0

"$KTA" check --lint -m scope.fieldmap trigger.yml >out2 2>err2; rc=$?
check "check --lint: exit 0" test $rc -eq 0
"$KTA" lint -m scope.fieldmap trigger.yml >out 2>err
check "check --lint is kta lint" cmp -s err err2
"$KTA" check --lint --strict -m scope.fieldmap trigger.yml >/dev/null 2>&1
check "check --lint --strict: exit 1" test $? -eq 1
"$KTA" check -m scope.fieldmap trigger.yml >out 2>err
check "check without --lint: no lint warning" test "$(grep -c 'warning' err)" -eq 0
"$KTA" lint -q -m scope.fieldmap trigger.yml >out 2>err
check "lint -q: warnings not printed" test ! -s err

# Load errors keep kta check's exit code (numeric modifiers on words are
# load errors already), and the rules that did load are still linted.
printf 'id: num\ntitle: t\ndetection:\n  sel:\n    n|gt: many\n  condition: sel\n' >num.yml
"$KTA" lint num.yml >out 2>err; rc=$?
check "lint: load error exit 1" test $rc -eq 1
check "lint: numeric modifier on a word is a load error" has "num.yml:5:11: error: rule num: modifier 'gt' needs a number, not 'many'" err
printf 'id: num2\ntitle: t\ndetection:\n  sel:\n    n|gt: "5"\n  condition: sel\n' >num2.yml
"$KTA" lint --strict num2.yml >out 2>err; check "lint: a quoted number is a number" test $? -eq 0
"$KTA" lint --skip-invalid num.yml trigger.yml >out 2>err
check "lint --skip-invalid: the valid rules are linted" has "[unused-search]" err

# The shipped rules lint clean, with every shipped field map.
"$KTA" lint --strict "$root/rules" >out 2>err; check "rules/ lint clean" test $? -eq 0
for fm in "$root"/rules/fieldmaps/*.fieldmap; do
    "$KTA" lint --strict -m "$fm" "$root/rules" >out 2>err
    check "rules/ lint clean with $(basename "$fm")" test $? -eq 0
done

echo "cli lint: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
