#!/usr/bin/env bash
# check-deps.sh — dependencies point one way: no two source files use each other's symbols, no type name has two meanings.
#
# usage: scripts/check-deps.sh BUILD_DIR [ALLOW_FILE]
#
# 1. Reads every object under BUILD_DIR/src with nm: the global symbols it
#    defines (functions and data) and the ones it leaves undefined. A file A
#    depends on B when A's object needs a symbol B's object defines. Every
#    pair of files that depend on each other is printed as "a.c <-> b.c".
# 2. Scans the typedefs (and struct/union/enum tags) of src/ and include/:
#    a name defined in two files with different text is printed as
#    "type NAME: file1 / file2"; the same text twice is only a warning.
#
# Pairs and type names listed in ALLOW_FILE (default scripts/deps-allow.txt;
# one "a.c <-> b.c" or "type NAME" per line, '#' comments) are reported as
# "allowed" and do not fail the check; an allowed entry that no longer occurs
# is reported as "stale" (delete it). Exit 1 on any finding not allowed.
set -u
BUILD=${1:?usage: check-deps.sh BUILD_DIR [ALLOW_FILE]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALLOW=${2:-$ROOT/scripts/deps-allow.txt}
NM=${NM:-nm}

[ -d "$BUILD/src" ] || { echo "check-deps: $BUILD/src: no such directory (build first)" >&2; exit 2; }
command -v "$NM" >/dev/null || { echo "check-deps: $NM not found" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "D|U <source file> <symbol>" for every object. The source of
# BUILD/src/x/y.o is src/x/y.c, or src/x/y.cu for CUDA objects.
n_obj=0
while IFS= read -r obj; do
    rel=${obj#"$BUILD"/}
    src=${rel%.o}.c
    [ -f "$ROOT/$src" ] || src=${rel%.o}.cu
    [ -f "$ROOT/$src" ] || continue # stale object of a deleted source
    "$NM" -g "$obj" 2>/dev/null | awk -v f="$src" '
        NF == 2 && $1 == "U" { print "U", f, $2; next }
        NF == 3 && $2 !~ /^[Uvw]$/ { print "D", f, $3 }' >>"$tmp/syms"
    n_obj=$((n_obj + 1))
done < <(find "$BUILD/src" -name '*.o' | sort)
[ "$n_obj" -gt 0 ] || { echo "check-deps: no objects under $BUILD/src (build first)" >&2; exit 2; }

# Edges "user definer", then the pairs that go both ways (sorted names).
awk '$1 == "D" { def[$3] = $2; next }
     $1 == "U" { use[n] = $2; sym[n] = $3; n++ }
     END { for (i = 0; i < n; i++) if ((sym[i] in def) && def[sym[i]] != use[i]) print use[i], def[sym[i]] }' \
    "$tmp/syms" 2>/dev/null | sort -u >"$tmp/edges"
awk '{ e[$1 " " $2] = 1 }
     END { for (k in e) { split(k, a, " "); if (a[1] < a[2] && ((a[2] " " a[1]) in e)) print a[1] " <-> " a[2] } }' \
    "$tmp/edges" | sort >"$tmp/pairs"

# Typedef names and struct/union/enum tags with their definitions.
python3 - "$ROOT" >"$tmp/types" <<'EOF'
import os, re, sys
root = sys.argv[1]
files = []
for top in ("src", "include"):
    for d, _, names in os.walk(os.path.join(root, top)):
        files += [os.path.join(d, n) for n in names if n.endswith((".h", ".c", ".cuh", ".cu"))]
defs = {}  # name -> {file: normalized text}
def add(name, path, text):
    defs.setdefault(name, {})[os.path.relpath(path, root)] = " ".join(text.split())
for path in sorted(files):
    s = open(path, encoding="utf-8", errors="replace").read()
    s = re.sub(r"/\*.*?\*/", " ", s, flags=re.S)
    s = re.sub(r"//[^\n]*", " ", s)
    s = re.sub(r'"(\\.|[^"\\\n])*"', '""', s)
    s = re.sub(r"^\s*#[^\n]*(\\\n[^\n]*)*", " ", s, flags=re.M)
    i = 0
    for m in re.finditer(r"\b(typedef\b|(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{)", s):
        if m.start() < i:
            continue
        # the definition runs to the ';' that ends it, skipping braces
        j, depth = m.start(), 0
        while j < len(s):
            c = s[j]
            if c == "{": depth += 1
            elif c == "}": depth -= 1
            elif c == ";" and depth == 0: break
            j += 1
        text = s[m.start():j + 1]
        if m.group(1) == "typedef":
            i = j + 1
            body = re.sub(r"\{.*\}", "{}", text, flags=re.S) if "{" in text else text
            fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(", body)
            name = fp.group(1) if fp else (re.findall(r"([A-Za-z_]\w*)\s*(\[[^\]]*\]\s*)*;$", body.strip()) or [("",)])[0][0]
            if name: add(name, path, text)
            tag = re.match(r"typedef\s+(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{", text)
            if tag: add(tag.group(1) + " " + tag.group(2), path, text[text.index(tag.group(1)):text.rindex("}") + 1])
        else:
            add(m.group(2) + " " + m.group(3), path, text[:text.rindex("}") + 1] if "}" in text else text)
for name, where in sorted(defs.items()):
    if len(where) < 2: continue
    kind = "same" if len(set(where.values())) == 1 else "differ"
    print(kind, name.replace(" ", ":"), " / ".join(sorted(where)))
EOF
[ $? -eq 0 ] || { echo "check-deps: the type scan failed" >&2; exit 2; }

allowed() { [ -f "$ALLOW" ] && grep -v '^\s*#' "$ALLOW" | grep -qxF -- "$1"; }
bad=0; used=()
while IFS= read -r p; do
    if allowed "$p"; then echo "allowed: $p"; used+=("$p")
    else echo "mutual dependency: $p"; bad=$((bad + 1)); fi
done <"$tmp/pairs"
while read -r kind name where; do
    key="type ${name/:/ }"
    if [ "$kind" = same ]; then echo "warning: $key defined identically in $where"; continue; fi
    if allowed "$key"; then echo "allowed: $key ($where)"; used+=("$key")
    else echo "type defined twice with different meanings: ${name/:/ }: $where"; bad=$((bad + 1)); fi
done <"$tmp/types"
if [ -f "$ALLOW" ]; then
    while IFS= read -r line; do
        [[ -z "${line// }" || "$line" =~ ^[[:space:]]*# ]] && continue
        found=0
        for u in "${used[@]+"${used[@]}"}"; do [ "$u" = "$line" ] && found=1; done
        [ "$found" = 1 ] || echo "stale allow-list entry (no longer occurs; delete it): $line"
    done <"$ALLOW"
fi
echo "check-deps: $n_obj objects, $(wc -l <"$tmp/edges") file dependencies, $(wc -l <"$tmp/pairs") mutual pairs, $bad not allowed"
[ "$bad" -eq 0 ]
