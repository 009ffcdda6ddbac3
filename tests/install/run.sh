#!/usr/bin/env bash
# `make install` into a DESTDIR, the installed kta run with the installed
# configuration and rules, the systemd unit checked by systemd-analyze
# (when present), `make uninstall`, and `make deb` with its contents and
# control data.  Needs no broker.  Prints "install: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
MAKE=${MAKE:-make}
work=$(mktemp -d "${TMPDIR:-/tmp}/kta-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
pass=0 fail=0 skip=0
check() { # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
has() { grep -qF -- "$1" "$2"; }
mk() { "$MAKE" --no-print-directory -C "$root" "$@"; }

# --- make install -----------------------------------------------------------
D=$work/root
mk install DESTDIR="$D" >"$work/install.log" 2>&1
check "make install exit 0" test $? -eq 0
P=$D/usr/local E=$D/usr/local/etc/kta
for f in "$P/bin/kta" "$P/share/man/man1/kta.1.gz" "$P/share/man/man5/kta.yaml.5.gz" \
         "$P/share/man/man7/kta-rules.7.gz" "$P/lib/systemd/system/kta.service" \
         "$E/kta.yaml" "$E/rules/seed.yaml" "$E/rules/linux/reverse_shell.yml" \
         "$E/rules/fieldmaps/kta.fieldmap" "$P/share/doc/kta/operations.md" "$P/share/doc/kta/README.md"; do
    check "installed ${f#"$D"}" test -f "$f"
done
check "binary is executable" test -x "$P/bin/kta"
check "man page is gzip'd roff" sh -c "gzip -dc '$P/share/man/man1/kta.1.gz' | head -1 | grep -q '^\.'"
check "every rule file installed" test "$(cd "$root/rules" && find . -type f | wc -l)" -eq "$(cd "$E/rules" && find . -type f | wc -l)"

# The installed binary, configuration and rules work together.
"$P/bin/kta" --version >"$work/out" 2>&1
check "installed kta --version" grep -qE '^kta [0-9]+\.[0-9]+\.[0-9]+$' "$work/out"
"$P/bin/kta" config -c "$E/kta.yaml" >"$work/config" 2>"$work/err"
check "kta config -c installed kta.yaml exit 0" test $? -eq 0
check "installed kta.yaml read" has "from $E/kta.yaml" "$work/config"
check "installed kta.yaml: console.print none" has "console.print: none" "$work/config"
check "installed kta.yaml: no field map" has "rules.fieldmap: null" "$work/config"
rules_path=$(sed -n 's/^rules.path: //p' "$work/config")
check "rules.path resolved against kta.yaml's directory" test "$rules_path" = "[$E/rules]"
(cd "$E" && "$P/bin/kta" check rules) >"$work/check" 2>&1
check "installed rules pass kta check" test $? -eq 0
check "installed rules: none skipped" grep -qE ' loaded .*, 0 skipped, 0 errors' "$work/check"
"$P/bin/kta" check -m "$E/rules/fieldmaps/kta.fieldmap" "$E/rules" >"$work/check" 2>&1
check "installed field map loads" test $? -eq 0

# kta.service: the installed paths, the promised settings.
U=$P/lib/systemd/system/kta.service
check "unit ExecStart" has "ExecStart=/usr/local/bin/kta run -c /usr/local/etc/kta/kta.yaml" "$U"
check "unit ExecReload sends SIGHUP" has 'ExecReload=/bin/kill -HUP $MAINPID' "$U"
check "unit Restart=on-failure" has "Restart=on-failure" "$U"
check "unit no restart on config error" has "RestartPreventExitStatus=2" "$U"
for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
         DynamicUser=yes "SystemCallFilter=@system-service" \
         "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" LimitNOFILE=; do
    check "unit $k" has "$k" "$U"
done
# PCRE2's JIT needs W+X memory.
check "unit does not deny W+X memory" bash -c "! grep -q '^MemoryDenyWriteExecute' '$U'"
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$U")
shut_ms=$(sed -n 's/^shutdown_timeout_ms: //p' "$work/config")
check "TimeoutStopSec ($stop_s s) longer than shutdown_timeout_ms ($shut_ms)" \
    test "$((stop_s * 1000))" -gt "${shut_ms:-0}"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify wants the ExecStart binary and the Documentation= pages to
    # exist: point a copy of the unit at the DESTDIR.
    sed "s|/usr/local/|$P/|g" "$U" >"$work/kta.service"
    MANPATH=$P/share/man systemd-analyze verify "$work/kta.service" >"$work/verify" 2>&1
    rc=$?
    check "systemd-analyze verify kta.service" test $rc -eq 0
    [[ $rc -eq 0 ]] || cat "$work/verify"
    check "systemd-analyze verify: no warnings" test ! -s "$work/verify"
else
    echo "skip: systemd-analyze not installed"; skip=$((skip + 1))
fi

# A second install keeps an edited kta.yaml; uninstall removes the rest.
echo "# edited" >>"$E/kta.yaml"
mk install DESTDIR="$D" >"$work/install2.log" 2>&1
check "reinstall keeps an edited kta.yaml" has "# edited" "$E/kta.yaml"
check "reinstall puts the new default beside it" cmp -s "$root/packaging/kta.yaml" "$E/kta.yaml.new"
mk uninstall DESTDIR="$D" >"$work/uninstall.log" 2>&1
check "make uninstall exit 0" test $? -eq 0
check "uninstall removed the binary" test ! -e "$P/bin/kta"
check "uninstall removed the unit" test ! -e "$U"
check "uninstall removed the rules" test ! -e "$E/rules"
check "uninstall kept the edited kta.yaml" test -f "$E/kta.yaml"
check "uninstall left no other file" test "$(find "$D" -type f | wc -l)" -eq 1

# PREFIX=/usr: configuration in /etc.
D2=$work/usr
mk install DESTDIR="$D2" PREFIX=/usr BUILD=build/install-test >"$work/install3.log" 2>&1
check "PREFIX=/usr install exit 0" test $? -eq 0
check "PREFIX=/usr: kta.yaml in /etc/kta" test -f "$D2/etc/kta/kta.yaml"
check "PREFIX=/usr: unit names /etc/kta/kta.yaml" has "-c /etc/kta/kta.yaml" "$D2/usr/lib/systemd/system/kta.service"
check "PREFIX=/usr: built with KTA_SYSCONFDIR /etc" test "$(cat "$root/build/install-test/sysconfdir.stamp")" = /etc

# --- make deb ---------------------------------------------------------------
if command -v dpkg-deb >/dev/null 2>&1 && command -v dpkg-shlibdeps >/dev/null 2>&1; then
    version=$(cat "$root/VERSION") arch=$(dpkg --print-architecture)
    deb=$root/build/kta_${version}_${arch}.deb
    mk deb >"$work/deb.log" 2>&1
    check "make deb exit 0" test $? -eq 0
    check "make deb built $deb" test -f "$deb"
    dpkg-deb -c "$deb" >"$work/contents" 2>&1
    for f in ./usr/bin/kta ./lib/systemd/system/kta.service ./usr/share/man/man1/kta.1.gz \
             ./usr/share/man/man5/kta.yaml.5.gz ./usr/share/man/man7/kta-rules.7.gz \
             ./etc/kta/kta.yaml ./etc/kta/rules/seed.yaml ./etc/kta/rules/fieldmaps/sysmon.fieldmap \
             ./usr/share/doc/kta/copyright; do
        check "deb holds $f" grep -qE " $f\$" "$work/contents"
    done
    check "deb files owned by root" bash -c "! grep -v ' root/root ' '$work/contents' | grep -q ."
    dpkg-deb -f "$deb" Package Version Architecture Depends >"$work/control"
    check "deb Package" has "Package: kta" "$work/control"
    check "deb Version" has "Version: $version" "$work/control"
    check "deb Architecture" has "Architecture: $arch" "$work/control"
    for lib in librdkafka1 libjansson4 libpcre2-8-0 libyaml-0-2 libhyperscan5 libsqlite3-0 libc6; do
        check "deb Depends on $lib" grep -qE "^Depends:.*\b$lib\b" "$work/control"
    done
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles" 2>/dev/null
    check "conffile /etc/kta/kta.yaml" grep -qx /etc/kta/kta.yaml "$work/conffiles"
    check "conffile every rule file" test "$(grep -c '^/etc/kta/rules/' "$work/conffiles")" -eq \
        "$(cd "$root/rules" && find . -type f | wc -l)"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst >"$work/postinst" 2>/dev/null
    check "postinst reloads systemd" has "systemctl daemon-reload" "$work/postinst"
    check "postinst does not start kta" bash -c "! grep -vE '^ *#|echo' '$work/postinst' | grep -qE 'systemctl (enable|start|restart)'"
    dpkg-deb -x "$deb" "$work/deb"
    check "deb binary runs" bash -c "'$work/deb/usr/bin/kta' --version | grep -q '^kta $version\$'"
    check "deb unit names /usr/bin/kta" has "ExecStart=/usr/bin/kta run -c /etc/kta/kta.yaml" \
        "$work/deb/lib/systemd/system/kta.service"
else
    echo "skip: dpkg-deb / dpkg-shlibdeps not installed (dpkg-dev)"; skip=$((skip + 1))
fi

echo "install: $pass passed, $fail failed$( ((skip)) && echo ", $skip skipped")"
[[ $fail -eq 0 ]]
