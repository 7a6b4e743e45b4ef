#!/usr/bin/env bash
# Builds the Debian package from a configured build directory and checks it like a user would
# receive it: control fields and dependencies, contents, lintian, an extracted install (shared
# libraries, --version, the example config, the systemd units), every man page rendered without
# warnings, every option of every command documented in a man page and known to the bash
# completion, and the completion scripts' syntax.
#
#   scripts/check-package.sh [--build] BUILD_DIR
#
# BUILD_DIR must be configured with scripts/packaging.cmake included (CPackConfig.cmake exists)
# and MAILVAULT_MAN=ON, and built (the default target builds the man pages too); --build first
# builds only what the package needs (mailvault, the man pages, the changelog). With a built tree
# it takes about half a minute (lintian is the slow part). Exit status 0 when every check
# passed, 1 otherwise (each problem is one line on stderr); 77 (skip) when a tool is missing.
set -uo pipefail

do_build=0
if [ "${1:-}" = --build ]; then
  do_build=1
  shift
fi
build=${1:-}
if [ -z "$build" ] || [ ! -f "$build/CMakeCache.txt" ]; then
  echo "usage: $0 [--build] BUILD_DIR (a configured CMake build directory)" >&2
  exit 2
fi
build=$(cd "$build" && pwd)
if [ ! -f "$build/CPackConfig.cmake" ]; then
  echo "check-package: $build has no CPackConfig.cmake; include scripts/packaging.cmake" >&2
  exit 2
fi
for tool in cpack dpkg-deb dpkg-shlibdeps lintian man scdoc; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-package: $tool is missing; run scripts/install-deps.sh --build --test" >&2
    exit 77
  fi
done
if ! grep -q '^MAILVAULT_MAN:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "check-package: $build has MAILVAULT_MAN off; reconfigure with -DMAILVAULT_MAN=ON" >&2
  exit 2
fi
sanitized=0
if grep -Eq '^MAILVAULT_(SANITIZE|FUZZ):BOOL=ON' "$build/CMakeCache.txt"; then
  # Checked all the same (contents, lintian, pages, units); only its Depends may name the
  # sanitizer runtimes. Such a package is for this check, never for distribution.
  sanitized=1
  echo "check-package: note: sanitizer build; build the .deb to ship from a Release tree" >&2
fi

src=$(cd "$(dirname "$0")/.." && pwd)
failures=0
fail() {
  echo "check-package: FAIL: $*" >&2
  failures=$((failures + 1))
}
ok() { echo "check-package: ok: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. (With --build: build what the package holds.) The .deb (in a private directory: parallel runs are safe).
if [ $do_build = 1 ] &&
  ! cmake --build "$build" --target mailvault mailvault_man mailvault_changelog >"$tmp/build.log" 2>&1; then
  tail -20 "$tmp/build.log" >&2
  fail "cmake --build $build failed"
  exit 1
fi
if [ ! -x "$build/mailvault" ]; then
  fail "$build/mailvault is not built; build the tree first (or pass --build)"
  exit 1
fi
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  fail "cpack -G DEB failed"
  exit 1
fi
deb=$(ls "$tmp"/out/mailvault_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
  fail "cpack made no mailvault_*.deb"
  exit 1
fi
ok "built $(basename "$deb")"

# 2. Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = mailvault ] || fail "Package is '$(field Package)', not mailvault"
[ "$(field Section)" = mail ] || fail "Section is '$(field Section)', not mail"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
version=$(field Version)
for lib in libc6 libssl3 libsqlite3-0 libzstd1 libgmime-3.0-0; do
  case ", $depends," in *", $lib "* | *", $lib,"*) ;; *) fail "Depends lacks $lib: $depends" ;; esac
done
bad='-dev\b|catch2|dovecot|chromium|lintian|scdoc'
[ $sanitized = 1 ] || bad="$bad|libasan|libubsan"
if grep -Eq -- "$bad" <<<"$depends"; then
  fail "Depends has build, test or sanitizer packages: $depends"
