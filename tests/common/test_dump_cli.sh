#!/bin/sh
# ingot-dump end to end on a small dataset: a model trained here with
# spm_train on text generated here, shards made by make-test-dataset.
# usage: test_dump_cli.sh INGOT_DUMP MAKE_TEST_DATASET SPM_TRAIN SPM_ENCODE [FAULT_INJECT_SO]
#        [INGOT_PRETOK]
set -eu
DUMP=$1 MAKE=$2 SPM_TRAIN=${3:-} SPM_ENCODE=${4:-} FAULT_SO=${5:-} PRETOK=${6:-}
if [ -z "$SPM_TRAIN" ] || [ -z "$SPM_ENCODE" ] || [ ! -x "$SPM_TRAIN" ] || [ ! -x "$SPM_ENCODE" ]; then
    echo "spm_train / spm_encode not found: skipping"
    exit 77
fi
case $DUMP in /*) ;; *) DUMP=$PWD/$DUMP ;; esac
case $MAKE in /*) ;; *) MAKE=$PWD/$MAKE ;; esac
case $PRETOK in /*|'') ;; *) PRETOK=$PWD/$PRETOK ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/ingot-dumpcli-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
n_fail=0
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
# expect_rc RC DESCRIPTION -- command...: run, keep stdout in out.txt and
# stderr in err.txt, check the exit status.
expect_rc() {
    want=$1; what=$2; shift 3
    set +e
    "$@" > out.txt 2> err.txt
    rc=$?
    set -e
    [ "$rc" -eq "$want" ] || { fail "$what: exit $rc, expected $want"; cat err.txt; }
}
has() { grep -q -- "$2" "$1" || { fail "$1 lacks '$2'"; echo "--- $1:"; head -20 "$1"; }; }

# 203 lines of words, with blank lines that make-test-dataset skips.
awk 'BEGIN {
    split("the a river mountain runs quietly over stones and light falls on green fields " \
          "where old trees stand near houses children read books under blue sky", w, " ");
    n = length(w); s = 12345;
    for (i = 0; i < 200; i++) {
        if (i % 70 == 69) print "";
        s = (s * 1103515245 + 12345) % 2147483648; k = 3 + s % 11; line = "";
        for (j = 0; j < k; j++) {
            s = (s * 1103515245 + 12345) % 2147483648;
            line = line (j ? " " : "") w[1 + int(s / 65536) % n];
        }
        print line;
    }
}' > corpus.txt
"$SPM_TRAIN" --input=corpus.txt --model_prefix=tok --vocab_size=80 --hard_vocab_limit=false \
    --minloglevel=2 > /dev/null 2>&1
mkdir models && mv tok.model models/
"$MAKE" "$T/models/tok.model" corpus.txt ds --val-every 5 --docs-per-shard 30 > /dev/null

grep -v '^$' corpus.txt > docs.txt
awk 'NR % 5 != 0' docs.txt > train.txt
awk 'NR % 5 == 0' docs.txt > val.txt
cat train.txt val.txt > all.txt
n_train=$(wc -l < train.txt | tr -d ' ')
n_val=$(wc -l < val.txt | tr -d ' ')

# help and usage
expect_rc 0 help -- "$DUMP" --help
has out.txt "ingot-dump COMMAND PATH"
expect_rc 2 "no command" -- "$DUMP"
expect_rc 2 "unknown command" -- "$DUMP" frobnicate ds
has err.txt "unknown command 'frobnicate'"
expect_rc 2 "unknown option" -- "$DUMP" info ds --bogus
# getopt_long as in ingot-pretok and ingot-train: the command in every
# message, the nearest option or command named, "--" before a PATH that
# starts with '-', "--opt=V" (it took "--" for an unknown option, and said
# "unknown command '--cont'" for an option before the command)
has err.txt "^ingot-dump info: unknown option '--bogus' (see ingot-dump info --help)$"
expect_rc 2 "mistyped option" -- "$DUMP" docs ds --cont 2
has err.txt "^ingot-dump docs: unknown option '--cont'; did you mean --count?"
expect_rc 2 "mistyped command" -- "$DUMP" ifno ds
has err.txt "unknown command 'ifno'; did you mean info?"
expect_rc 2 "an option before the command" -- "$DUMP" --json info ds
has err.txt "the command comes first"
expect_rc 2 "a switch with a value" -- "$DUMP" info ds --json=1
has err.txt "^ingot-dump info: --json takes no value"
ln -s ds ./-ds
expect_rc 0 "-- before a PATH" -- "$DUMP" info --brief -- -ds
has out.txt "^dataset  *-ds"
expect_rc 0 "-h after the command" -- "$DUMP" stats -h
has out.txt "ingot-dump COMMAND PATH"
expect_rc 2 "bad split" -- "$DUMP" docs ds --split test
expect_rc 2 "missing path" -- "$DUMP" info
expect_rc 2 "range missing" -- "$DUMP" tokens ds
has err.txt "--range A:B is required"
expect_rc 0 version -- "$DUMP" --version
has out.txt "^ingot-dump [0-9][0-9.]* (git "
has out.txt "^  jansson "
expect_rc 0 "version after a command" -- "$DUMP" info ds --version
has out.txt "^ingot-dump "
# numbers go through cli_num: suffixes, and messages that give the range
expect_rc 2 "count not a number" -- "$DUMP" docs ds --count 1.5k
has err.txt "--count '1.5k': expected an integer >= 0"
expect_rc 2 "count negative" -- "$DUMP" docs ds --count -3
expect_rc 2 "range beyond the selection" -- "$DUMP" tokens ds --range 0:1G
has err.txt "--range"

# info
expect_rc 0 info -- "$DUMP" info ds
has out.txt "^train  *$n_train documents"
has out.txt "^val  *$n_val documents"
has out.txt "train-000000.tok"
has out.txt "val-000000.tok"
has out.txt "skipped: empty 2"
has out.txt "tokenizer  *$T/models/tok.model (unigram)"
# a manifest whose text holds a terminal escape (ESC [2J clears the screen): info
# shows it as '?', never the byte itself
cp -r ds ds-esc
sed 's/"command_line": "/"command_line": "\\u001b[2J/' ds/manifest.json > ds-esc/manifest.json
expect_rc 0 "info of a manifest with ESC" -- "$DUMP" info ds-esc
has out.txt '^command  *?\[2J'
if grep -q "$(printf '\033')" out.txt; then fail "info printed the ESC byte"; fi
# ... also in the tokenizer, version and skip reasons it prints
cp -r ds ds-esc2
sed -e 's/"empty": 2$/"\\u001b[2Jempty": 2/' -e 's/"ingot_version": "/&\\u001b[2J/' \
    ds/manifest.json > ds-esc2/manifest.json
expect_rc 0 "info of a manifest with ESC elsewhere" -- "$DUMP" info ds-esc2
has out.txt "skipped: ?\[2Jempty 2"
has out.txt "written by ingot ?\[2J"
if grep -q "$(printf '\033')" out.txt; then fail "info printed the ESC byte"; fi
sed 's/"type": "unigram"/"type": "\\u001b]0;t\\u0007unigram"/' ds/manifest.json > ds-esc2/manifest.json
expect_rc 1 "info of a tokenizer type with ESC" -- "$DUMP" info ds-esc2
has err.txt 'key tokenizer.type: "?]0;t?unigram" is not a tokenizer type: expected unigram, bpe, word, char or unknown'
if grep -q "$(printf '\033')" err.txt; then fail "info printed the ESC byte"; fi
# a shard whose file name holds one is refused by name, the name shown with
# '?' (pretok names shards train-000000.tok; info and verify printed it raw),
# and so is a stray *.tok of such a name in verify's warning
cp -r ds ds-escname
mv ds-escname/train-000000.tok "ds-escname/$(printf 'x\033[2J.tok')"
: > "ds-escname/$(printf 'y\033[2J.tok')"
sed 's/"train-000000.tok"/"x\\u001b[2J.tok"/' ds/manifest.json > ds-escname/manifest.json
expect_rc 1 "info of a shard named with ESC" -- "$DUMP" info ds-escname
has err.txt 'x?\[2J.tok" must be a file name .* without control, format or bidirectional'
expect_rc 1 "verify of a shard named with ESC" -- "$DUMP" verify ds-escname
has err.txt 'shards bad: x?\[2J.tok'
has err.txt 'y?\[2J.tok is not listed'
if grep -q "$(printf '\033')" out.txt err.txt; then fail "info or verify printed the ESC byte"; fi
# ... and so is one holding a C1 control, the 8-bit CSI U+009B (C2 9B in
# UTF-8) that some terminals honour as ESC [ (term_text let it through); a
# stray file of such a name, or with a raw 0x9B byte (not UTF-8), is shown
# with '?' in verify's warning
cp -r ds ds-c1name
mv ds-c1name/train-000000.tok "ds-c1name/$(printf 'x\302\2332J.tok')"
: > "ds-c1name/$(printf 'y\302\2332J.tok')"
: > "ds-c1name/$(printf 'z\2332J.tok')"
sed 's/"train-000000.tok"/"x\\u009b2J.tok"/' ds/manifest.json > ds-c1name/manifest.json
expect_rc 1 "info of a shard named with CSI" -- "$DUMP" info ds-c1name
has err.txt 'x?2J.tok" must be a file name .* without control, format or bidirectional'
expect_rc 1 "verify of a shard named with CSI" -- "$DUMP" verify ds-c1name
has err.txt 'shards bad: x?2J.tok'
has err.txt 'y?2J.tok is not listed'
has err.txt 'z?2J.tok is not listed'
if LC_ALL=C grep -q "$(printf '\233')" out.txt err.txt; then
    fail "info or verify printed the CSI byte"
fi
# repairs and notes (pretok's fixed_*, blank_line, ...) lose no record: counted
# apart from the skipped records (the sum read "5 records skipped or noted")
cp -r ds ds-noted
sed -e 's/"empty": 2$/"empty": 2, "blank_line": 2, "fixed_bom": 1/' \
    -e 's/"skip_examples": \[/"skip_examples": ["corpus.txt:3: blank_line: blank line",/' \
    ds/manifest.json > ds-noted/manifest.json
expect_rc 0 "info of repairs and notes" -- "$DUMP" info ds-noted
has out.txt "^inputs  *1 (.*), 2 records skipped, 3 repaired or noted$"
has out.txt "; skipped: empty 2; noted: blank_line 2, fixed_bom 1$"
has out.txt "^  noted: corpus.txt:3: blank_line: blank line$"
has out.txt "^  skipped: corpus.txt:[0-9]*: empty"
expect_rc 0 "info --json" -- "$DUMP" info ds --json
has out.txt '"kind": "dataset"'
has out.txt '"format": "ingot-dataset"'
has out.txt '"tokens_checksum"\|"tokens": "[0-9a-f]\{16\}"'
PY=$(command -v python3 || true)
if [ -n "$PY" ]; then
    "$PY" -c 'import json,sys; d=json.load(open("out.txt")); assert d["kind"]=="dataset"; assert len(d["shards"])==len(d["manifest"]["shards"])>=4, d' \
        || fail "info --json is not the expected JSON"
fi
# --list N cuts the lists and says how many more; --brief gives totals only
n_shards=$(ls ds/*.tok | wc -l | tr -d ' ')
expect_rc 0 "info --list 1" -- "$DUMP" info ds --list 1
has out.txt "train-000000.tok"
has out.txt "\.\.\. and $((n_shards - 1)) more shards"
grep -q "val-000000.tok" out.txt && fail "info --list 1 lists a second shard"
expect_rc 0 "info --brief" -- "$DUMP" info ds --brief
has out.txt "^train  *$n_train documents"
has out.txt "^shards  *$n_shards ("
grep -q "\.tok" out.txt && fail "info --brief lists shards"
expect_rc 0 "info --brief --json" -- "$DUMP" info ds --brief --json
if [ -n "$PY" ]; then
    "$PY" -c 'import json,sys; d=json.load(open("out.txt")); m=d["manifest"]; assert "shards" not in d and m["shards"]==int(sys.argv[1]) and m["inputs"]==1, d' "$n_shards" \
        || fail "info --brief --json: lists not replaced by counts"
fi
expect_rc 2 "--brief elsewhere" -- "$DUMP" docs ds --brief
# --brief reads the manifest alone, no shard (it opened and checked every
# shard's header, most of the time at 40,000 shards): a shard that cannot be
# opened (here a FIFO, which would also hold a plain open) leaves it be,
# while the full info still reports it
cp -r ds ds-brief
rm ds-brief/val-000000.tok
mkfifo ds-brief/val-000000.tok
for args in "--brief" "--brief --json"; do
    expect_rc 0 "info $args of a dataset with a FIFO for a shard" -- \
        timeout 20 "$DUMP" info ds-brief $args
    has out.txt "ds-brief"
done
has out.txt '"shards": '"$n_shards"
expect_rc 0 "info --brief of a dataset with a FIFO for a shard" -- "$DUMP" info ds-brief --brief
has out.txt "^shards  *$n_shards ($((n_shards - 2)) train, 2 val)$"
expect_rc 1 "info of a dataset with a FIFO for a shard" -- timeout 20 "$DUMP" info ds-brief
has err.txt "ds-brief/val-000000.tok: is a FIFO"
# ... and opens none at all: fault_inject's 'vanish' removes a matched file
# as it is opened (and says so), so every shard still there was never opened
if [ -n "$FAULT_SO" ] && [ -e "$FAULT_SO" ]; then
    rm ds-brief/val-000000.tok && cp ds/val-000000.tok ds-brief/
    expect_rc 0 "info --brief opens no shard" -- env LD_PRELOAD="$FAULT_SO" \
        INGOT_FAULT_PATH=.tok INGOT_FAULT_OPS=vanish "$DUMP" info ds-brief --brief
    grep -q "removed just before the open" err.txt && fail "info --brief opened a shard"
    [ "$(ls ds-brief/*.tok | wc -l | tr -d ' ')" -eq "$n_shards" ] || fail "a shard went"
    # (the preload sees the opens: the full info loses its first shard)
    expect_rc 1 "info under the vanish preload" -- env LD_PRELOAD="$FAULT_SO" \
        INGOT_FAULT_PATH=.tok INGOT_FAULT_OPS=vanish "$DUMP" info ds-brief
    has err.txt "removed just before the open"
fi
expect_rc 0 "info shard" -- "$DUMP" info ds/val-000000.tok
has out.txt "split  *val"
expect_rc 0 "info shard --json" -- "$DUMP" info ds/train-000001.tok --json
has out.txt '"kind": "shard"'
has out.txt '"shard_seq": 1'

# verify
expect_rc 0 verify -- "$DUMP" verify ds
has out.txt "intact"
has out.txt "ok  train-000000.tok"
# output that cannot be written is an error, not a silent exit 0
if [ -w /dev/full ]; then
    for c in info verify; do
        expect_rc 1 "$c to a full disk" -- sh -c '"$0" "$1" ds > /dev/full' "$DUMP" "$c"
        has err.txt "writing to standard output failed"
    done
    expect_rc 1 "info --json to a full disk" -- sh -c '"$0" info ds --json > /dev/full' "$DUMP"
fi

# standard output closed (>&-): the /dev/null in its place swallowed the
# listing, exit 0; refused (verify's result is its exit status: it runs)
for c in info docs stats; do
    expect_rc 2 "$c with standard output closed" -- sh -c '"$0" "$1" ds >&-' "$DUMP" "$c"
    has err.txt "standard output is closed"
done
expect_rc 0 "verify with standard output closed" -- sh -c '"$0" verify ds >&-' "$DUMP"

# export-bin on a failing disk (tests/common/fault_inject.c preloaded, where
# built): a full disk, and a close that reports a lost write (NFS) -- no file
# under the name, no temporary file, the error named
if [ -n "$FAULT_SO" ] && [ -e "$FAULT_SO" ]; then
    expect_rc 1 "export-bin to a full disk" -- env LD_PRELOAD="$FAULT_SO" \
        INGOT_FAULT_PATH=full.bin INGOT_FAULT_AFTER_BYTES=1000 "$DUMP" export-bin ds --out full.bin
    has err.txt "full.bin.tmp.*: write failed: No space left on device"
    expect_rc 1 "export-bin, EIO at close" -- env LD_PRELOAD="$FAULT_SO" INGOT_FAULT_PATH=full.bin \
        INGOT_FAULT_OPS=close INGOT_FAULT_ERRNO=EIO "$DUMP" export-bin ds --out full.bin
    has err.txt "full.bin.tmp.*: close failed: Input/output error"
    for f in full.bin*; do [ ! -e "$f" ] || fail "export-bin on a failing disk left $f"; done
    # a listing to a full disk ends at its first failed write (the preload
    # stops a program that goes on printing into a failed stdout: exit 99)
    if [ -w /dev/full ]; then
        for args in "docs ds --split all" "docs ds --split all --ids" "tokens ds --range 0:"; do
            expect_rc 1 "$args to a full disk" -- sh -c 'LD_PRELOAD="$0" \
                INGOT_FAULT_STDOUT_AFTER_ERROR=10 exec "$1" $2 > /dev/full' "$FAULT_SO" "$DUMP" \
                "$args"
            has err.txt "writing to standard output failed: No space left on device"
        done
    fi
fi

# docs: text back, ids as spm_encode writes them, dataset order
expect_rc 0 "docs raw all" -- "$DUMP" docs ds --raw --split all
cmp -s out.txt all.txt || fail "docs --raw --split all differs from the input lines"
expect_rc 0 "docs raw default" -- "$DUMP" docs ds --raw
cmp -s out.txt train.txt || fail "docs --raw (default split train) differs from the train lines"
expect_rc 0 "docs ids all" -- "$DUMP" docs ds --ids --split all
"$SPM_ENCODE" --model=models/tok.model --output_format=id < all.txt > want_ids.txt
cmp -s out.txt want_ids.txt || fail "docs --ids differs from spm_encode --output_format=id"
expect_rc 0 "docs ids val" -- "$DUMP" docs ds --ids --split val
"$SPM_ENCODE" --model=models/tok.model --output_format=id < val.txt | cmp -s out.txt - \
    || fail "docs --ids --split val differs from spm_encode"
expect_rc 0 "docs first/count" -- "$DUMP" docs ds --raw --first 29 --count 3
sed -n '30,32p' train.txt | cmp -s out.txt - || fail "docs --first 29 --count 3 (crosses a shard)"
expect_rc 0 "docs count with a suffix" -- "$DUMP" docs ds --raw --count 1k
cmp -s out.txt train.txt || fail "docs --count 1k (more than there are) prints every train document"
expect_rc 0 "docs headers" -- "$DUMP" docs ds --count 2 --split val
has out.txt "^### document 0: val-000000.tok #0, corpus.txt record 5, "
has out.txt "^### document 1: val-000000.tok #1, "
[ "$(sed -n 2p out.txt)" = "$(sed -n 1p val.txt)" ] || fail "first val document text"
expect_rc 2 "docs first beyond" -- "$DUMP" docs ds --first 100000
# a single shard, tokenizer found through the manifest beside it
expect_rc 0 "docs shard" -- "$DUMP" docs ds/val-000000.tok --raw --count 1
[ "$(cat out.txt)" = "$(sed -n 1p val.txt)" ] || fail "docs on a single shard"

# tokenizer lookup: moved into the dataset directory, then gone, then wrong
mv models/tok.model ds/
expect_rc 0 "model in dataset dir" -- "$DUMP" docs ds --raw --count 1
[ "$(cat out.txt)" = "$(sed -n 1p train.txt)" ] || fail "docs with the model found in the dataset dir"
mv ds/tok.model models/tok.hidden
expect_rc 1 "model missing" -- "$DUMP" docs ds --count 1
has err.txt "pass its path explicitly (ingot-dump --model"
expect_rc 0 "model --model" -- "$DUMP" docs ds --raw --count 1 --model models/tok.hidden
[ "$(cat out.txt)" = "$(sed -n 1p train.txt)" ] || fail "docs --model"
# --tokenizer: the name ingot-train and import-bin give the model
expect_rc 0 "model --tokenizer" -- "$DUMP" docs ds --raw --count 1 --tokenizer=models/tok.hidden
[ "$(cat out.txt)" = "$(sed -n 1p train.txt)" ] || fail "docs --tokenizer"
printf 'something else entirely\n%.0s' 1 2 3 4 5 6 7 8 > other.txt
"$SPM_TRAIN" --input=other.txt --model_prefix=other --vocab_size=20 --hard_vocab_limit=false \
    --minloglevel=2 > /dev/null 2>&1
expect_rc 1 "wrong model" -- "$DUMP" docs ds --count 1 --model other.model
has err.txt "not the model the dataset was made with"
# ids need no model; tokens print without pieces
expect_rc 0 "ids without model" -- "$DUMP" docs ds --ids --count 1
[ "$(cat out.txt)" = "$(head -1 want_ids.txt)" ] || fail "docs --ids without a model"
expect_rc 0 "tokens without model" -- "$DUMP" tokens ds --range 0:2
has err.txt "no pieces shown"
has out.txt "^0 1 - 0 train-000000.tok$"
mv models/tok.hidden models/tok.model

# tokens
expect_rc 0 tokens -- "$DUMP" tokens ds --range 0:5
[ "$(wc -l < out.txt | tr -d ' ')" -eq 6 ] || fail "tokens --range 0:5 prints 5 tokens and a header"
has out.txt "^0 1 <s> 0 train-000000.tok$"
first_ids=$(head -1 want_ids.txt | cut -d' ' -f1-4)
got_ids=$(sed -n '3,6p' out.txt | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')
[ "$got_ids" = "$first_ids" ] || fail "tokens 1..4 are '$got_ids', expected '$first_ids'"
expect_rc 0 "tokens open range" -- "$DUMP" tokens ds --split val --range 3:
has out.txt "</s> $((n_val - 1)) val-000001.tok$"
expect_rc 2 "tokens bad range" -- "$DUMP" tokens ds --range 5:2

# stats
expect_rc 0 stats -- "$DUMP" stats ds --split all --top 5
has out.txt "^documents  *$((n_train + n_val))$"
has out.txt "^unk share"
has out.txt "^bos tokens  *$((n_train + n_val))$"
has out.txt "<s>$"
has out.txt "document length  mean"
expect_rc 0 "stats shard" -- "$DUMP" stats ds/train-000001.tok
has out.txt "^documents  *30$"
has out.txt "^selection  *shard: 1 shard$"
# an empty selection has no figures: exit 1 as export-bin (stats printed "unk
# share 0.0000%" and "distinct ids 0 of 1", exit 0)
expect_rc 1 "stats of a shard outside --split" -- "$DUMP" stats ds/train-000001.tok --split val
[ -s out.txt ] && fail "stats of an empty selection printed: $(head -3 out.txt)"
has err.txt "^ingot-dump stats: ds/train-000001.tok: a train shard, not in --split val: nothing to count (--split train or all selects it)$"
expect_rc 1 "export-bin of a shard outside --split" -- "$DUMP" export-bin ds/train-000001.tok \
    --split val --out e.bin
has err.txt "^ingot-dump export-bin: ds/train-000001.tok: a train shard, not in --split val: nothing to export"
[ ! -e e.bin ] || fail "export-bin of an empty selection wrote e.bin"
"$MAKE" "$T/models/tok.model" corpus.txt dsnoval --docs-per-shard 100 > /dev/null
expect_rc 1 "stats of a dataset without val shards" -- "$DUMP" stats dsnoval --split val
[ -s out.txt ] && fail "stats of a dataset without val shards printed: $(head -3 out.txt)"
has err.txt "^ingot-dump stats: dsnoval: no val shard: nothing to count$"
expect_rc 0 "stats of its train shards" -- "$DUMP" stats dsnoval
has out.txt "^documents  *$((n_train + n_val))$"

# export-bin's hint of the import-bin command that reads the file back names
# the model whenever the manifest names one (a lone shard beside its manifest
# got --vocab N: a dataset that nothing decodes), its path joined with one
# '/' (DIR/ gave DIR//tokenizer.model)
cp -r ds dsrel
sed 's|"file": "[^"]*\.model"|"file": "tokenizer.model"|' ds/manifest.json > dsrel/manifest.json
cp models/tok.model dsrel/tokenizer.model
expect_rc 0 "export-bin of a shard beside its manifest" -- "$DUMP" export-bin dsrel/train-000000.tok \
    --out h.bin
has err.txt "back in: ingot-pretok import-bin --format llmc --tokenizer dsrel/tokenizer.model --eot 1$"
expect_rc 0 "export-bin of DIR/" -- "$DUMP" export-bin ./dsrel/ --out h.bin
has err.txt "back in: ingot-pretok import-bin --format llmc --tokenizer \./dsrel/tokenizer.model --eot 1$"
grep -q "//" err.txt && fail "export-bin's hint doubles a '/': $(cat err.txt)"
# ... the model given to pretok (an absolute tokenizer.file, no copy)
expect_rc 0 "export-bin of a shard, the model outside" -- "$DUMP" export-bin ds/train-000000.tok \
    --out h.bin
has err.txt "back in: ingot-pretok import-bin --format llmc --tokenizer $T/models/tok.model --eot 1$"
rm -f h.bin

# --out: only a regular file is replaced, by its name. A symbolic link was
# replaced by a regular file (as root, --out /dev/stdout replaced /dev/stdout
# and exited 0); nothing under /dev or /proc; the user's --out named, not the
# temporary file alone
ln -s target.bin lnk.bin
expect_rc 2 "export-bin --out a symbolic link" -- "$DUMP" export-bin ds --out lnk.bin
has err.txt "^ingot-dump export-bin: --out lnk.bin: is a symbolic link (to target.bin); export-bin renames"
[ -L lnk.bin ] || fail "export-bin replaced the symbolic link lnk.bin"
[ ! -e target.bin ] || fail "export-bin wrote through the symbolic link"
ln -s /dev/null null.bin
expect_rc 2 "export-bin --out a link to /dev/null" -- "$DUMP" export-bin ds --out null.bin
[ -L null.bin ] || fail "export-bin replaced the symbolic link null.bin"
expect_rc 2 "export-bin --out /dev/null" -- "$DUMP" export-bin ds --out /dev/null
has err.txt "^ingot-dump export-bin: --out /dev/null: is a character device, not a regular file"
[ -c /dev/null ] || fail "export-bin replaced /dev/null"
devname=/dev/ingot-dump-test-$$.bin
expect_rc 2 "export-bin --out a new name in /dev" -- "$DUMP" export-bin ds --out "$devname"
has err.txt "^ingot-dump export-bin: --out $devname: in /dev, whose entries are devices"
if [ -e "$devname" ]; then fail "export-bin wrote $devname"; rm -f "$devname"; fi
expect_rc 2 "export-bin --out under /proc" -- "$DUMP" export-bin ds --out /proc/self/x.bin
has err.txt "^ingot-dump export-bin: --out /proc/self/x.bin: in /proc"
mkfifo fifo.bin
expect_rc 2 "export-bin --out a FIFO" -- timeout 20 "$DUMP" export-bin ds --out fifo.bin
has err.txt "^ingot-dump export-bin: --out fifo.bin: is a FIFO (named pipe), not a regular file"
[ -p fifo.bin ] || fail "export-bin replaced the FIFO"
expect_rc 2 "export-bin --out DIR/" -- "$DUMP" export-bin ds --out x.bin/
has err.txt "^ingot-dump export-bin: --out x.bin/: ends with '/', a directory; give the file"
expect_rc 1 "export-bin --out in a missing directory" -- "$DUMP" export-bin ds --out nodir/x.bin
has err.txt "^ingot-dump export-bin: --out nodir/x.bin: cannot create its temporary file nodir/x.bin\.tmp\.[0-9]*: No such file or directory"
# --out -: standard output (a pipe or a file the shell opened), the same bytes
expect_rc 0 "export-bin --out -" -- "$DUMP" export-bin ds --out -
mv out.txt std.bin
has err.txt "^ingot-dump export-bin: standard output: [0-9]* tokens of"
expect_rc 0 "export-bin --out FILE" -- "$DUMP" export-bin ds --out file.bin --quiet
cmp -s std.bin file.bin || fail "export-bin --out - differs from --out FILE"
expect_rc 0 "export-bin --out - --format nanogpt" -- "$DUMP" export-bin ds --out - --format nanogpt
[ "$(wc -c < out.txt | tr -d ' ')" -eq $(($(wc -c < file.bin | tr -d ' ') - 1024)) ] \
    || fail "export-bin --out - --format nanogpt: not the tokens of the llm.c file"
rm -f std.bin file.bin

# A dataset imported by id (ingot-pretok import-bin --vocab: tokenizer hash 0)
# takes a --model of its vocabulary's size, saying it could not be checked
# (docs asked for --model, then refused every model: "differs from the
# 0000000000000000"); one of another size is refused
if [ -n "$PRETOK" ] && [ -x "$PRETOK" ]; then
    vocab=$("$DUMP" info ds/train-000000.tok | awk '/^tokenizer/ { sub(",", "", $4); print $4 }')
    "$DUMP" export-bin ds --format nanogpt --out ids.bin --quiet
    "$PRETOK" import-bin --format nanogpt --vocab "$vocab" --eot 1 --eot-position before \
        --out impv ids.bin --quiet
    expect_rc 2 "docs of an import by id" -- "$DUMP" docs impv
    has err.txt "^ingot-dump docs: impv: the dataset records no tokenizer model (made by import-bin --vocab, ids only); pass the SentencePiece model of its $vocab ids with --model M"
    expect_rc 0 "docs of an import by id, --model" -- "$DUMP" docs impv --raw --model models/tok.model
    cmp -s out.txt train.txt || fail "docs of an import by id with --model: not the train text"
    has err.txt "^ingot-dump: note: impv records no tokenizer (ids only, made by import-bin --vocab): models/tok.model could not be checked against the shards, only its size ($vocab pieces)"
    expect_rc 0 "docs of an imported shard, --model" -- "$DUMP" docs impv/train-000000.tok --raw \
        --count 1 --model models/tok.model
    [ "$(cat out.txt)" = "$(sed -n 1p train.txt)" ] || fail "docs of an imported shard with --model"
    expect_rc 2 "docs of an imported shard" -- "$DUMP" docs impv/train-000000.tok
    has err.txt "impv/train-000000.tok: the shard records no tokenizer model"
    expect_rc 0 "tokens of an import by id, --model" -- "$DUMP" tokens impv --range 0:1 \
        --model models/tok.model
    has out.txt "^0 1 <s> 0 train-000000.tok$"
    expect_rc 0 "stats of an import by id, --model" -- "$DUMP" stats impv --top 1 --model models/tok.model
    has out.txt "<s>$"
    expect_rc 1 "docs of an import by id, a model of another size" -- \
        "$DUMP" docs impv --model other.model
    has err.txt "^ingot-dump docs: other.model: a vocabulary of [0-9]* pieces, but the shards of impv have vocab_size $vocab: not a model of these ids"
    [ -s out.txt ] && fail "docs with a model of another size printed: $(head -3 out.txt)"
    expect_rc 1 "tokens of an import by id, a model of another size" -- \
        "$DUMP" tokens impv --range 0:1 --model other.model
    has err.txt "a vocabulary of [0-9]* pieces, but the shards of impv have vocab_size $vocab"
    rm -rf impv ids.bin
else
    echo "ingot-pretok not given: a dataset imported by id not checked"
fi

# --quiet (verify, stats, export-bin): no progress lines, no export summary;
# results, problems and errors still printed (it was refused as unknown)
expect_rc 0 "verify --quiet" -- "$DUMP" verify ds --quiet
grep -q "^ok  " out.txt && fail "verify --quiet printed an ok line per shard"
has out.txt "^ds: intact ($n_shards shards, "
cp -r ds dsq
printf '\377' | dd of=dsq/train-000001.tok bs=1 seek=4200 conv=notrunc 2> /dev/null
expect_rc 1 "verify --quiet of a corrupt shard" -- "$DUMP" verify dsq --quiet
[ -s out.txt ] && fail "verify --quiet of a corrupt shard printed to stdout: $(head -3 out.txt)"
has err.txt "dsq/train-000001.tok: field tokens_checksum"
has err.txt "verify: dsq: 1 of $n_shards shards bad: train-000001.tok"
expect_rc 0 "export-bin --quiet" -- "$DUMP" export-bin ds --out q.bin --quiet
[ -s err.txt ] && fail "export-bin --quiet printed: $(cat err.txt)"
[ -s q.bin ] || fail "export-bin --quiet wrote no q.bin"
expect_rc 0 "export-bin" -- "$DUMP" export-bin ds --out q2.bin
has err.txt "^ingot-dump export-bin: q2.bin: [0-9]* tokens of"
cmp -s q.bin q2.bin || fail "export-bin --quiet wrote another file"
rm -f q.bin q2.bin
for c in info docs tokens; do
    expect_rc 2 "$c --quiet" -- "$DUMP" $c ds --quiet
    has err.txt "^ingot-dump $c: --quiet is only for verify, stats and export-bin"
done
# every option outside its commands is refused, naming them (info --count 5
# and verify --top 5 were taken in silence: session 26's sweep)
expect_rc 2 "info --count" -- "$DUMP" info ds --count 5
has err.txt "^ingot-dump info: --count is only for docs"
expect_rc 2 "verify --top" -- "$DUMP" verify ds --top 5
has err.txt "^ingot-dump verify: --top is only for stats"
expect_rc 2 "export-bin --model" -- "$DUMP" export-bin ds --out m.bin --tokenizer x.model
has err.txt "^ingot-dump export-bin: --model is only for docs, tokens and stats"
[ -e m.bin ] && fail "export-bin --model wrote m.bin"
expect_rc 2 "verify --split" -- "$DUMP" verify ds --split val
has err.txt "^ingot-dump verify: --split is only for docs, tokens, stats and export-bin"
expect_rc 2 "stats --first" -- "$DUMP" stats ds --first 1
has err.txt "^ingot-dump stats: --first is only for docs"
# stats' progress line (every 10 s; in a test build INGOT_DUMP_TEST_PROGRESS_MS
# sets the interval, 0: after every shard) and none with --quiet
if "$DUMP" --version | grep -q "test hooks: compiled in"; then
    expect_rc 0 "stats progress" -- env INGOT_DUMP_TEST_PROGRESS_MS=0 "$DUMP" stats ds --split all
    has err.txt "^ingot-dump stats: 1 of $n_shards shards, [0-9]* of [0-9]* tokens"
    expect_rc 0 "stats --quiet" -- env INGOT_DUMP_TEST_PROGRESS_MS=0 \
        "$DUMP" stats ds --split all --quiet
    [ -s err.txt ] && fail "stats --quiet printed progress: $(head -3 err.txt)"
    has out.txt "^documents  *$((n_train + n_val))$"
    has out.txt "^top 20 tokens"
else
    echo "ingot-dump built without -Dtest_hooks=true: stats progress not checked"
fi
# --version after any subcommand (and its options): the version line, exit 0
for c in info verify docs tokens stats export-bin; do
    expect_rc 0 "$c --version" -- "$DUMP" $c ds --quiet --version
    has out.txt "^ingot-dump [0-9][0-9.]* (git "
    expect_rc 0 "$c --version, no PATH" -- "$DUMP" $c --version
    has out.txt "^ingot-dump [0-9][0-9.]* (git "
done

# errors: missing, not a shard, newer version, corrupt bytes
expect_rc 1 missing -- "$DUMP" info nonexistent.tok
has err.txt "nonexistent.tok: No such file or directory"
expect_rc 1 "not a shard" -- "$DUMP" info corpus.txt
has err.txt "corpus.txt: field magic: not an Ingot shard"
mkdir empty
expect_rc 1 "no manifest" -- "$DUMP" verify empty
has err.txt "no manifest.json"
# export-bin of a shard whose ids pass its vocabulary (a buggy writer: checksums hold)
mkdir -p vsmall
cp ds/train-000000.tok vsmall/
"$MAKE" --set-vocab vsmall/train-000000.tok 3
expect_rc 1 "export-bin ids past the vocabulary" -- "$DUMP" export-bin vsmall/train-000000.tok \
    --out vsmall.bin
has err.txt "beyond the vocabulary"
[ ! -e vsmall.bin ] || fail "export-bin left vsmall.bin"
# a training run's --ckpt-dir or checkpoint given for PATH: said as such ("no
# manifest.json; is this a dataset?" and "not an Ingot shard" left it to guess)
mkdir -p ckd
printf 'INGOTCKP%4088s' '' > ckd/ckpt-00000001.bin
expect_rc 1 "info on a --ckpt-dir" -- "$DUMP" info ckd
has err.txt "ckd: a training run's --ckpt-dir (checkpoints, ckpt-\*.bin), not a dataset"
expect_rc 1 "verify on a checkpoint" -- "$DUMP" verify ckd/ckpt-00000001.bin
has err.txt "ckd/ckpt-00000001.bin: an ingot-train checkpoint, not a shard: .*ingot-train export"
# tokens and stats show such ids as what they are, and exit 1 (tokens printed
# "-", the piece "-"; stats left them out and exited 0)
expect_rc 1 "tokens ids past the vocabulary" -- "$DUMP" tokens vsmall/train-000000.tok --range 0:
has out.txt "^[0-9]* [0-9]* <out-of-vocab> "
has err.txt "token ids are outside the vocabulary of 3 ids (the first: id [0-9]* at position [0-9]*, in vsmall/train-000000.tok)"
expect_rc 1 "stats ids past the vocabulary" -- "$DUMP" stats vsmall/train-000000.tok
has out.txt "^out-of-vocab ids [1-9][0-9]* (<out-of-vocab>)"
has err.txt "ingot-dump verify checks every shard"
# ... and so does docs (it printed them, exit 0): --ids as stored, the text
# with <out-of-vocab> for each, then the same error
expect_rc 1 "docs --ids ids past the vocabulary" -- "$DUMP" docs vsmall/train-000000.tok --ids \
    --count 2
[ "$(cat out.txt)" = "$(head -2 want_ids.txt)" ] || fail "docs --ids of ids past the vocabulary: not the ids stored"
has err.txt "^ingot-dump docs: [0-9]* token ids are outside the vocabulary of 3 ids (the first: id [0-9]* at position 1, in vsmall/train-000000.tok)"
expect_rc 1 "docs ids past the vocabulary" -- "$DUMP" docs vsmall/train-000000.tok --raw --count 1 \
    --model models/tok.model
n_ids=$(head -1 want_ids.txt | wc -w | tr -d ' ')
[ "$(cat out.txt)" = "$(printf '<out-of-vocab>%.0s' $(seq "$n_ids"))" ] \
    || fail "docs of ids past the vocabulary: $(head -c 200 out.txt)"
has err.txt "^ingot-dump docs: [0-9]* token ids are outside the vocabulary of 3 ids"
# ... some of them: the text of the others decoded around them
cp ds/train-000000.tok vsmall/mid.tok
"$MAKE" --set-vocab vsmall/mid.tok 20
expect_rc 1 "docs some ids past the vocabulary" -- "$DUMP" docs vsmall/mid.tok --raw \
    --model models/tok.model
has out.txt "<out-of-vocab>"
has out.txt "[a-z]"
has err.txt "outside the vocabulary of 20 ids"
expect_rc 0 "docs --ids of in-vocabulary documents" -- "$DUMP" docs ds/train-000000.tok --ids
cp ds/val-000000.tok newer.tok
"$MAKE" --set-version newer.tok 2
expect_rc 1 "newer version" -- "$DUMP" info newer.tok
has err.txt "newer.tok: field version: format version 2 was written by a newer Ingot"
cp -r ds bad
printf '\377' | dd of=bad/train-000001.tok bs=1 seek=4200 conv=notrunc 2> /dev/null
expect_rc 0 "info of a dataset with a corrupt token" -- "$DUMP" info bad
expect_rc 1 "verify corrupt token" -- "$DUMP" verify bad
has err.txt "bad/train-000001.tok: field tokens_checksum"
cp ds/train-000001.tok bad/
printf '\001' | dd of=bad/val-000000.tok bs=1 seek=64 conv=notrunc 2> /dev/null
expect_rc 1 "verify corrupt header" -- "$DUMP" verify bad
has err.txt "bad/val-000000.tok: field header_checksum"
cp ds/val-000000.tok bad/
sz=$(wc -c < bad/train-000000.tok)
head -c $((sz - 3)) ds/train-000000.tok > bad/train-000000.tok
expect_rc 1 "verify truncated" -- "$DUMP" verify bad
has err.txt "bad/train-000000.tok: field file_size: file is $((sz - 3)) bytes"
cp ds/train-000000.tok bad/
# Every shard is checked whatever the others are: a corrupt one, a truncated
# one and a missing one are each named on a line, the intact ones listed
# "ok", and the summary counts them (one run finds them all).
printf '\377' | dd of=bad/train-000001.tok bs=1 seek=4200 conv=notrunc 2> /dev/null
head -c $((sz - 3)) ds/train-000000.tok > bad/train-000000.tok
rm bad/val-000001.tok
expect_rc 1 "verify three bad shards" -- "$DUMP" verify bad
has err.txt "bad/train-000001.tok: field tokens_checksum"
has err.txt "bad/train-000000.tok: field file_size: file is $((sz - 3)) bytes"
has err.txt "bad/val-000001.tok: cannot open shard: No such file"
has err.txt "verify: bad: 3 of $n_shards shards bad: "
for f in train-000000.tok train-000001.tok val-000001.tok; do
    grep "shards bad: " err.txt | grep -q "$f" || fail "the summary does not name $f"
    grep -q "^ok  $f" out.txt && fail "$f is listed ok"
done
[ "$(grep -c '^ok  ' out.txt)" -eq $((n_shards - 3)) ] || fail "not every intact shard listed ok"
has out.txt "^ok  val-000000.tok  val, "
has out.txt "^ok  train-000002.tok  train, "
grep -q intact out.txt && fail "a dataset with bad shards is called intact"
cp ds/train-000000.tok ds/train-000001.tok ds/val-000001.tok bad/
sed 's/"documents": 30,/"documents": 31,/' ds/manifest.json > bad/manifest.json
expect_rc 1 "verify manifest" -- "$DUMP" verify bad
# one more document cannot fit the shard's recorded size: caught on reading
has err.txt "bad/manifest.json: key shards.0..file_size"
cp ds/manifest.json bad/
expect_rc 0 "verify restored" -- "$DUMP" verify bad
# a tokenizer.model that is not the manifest's tokenizer (another model copied
# over it), in a dataset whose manifest names that copy, as pretok writes it
sed 's|"file": "[^"]*\.model"|"file": "tokenizer.model"|' ds/manifest.json > bad/manifest.json
cp models/tok.model bad/tokenizer.model
expect_rc 0 "verify the tokenizer.model copy" -- "$DUMP" verify bad
has out.txt "manifest, tokenizer.model, every checksum verified"
cp other.model bad/tokenizer.model
expect_rc 1 "verify replaced tokenizer" -- "$DUMP" verify bad
has err.txt "bad/tokenizer.model: hash"
has err.txt "does not decode the shards"
expect_rc 1 "docs with the replaced tokenizer" -- "$DUMP" docs bad --count 1
has err.txt "not the model the dataset was made with"
# verify checks the tokenizer the manifest's tokenizer.file names, the one
# docs loads, not a fixed tokenizer.model (they disagreed on a manifest
# edited to name another file: verify called it intact, docs refused it)
sed 's|"file": "[^"]*\.model"|"file": "other.model"|' ds/manifest.json > bad/manifest.json
cp other.model bad/other.model
cp models/tok.model bad/tokenizer.model
expect_rc 1 "verify a manifest naming another model" -- "$DUMP" verify bad
has err.txt "bad/other.model: hash .*tokenizer.file: other.model) does not decode the shards"
has err.txt "also bad: other.model"
expect_rc 1 "docs with a manifest naming another model" -- "$DUMP" docs bad --count 1
has err.txt "bad/other.model: tokenizer hash"
cp models/tok.model bad/other.model
expect_rc 0 "verify a manifest naming another good model" -- "$DUMP" verify bad
has out.txt "manifest, other.model, every checksum verified"
# a stray tokenizer.model beside a manifest that names the model elsewhere
# (the absolute path of the one given to pretok): neither verify nor docs use it
cp ds/manifest.json bad/
rm bad/other.model
cp other.model bad/tokenizer.model
expect_rc 0 "verify a stray tokenizer.model" -- "$DUMP" verify bad
has out.txt "manifest, tok.model, every checksum verified"
expect_rc 0 "docs beside a stray tokenizer.model" -- "$DUMP" docs bad --count 1
if [ -f ds/tokenizer.model ]; then cp ds/tokenizer.model bad/; else rm bad/tokenizer.model; fi
expect_rc 0 "verify tokenizer restored" -- "$DUMP" verify bad
# an older dataset: tokenizer.file is the path given to pretok, relative to
# where it ran, with no copy in the dataset: intact, nothing missing (a
# review found it called bad, naming a tokenizer.model it never had)
rm -f bad/tokenizer.model
sed 's|"file": "[^"]*\.model"|"file": "m.model"|' ds/manifest.json > bad/manifest.json
grep -q '"file": "m.model"' bad/manifest.json || fail "could not make an older manifest"
expect_rc 0 "verify an older dataset without a copy" -- "$DUMP" verify bad
grep -q "tokenizer.model" err.txt && fail "an older dataset: a tokenizer.model is asked for"
has err.txt "key tokenizer.file: m.model (the path given to ingot-pretok) is not found"
# ... and another model of that name where verify runs: read through this working
# directory, not the dataset's damage (it was exit 1; docs passes over it too)
cp other.model m.model
expect_rc 0 "verify an older dataset beside another m.model here" -- "$DUMP" verify bad
has err.txt "key tokenizer.file: m.model (the path given to ingot-pretok) holds another model now"
rm m.model
cp ds/manifest.json bad/
if [ -f ds/tokenizer.model ]; then cp ds/tokenizer.model bad/; fi
cp ds/val-000000.tok bad/stray.tok
expect_rc 0 "verify stray shard" -- "$DUMP" verify bad
has err.txt "stray.tok is not listed in manifest.json"
# a replaced copy (another model) beside the model given to pretok, unchanged:
# docs decodes with that one and says which it passed over and why, and the cp
# that mends it (it refused, where the Python reader took the source); verify
# still calls the copy bad, naming the same fix
cp -r ds stale
sed "s|\"file\": \"[^\"]*\\.model\"|\"file\": \"tokenizer.model\", \"source\": \"$T/models/tok.model\"|" \
    ds/manifest.json > stale/manifest.json
grep -q '"source"' stale/manifest.json || fail "could not add tokenizer.source"
cp other.model stale/tokenizer.model
expect_rc 0 "docs with a replaced copy beside the source" -- "$DUMP" docs stale --raw --count 1
[ "$(cat out.txt)" = "$(sed -n 1p train.txt)" ] || fail "docs with a replaced copy: the text"
has err.txt "note: .*stale/tokenizer.model: tokenizer hash [0-9a-f]*, not the model the dataset was made with"
has err.txt "tokenizer.model: not found; decoding with the model given to ingot-pretok, $T/models/tok.model (tokenizer.source)"
has err.txt "put the copy back: cp $T/models/tok.model stale/tokenizer.model"
expect_rc 0 "docs of a shard with a replaced copy beside the source" -- \
    "$DUMP" docs stale/val-000000.tok --raw --count 1
[ "$(cat out.txt)" = "$(sed -n 1p val.txt)" ] || fail "docs of a shard with a replaced copy"
has err.txt "stale/tokenizer.model: tokenizer hash"
expect_rc 1 "verify a replaced copy beside the source" -- "$DUMP" verify stale
has err.txt "stale/tokenizer.model: hash .*still has that hash .*(cp $T/models/tok.model stale/tokenizer.model)"
# ... and the source changed too: refused, each candidate named with why
cp other.model models/changed.model
sed -i "s|models/tok.model|models/changed.model|" stale/manifest.json
expect_rc 1 "docs with a replaced copy and a changed source" -- "$DUMP" docs stale --count 1
has err.txt "none has the dataset's hash [0-9a-f]*: tried stale/tokenizer.model: tokenizer hash [0-9a-f]*, not the model"
has err.txt "tokenizer.model: not found; $T/models/changed.model (tokenizer.source): tokenizer hash [0-9a-f]*: it has changed since"
has err.txt "pass the model the dataset was made with (ingot-dump --model"
# verify judges the files docs looks at, in docs' order (one lookup,
# dataset_tokenizer_lookup()), with the in-dataset rule on top. Where they
# differed: verify checked only the first readable candidate, so with an
# older manifest's path (outside the dataset) holding another model it
# called a dataset intact whose copy inside (tok.model, the base name)
# docs refused; called a FIFO at that path damage while docs decoded with
# the good copy inside; and took a tokenizer.model in the working directory
# for the dataset's missing one.
cp -r ds olddiff
mkdir oldm
sed "s|\"file\": \"[^\"]*\\.model\"|\"file\": \"$T/oldm/tok.model\"|" ds/manifest.json \
    > olddiff/manifest.json
grep -q "\"file\": \"$T/oldm/tok.model\"" olddiff/manifest.json || fail "could not move tokenizer.file"
cp other.model oldm/tok.model
cp other.model olddiff/tok.model
expect_rc 1 "docs: another model at the old path and in the copy" -- "$DUMP" docs olddiff --count 1
expect_rc 1 "verify: another model at the old path and in the copy" -- "$DUMP" verify olddiff
has err.txt "key tokenizer.file: $T/oldm/tok.model (the path given to ingot-pretok) holds another model now"
has err.txt "olddiff/tok.model: hash [0-9a-f]*, but the manifest's tokenizer is .* does not decode the shards"
has err.txt "also bad: tok.model"
cp models/tok.model olddiff/tok.model
expect_rc 0 "docs: another model at the old path, the copy good" -- "$DUMP" docs olddiff --count 1
expect_rc 0 "verify: another model at the old path, the copy good" -- "$DUMP" verify olddiff
has out.txt "manifest, tok.model, every checksum verified"
rm oldm/tok.model
mkfifo oldm/tok.model
expect_rc 0 "docs: a FIFO at the old path, the copy good" -- timeout 20 "$DUMP" docs olddiff --count 1
has err.txt "passed over $T/oldm/tok.model: is a FIFO"
expect_rc 0 "verify: a FIFO at the old path, the copy good" -- timeout 20 "$DUMP" verify olddiff
has err.txt "key tokenizer.file: $T/oldm/tok.model (the path given to ingot-pretok): is a FIFO"
has out.txt "manifest, tok.model, every checksum verified"
rm oldm/tok.model
cp -r ds nocopy
sed 's|"file": "[^"]*\.model"|"file": "tokenizer.model"|' ds/manifest.json > nocopy/manifest.json
rm -f nocopy/tokenizer.model
cp models/tok.model tokenizer.model
expect_rc 0 "docs: the copy missing, a tokenizer.model here" -- "$DUMP" docs nocopy --count 1
expect_rc 1 "verify: the copy missing, a tokenizer.model here" -- "$DUMP" verify nocopy
has err.txt "nocopy/tokenizer.model: missing: .*; tokenizer.model has that hash (docs and ingot-train decode with it meanwhile): copy it back (cp tokenizer.model nocopy/tokenizer.model)"
rm tokenizer.model
# a tokenizer.file holding an escape sequence and naming a file too big to be
# a model (sparse), then none: every message shows the name with '?'
# (fs_open_regular's messages printed the manifest's path raw)
cp -r ds dsesctok
sed 's|"file": "[^"]*\.model"|"file": "big\\u001b[2J.model"|' ds/manifest.json > dsesctok/manifest.json
grep -q 'big\\u001b' dsesctok/manifest.json || fail "could not name the tokenizer with ESC"
truncate -s 300M "dsesctok/$(printf 'big\033[2J.model')"
expect_rc 1 "docs with a huge tokenizer named with ESC" -- "$DUMP" docs dsesctok --count 1
has err.txt 'big?\[2J.model: .*bytes, more than the'
if grep -q "$(printf '\033')" err.txt; then fail "docs printed the tokenizer path's ESC byte"; fi
expect_rc 1 "verify with a huge tokenizer named with ESC" -- "$DUMP" verify dsesctok
has err.txt 'big?\[2J.model: .*bytes, more than the'
if grep -q "$(printf '\033')" err.txt; then fail "verify printed the tokenizer path's ESC byte"; fi
rm "dsesctok/$(printf 'big\033[2J.model')"
expect_rc 1 "docs with a missing tokenizer named with ESC" -- "$DUMP" docs dsesctok --count 1
has err.txt 'big?\[2J.model'
if grep -q "$(printf '\033')" err.txt; then fail "docs printed the tokenizer path's ESC byte"; fi
# ... nor in export-bin's hint of the import-bin command that reads it back,
# which names the model by its hash when no file has it (it gave the path of
# the missing file)
expect_rc 0 "export-bin with a tokenizer named with ESC" -- "$DUMP" export-bin dsesctok --out esc.bin
has err.txt 'import-bin .*--tokenizer M.model (the model of hash [0-9a-f]* the shards were made with: manifest.json names big?\[2J.model, not found with that hash)'
if grep -q "$(printf '\033')" err.txt; then fail "export-bin printed the tokenizer path's ESC byte"; fi

# A SIGBUS (what a shard truncated under the mapping raises) ends the run
# with exit 1 and a line naming the input, not "Bus error". The process is
# held in a write to a pipe nobody reads, so the signal lands mid-run.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat corpus.txt; done > big.txt
"$MAKE" "$T/models/tok.model" big.txt bigds --docs-per-shard 1000 > /dev/null
# a shard of another dataset copied under a listed name borrows nothing from
# the manifest beside it (its input names, its tokenizer path)
cp -r ds dsx
cp bigds/train-000000.tok dsx/train-000000.tok
expect_rc 2 "foreign shard under a listed name" -- "$DUMP" docs dsx/train-000000.tok --count 1
has err.txt "no manifest.json next to the shard lists it"
expect_rc 0 "the listed shard itself" -- "$DUMP" docs ds/train-000000.tok --count 1
mkfifo hold
"$DUMP" tokens bigds --range 0:20000 > hold 2> bus.txt &
pid=$!
exec 3< hold
sleep 0.5
kill -BUS "$pid"
set +e
wait "$pid"
rc=$?
set -e
exec 3<&-
[ "$rc" -eq 1 ] || fail "SIGBUS: exit $rc, expected 1"
has bus.txt "ingot-dump: bigds: a shard was truncated or rewritten while being read (SIGBUS)"

# export-bin ended by a signal leaves no temporary file. The temporary file
# (FILE.tmp.PID) is made a FIFO beforehand (exec keeps the PID), so that the
# export is held mid-write, with a full pipe, until the signal. A background
# job of this shell starts with SIGINT ignored, which ingot-dump keeps (as
# under nohup): python3 restores the default first, as a terminal has it.
for sig in INT TERM; do
    rm -f ex.bin
    python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
        sh -c 'mkfifo "$1.tmp.$$" && exec "$0" export-bin bigds --out "$1"' "$DUMP" ex.bin \
        2> /dev/null &
    pid=$!
    while [ ! -p "ex.bin.tmp.$pid" ]; do sleep 0.01; done
    exec 3< "ex.bin.tmp.$pid"
    head -c 100 <&3 > /dev/null
    sleep 0.2
    kill -"$sig" "$pid" 2> /dev/null || fail "export-bin of bigds ended before SIG$sig"
    sleep 0.2
    exec 3<&-   # (a signal that was not acted on: the next write fails)
    set +e
    wait "$pid"
    set -e
    [ ! -e "ex.bin.tmp.$pid" ] || fail "export-bin ended by SIG$sig left ex.bin.tmp.$pid"
    [ ! -e ex.bin ] || fail "export-bin ended by SIG$sig left ex.bin"
    rm -f "ex.bin.tmp.$pid"
done
# an ignored SIGINT stays ignored (nohup, background jobs): the export runs on
rm -f ex.bin
sh -c 'mkfifo "$1.tmp.$$" && exec "$0" export-bin bigds --out "$1"' "$DUMP" ex.bin 2> /dev/null &
pid=$!
while [ ! -p "ex.bin.tmp.$pid" ]; do sleep 0.01; done
exec 3< "ex.bin.tmp.$pid"
head -c 100 <&3 > /dev/null
kill -INT "$pid" 2> /dev/null || fail "export-bin of bigds ended before SIGINT"
sleep 0.2
kill -0 "$pid" 2> /dev/null || fail "export-bin with SIGINT ignored ended on SIGINT"
kill -TERM "$pid" 2> /dev/null
exec 3<&-
set +e
wait "$pid"
set -e
rm -f "ex.bin.tmp.$pid" ex.bin

if [ "$n_fail" -ne 0 ]; then
    echo "$n_fail checks failed"
    exit 1
fi
echo ok