fi
ok "control: version $version, depends: $depends"

# 3. Contents.
dpkg -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$tmp/contents"
expected=(
  /usr/bin/mailvault
  /usr/share/bash-completion/completions/mailvault
  /usr/share/zsh/vendor-completions/_mailvault
  /usr/share/fish/vendor_completions.d/mailvault.fish
  /usr/lib/systemd/user/mailvault-sync.service
  /usr/lib/systemd/user/mailvault-sync.timer
  /usr/lib/systemd/user/mailvault-watch.service
  /usr/share/doc/mailvault/copyright
  /usr/share/doc/mailvault/changelog.gz
  /usr/share/doc/mailvault/README.md
  /usr/share/doc/mailvault/archive-format.md
  /usr/share/doc/mailvault/configuration.md
  /usr/share/doc/mailvault/config.example.toml
)
pages=()
for scd in "$src"/docs/man/*.scd; do
  page=$(basename "$scd" .scd)
  section=${page##*.}
  pages+=("$page")
  expected+=("/usr/share/man/man$section/$page.gz")
done
for f in "${expected[@]}"; do
  grep -qxF "$f" "$tmp/contents" || fail "the package lacks $f"
done
ok "contents: ${#expected[@]} expected files present (${#pages[@]} man pages)"

# 4. lintian: errors fail the check; warnings and infos are listed.
lintian --pedantic --display-info "$deb" >"$tmp/lintian" 2>&1
grep -Ev '^N:|running with root privileges' "$tmp/lintian" | sed 's/^/check-package: lintian: /'
if grep -q '^E:' "$tmp/lintian"; then
  fail "lintian reports errors"
else
  ok "lintian: no errors"
fi

# 5. Extract and run what was installed.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
bin=$root/usr/bin/mailvault
if ldd "$bin" | grep -q 'not found'; then
  fail "shared libraries not found: $(ldd "$bin" | grep 'not found' | tr -s ' \n' ' ')"
fi
for lib in $(ldd "$bin" | awk '/=> \// {print $3}'); do
  dpkg -S "$(readlink -f "$lib")" >/dev/null 2>&1 || dpkg -S "$lib" >/dev/null 2>&1 ||
    fail "$lib (needed by mailvault) belongs to no installed package"
done
out=$("$bin" --version 2>&1)
[ "$out" = "mailvault $version" ] || fail "mailvault --version printed '$out', expected 'mailvault $version'"
ok "extracted: $out; every shared library resolves to an installed package"
if ! MAILVAULT_WORK_PASSWORD=x MAILVAULT_ISP_PASSWORD=x HOME=$tmp XDG_CONFIG_HOME='' XDG_DATA_HOME='' \
  "$bin" config check --config "$root/usr/share/doc/mailvault/config.example.toml" >"$tmp/cfg" 2>&1; then
  cat "$tmp/cfg" >&2
  fail "the installed config.example.toml does not pass config check"
else
  ok "config.example.toml passes config check"
fi

# 6. Man pages: each renders, without any groff or man warning.
for page in "${pages[@]}"; do
  section=${page##*.}
  file=$root/usr/share/man/man$section/$page.gz
  [ -f "$file" ] || continue
  if ! LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING='' man --warnings -l "$file" >"$tmp/page" 2>"$tmp/warn"; then
    fail "man -l $page failed: $(head -3 "$tmp/warn")"
  elif [ -s "$tmp/warn" ]; then
    fail "man -l $page warns: $(head -3 "$tmp/warn" | tr '\n' ' ')"
  elif [ "$(wc -l <"$tmp/page")" -lt 10 ]; then
    fail "man -l $page rendered almost nothing"
  fi
  # The roff source, without font changes and hyphen escapes: the text to look options up in.
  zcat "$file" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' >>"$tmp/allpages"
done
ok "man -l: ${#pages[@]} pages render without warnings"

# 7. Every option of every command (from the program's own --help) is in a man page and in the
#    bash completion; every command has its NAME in mailvault(1).
bash_comp=$root/usr/share/bash-completion/completions/mailvault
"$bin" --help | awk '/^Commands:/ {on=1; next} /^$/ {on=0} on && /^  [a-z]/ {
    if ($2 ~ /^[a-z][a-z-]*$/ && $3 != "" && substr($0, 3 + length($1) + 1, 1) != " ") print $1 " " $2; else print $1 }' \
  >"$tmp/commands"
while read -r cmd; do
  grep -q -- "mailvault $cmd" "$tmp/allpages" || fail "command '$cmd' is in no man page's synopsis"
  grep -q -- "${cmd##* }" "$bash_comp" || fail "command '$cmd' is not in the bash completion"
  # shellcheck disable=SC2086
  "$bin" $cmd --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]+' | sort -u | while read -r opt; do
    grep -q -- "$opt" "$tmp/allpages" || echo "check-package: FAIL: $cmd $opt is in no man page" >&2
    grep -q -- "$opt" "$bash_comp" || echo "check-package: FAIL: $cmd $opt is not in the bash completion" >&2
  done 2>&1 | tee -a "$tmp/optfail" >&2
done <"$tmp/commands"
if [ -s "$tmp/optfail" ]; then
  failures=$((failures + $(wc -l <"$tmp/optfail")))
else
  ok "options of $(wc -l <"$tmp/commands") commands all documented and completed"
fi

# 8. Completion scripts: syntax, and bash completes something real.
bash -n "$bash_comp" || fail "bash completion has a syntax error"
got=$(bash -c 'source "$1"; COMP_WORDS=(mailvault sync --acc); COMP_CWORD=2; _mailvault; echo "${COMPREPLY[*]}"' _ "$bash_comp")
[ "$got" = "--account" ] || fail "bash completion of 'mailvault sync --acc' gave '$got'"
if command -v zsh >/dev/null; then
  zsh -n "$root/usr/share/zsh/vendor-completions/_mailvault" || fail "zsh completion has a syntax error"
fi
if command -v fish >/dev/null; then
  fish -n "$root/usr/share/fish/vendor_completions.d/mailvault.fish" || fail "fish completion has a syntax error"
  got=$(fish -c "source '$root/usr/share/fish/vendor_completions.d/mailvault.fish'; complete -C 'mailvault hold re'" 2>&1)
  grep -q '^release' <<<"$got" || fail "fish completion of 'mailvault hold re' gave '$got'"
fi
ok "completion scripts parse"

# 9. systemd units (ExecStart pointed at the extracted binary; man: references not looked up).
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units" "$tmp/runtime"
  chmod 700 "$tmp/runtime"
  for u in mailvault-sync.service mailvault-sync.timer mailvault-watch.service; do
    sed "s|/usr/bin/mailvault|$bin|" "$root/usr/lib/systemd/user/$u" >"$tmp/units/$u"
  done
  if ! XDG_RUNTIME_DIR=$tmp/runtime systemd-analyze verify --user --man=no \
    "$tmp/units/mailvault-sync.service" "$tmp/units/mailvault-sync.timer" \
    "$tmp/units/mailvault-watch.service" >"$tmp/sa" 2>&1; then
    cat "$tmp/sa" >&2
    fail "systemd-analyze verify rejects the units"
  elif [ -s "$tmp/sa" ]; then
    fail "systemd-analyze verify warns: $(tr '\n' ' ' <"$tmp/sa")"
  else
    ok "systemd-analyze verify: units clean"
  fi
fi

if [ "$failures" -gt 0 ]; then
  echo "check-package: $failures problem(s)" >&2
  exit 1
fi
echo "check-package: all checks passed ($(basename "$deb"))"
