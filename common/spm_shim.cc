// C interface to SentencePiece. The only C++ in Ingot: every entry point
// catches exceptions so none crosses into C.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>

#include "fsutil.h"
#include "ingot_err.h"
#include "ingot_hash.h"
#include "shard_format.h"
#include "spm_encode.h"
#include "spm_shim.h"
#include "term_text.h"

struct ingot_spm {
    sentencepiece::SentencePieceProcessor sp;
    uint64_t hash;
    uint32_t type;
    uint32_t vocab;
    std::string path;   // for messages: the model's path through term_text()
};

namespace {

// Read a protobuf varint at p[*i], bounded by n. False when malformed.
bool read_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *i < n; shift += 7) {
        unsigned char b = p[(*i)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

// Skip the value of the field whose key was just read: a well-formed group
// (wire type 3) through its end tag, as libprotobuf skips an unknown one
// (spm_model.c reads groups the same way, and as deep). False when
// malformed.
bool skip_field(const unsigned char *p, size_t n, size_t *i, uint64_t key, int depth = 0)
{
    uint64_t v;
    switch (key & 7) {
    case 0: return read_varint(p, n, i, &v);
    case 1: if (n - *i < 8) return false; *i += 8; return true;
    case 5: if (n - *i < 4) return false; *i += 4; return true;
    case 2:
        if (!read_varint(p, n, i, &v) || v > n - *i)
            return false;
        *i += (size_t)v;
        return true;
    case 3:
        if (depth >= 64)
            return false;
        for (;;) {
            uint64_t k2;
            if (!read_varint(p, n, i, &k2))
                return false;   // the message ended first
            if ((k2 & 7) == 4)
                return k2 >> 3 == key >> 3;
            if (!skip_field(p, n, i, k2, depth + 1))
                return false;
        }
    default: return false;
    }
}

// What the loader needs from the serialized ModelProto beyond what
// libsentencepiece exposes. Debian's headers do not ship
// sentencepiece_model.pb.h, so the fields are read from the wire format.
struct model_scan {
    uint32_t type = INGOT_TOK_UNIGRAM;  // TrainerSpec.model_type (default UNIGRAM)
    size_t n_pieces = 0;                // ModelProto.pieces (field 1)
    bool trainer = false;               // ModelProto.trainer_spec (field 2)
    bool normalizer = false;            // ModelProto.normalizer_spec (field 3)
};

// Walk the top-level fields to the last byte. False when the bytes are not
// a well-formed message. spm_train writes the pieces first and both specs
// after them, so a model cut short at a piece boundary (which protobuf
// alone reads as a smaller model) has no trainer_spec.
bool scan_model(const std::string &bytes, model_scan *m)
{
    const unsigned char *p = (const unsigned char *)bytes.data();
    size_t n = bytes.size(), i = 0;
    while (i < n) {
        uint64_t key;
        if (!read_varint(p, n, &i, &key))
            return false;
        unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        if (field == 1 && wt == 2)
            m->n_pieces++;
        if (field == 3 && wt == 2)
            m->normalizer = true;
        if (field == 2 && wt == 2) {
            // TrainerSpec.model_type: field 3, enum UNIGRAM=1 BPE=2 WORD=3 CHAR=4.
            uint64_t len;
            if (!read_varint(p, n, &i, &len) || len > n - i)
                return false;
            const unsigned char *q = p + i;
            size_t sub = (size_t)len, j = 0;
            while (j < sub) {
                uint64_t k2, v;
                if (!read_varint(q, sub, &j, &k2))
                    return false;
                if ((k2 >> 3) == 3 && (k2 & 7) == 0) {
                    if (!read_varint(q, sub, &j, &v))
                        return false;
                    m->type = v >= 1 && v <= 4 ? (uint32_t)v : (uint32_t)INGOT_TOK_UNKNOWN;
                } else if (!skip_field(q, sub, &j, k2)) {
                    return false;
                }
            }
            i += sub;
            m->trainer = true;
            continue;
        }
        if (!skip_field(p, n, &i, key))
            return false;
    }
    return true;
}

// The checks a model must pass beyond libsentencepiece's own parse: the
// whole file is one well-formed message with both specs, the vocabulary
// has a sane size, exactly one unknown piece at unk_id, and the special
// ids the model declares are control pieces. Returns 0 or a recorded
// INGOT_E_TOKENIZER naming the file and what is wrong.
int check_model(const ingot_spm *s, const model_scan &m, bool scanned)
{
    const char *path = s->path.c_str();
    const char *hint = "(a file cut short or not a SentencePiece model; copy or train it again)";
    if (!scanned)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: not a well-formed SentencePiece model %s",
                          path, hint);
    if (!m.trainer || !m.normalizer)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: incomplete SentencePiece model: no %s after "
                          "its %zu pieces %s", path, !m.trainer ? "trainer_spec" : "normalizer_spec",
                          m.n_pieces, hint);
    int n = s->sp.GetPieceSize();
    if (n < INGOT_SPM_MIN_VOCAB || n > INGOT_SPM_MAX_VOCAB || (size_t)n != m.n_pieces)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: vocabulary of %d pieces (%zu in the file); "
                          "expected %d to %d %s", path, n, m.n_pieces, INGOT_SPM_MIN_VOCAB,
                          INGOT_SPM_MAX_VOCAB, hint);
    int unk = s->sp.unk_id(), n_unk = 0;
    for (int i = 0; i < n; i++)
        n_unk += s->sp.IsUnknown(i);
    if (unk < 0 || unk >= n || !s->sp.IsUnknown(unk) || n_unk != 1)
        return ingot_fail(INGOT_E_TOKENIZER, "%s: the model must have exactly one unknown "
                          "piece at its unk id (unk id %d, %d unknown pieces) %s", path, unk,
                          n_unk, hint);
    const struct { const char *name; int id; } special[] = {
        { "bos", s->sp.bos_id() }, { "eos", s->sp.eos_id() }, { "pad", s->sp.pad_id() },
    };
    for (const auto &sp : special)
        if (sp.id >= 0 && (sp.id >= n || !s->sp.IsControl(sp.id)))
            return ingot_fail(INGOT_E_TOKENIZER, "%s: %s id %d is not a control piece of the "
                              "model %s", path, sp.name, sp.id, hint);
    return 0;
}

// libsentencepiece's own words through term_text(): its statuses quote
// what they refuse ("<piece> is already defined." names a piece of the
// model, bytes from the file), and an ESC in them reached the terminal.
struct lib_text {
    char buf[512];
    explicit lib_text(const char *s) { term_text(s, buf, sizeof(buf)); }
    explicit lib_text(const sentencepiece::util::Status &st) : lib_text(st.ToString().c_str()) {}
    const char *c_str() const { return buf; }
};

} // namespace

extern "C" int ingot_spm_load(const char *model_path, ingot_spm **out)
{
    *out = nullptr;
    char *buf = nullptr;
    size_t len = 0;
    // A regular file of a sane size, checked before a byte is read (a FIFO
    // does not block, a huge file is not slurped).
    int ret = fs_read_capped(model_path, "SentencePiece model", INGOT_SPM_MAX_MODEL_BYTES, &buf,
                             &len);
    if (ret)
        return ret;
    // The path comes from the command line or a manifest: an escape
    // sequence or a bidi override in it must not reach the terminal.
    char shown[1024];
    term_text(model_path, shown, sizeof(shown));
    ingot_spm *s = nullptr;
    try {
        std::string bytes(buf, len);
        free(buf);
        buf = nullptr;
        s = new ingot_spm();
        s->path = shown;
        s->hash = ingot_xxh3(bytes.data(), bytes.size());
        if (bytes.empty()) {
            delete s;
            return ingot_fail(INGOT_E_TOKENIZER, "%s: empty file, not a SentencePiece model",
                              shown);
        }
        // What the library takes and then crashes on (a piece of 200 KB in
        // its trie builder, a damaged charsmap when normalizing): refused
        // first, by Ingot's own reader.
        if ((ret = spe_model_check(bytes.data(), bytes.size(), shown))) {
            delete s;
            return ret;
        }
        auto st = s->sp.LoadFromSerializedProto(bytes);
        if (!st.ok()) {
            ret = ingot_fail(INGOT_E_TOKENIZER, "%s: not a SentencePiece model: %s", shown,
                             lib_text(st).c_str());
            delete s;
            return ret;
        }
        model_scan m;
        bool scanned = scan_model(bytes, &m);
        if ((ret = check_model(s, m, scanned))) {
            delete s;
            return ret;
        }
        s->vocab = (uint32_t)s->sp.GetPieceSize();
        s->type = m.type;
    } catch (const std::bad_alloc &) {
        free(buf);
        delete s;
        return ingot_oom("the SentencePiece model", len);
    } catch (const std::exception &e) {
        free(buf);
        delete s;
        return ingot_fail(INGOT_E_TOKENIZER, "%s: cannot load: %s", shown,
                          lib_text(e.what()).c_str());
    }
    *out = s;
    return 0;
}

extern "C" void ingot_spm_free(ingot_spm *spm)
{
    delete spm;
}

extern "C" int ingot_spm_encode(const ingot_spm *spm, const char *text, size_t len,
                                uint32_t **ids, size_t *cap, size_t *n_ids)
{
    *n_ids = 0;
    try {
        // One scratch vector per thread: pretok encodes millions of short
        // documents and should not allocate for each.
        static thread_local std::vector<int> tmp;
        tmp.clear();
        auto st = spm->sp.Encode(absl::string_view(text, len), &tmp);
        if (!st.ok())
            return ingot_fail(INGOT_E_TOKENIZER, "%s: encode failed: %s", spm->path.c_str(),
                              lib_text(st).c_str());
        size_t n = tmp.size();
        if (n > *cap || !*ids) {
            size_t nc = n > 16 ? n : 16;
            if (nc < *cap * 2)
                nc = *cap * 2;
            uint32_t *nb = (uint32_t *)realloc(*ids, nc * sizeof(uint32_t));
            if (!nb)
                return ingot_fail(-ENOMEM, "%s: out of memory encoding", spm->path.c_str());
            *ids = nb;
            *cap = nc;
        }
        for (size_t i = 0; i < n; i++) {
            int id = tmp[i];
            if (id < 0 || (uint32_t)id >= spm->vocab)
                return ingot_fail(INGOT_E_TOKENIZER, "%s: encode produced id %d outside the vocab (%u)",
                                  spm->path.c_str(), id, spm->vocab);
            (*ids)[i] = (uint32_t)id;
        }
        *n_ids = n;
        if (tmp.capacity() > ((size_t)16 << 20))   // a huge document's: not kept for good
            std::vector<int>().swap(tmp);
    } catch (const std::bad_alloc &) {
        return ingot_fail(-ENOMEM, "%s: out of memory encoding", spm->path.c_str());
    } catch (const std::exception &e) {
        return ingot_fail(INGOT_E_TOKENIZER, "%s: encode failed: %s", spm->path.c_str(),
                          lib_text(e.what()).c_str());
    }
    return 0;
}

extern "C" int ingot_spm_decode(const ingot_spm *spm, const uint32_t *ids, size_t n_ids,
                                char **text, size_t *len)
{
    *text = nullptr;
    if (len)
        *len = 0;
    try {
        std::vector<int> v(n_ids);
        for (size_t i = 0; i < n_ids; i++) {
            if (ids[i] >= spm->vocab)
                return ingot_fail(INGOT_E_TOKENIZER,
                                  "%s: cannot decode id %u: not below the vocab size %u",
                                  spm->path.c_str(), ids[i], spm->vocab);
            v[i] = (int)ids[i];
        }
        std::string out;
        auto st = spm->sp.Decode(v, &out);
        if (!st.ok())
            return ingot_fail(INGOT_E_TOKENIZER, "%s: decode failed: %s", spm->path.c_str(),
                              lib_text(st).c_str());
        char *t = (char *)malloc(out.size() + 1);
        if (!t)
            return ingot_fail(-ENOMEM, "%s: out of memory decoding", spm->path.c_str());
        memcpy(t, out.data(), out.size());
        t[out.size()] = '\0';
        *text = t;
        if (len)
            *len = out.size();
    } catch (const std::bad_alloc &) {
        return ingot_fail(-ENOMEM, "%s: out of memory decoding", spm->path.c_str());
    } catch (const std::exception &e) {
        return ingot_fail(INGOT_E_TOKENIZER, "%s: decode failed: %s", spm->path.c_str(),
                          lib_text(e.what()).c_str());
    }
    return 0;
}

extern "C" uint32_t ingot_spm_vocab_size(const ingot_spm *spm)
{
    return spm->vocab;
}

extern "C" int32_t ingot_spm_bos_id(const ingot_spm *spm)
{
    return spm->sp.bos_id();
}

extern "C" int32_t ingot_spm_eos_id(const ingot_spm *spm)
{
    return spm->sp.eos_id();
}

extern "C" int32_t ingot_spm_pad_id(const ingot_spm *spm)
{
    return spm->sp.pad_id();
}

extern "C" int32_t ingot_spm_unk_id(const ingot_spm *spm)
{
    return spm->sp.unk_id();
}

extern "C" const char *ingot_spm_id_to_piece(const ingot_spm *spm, uint32_t id)
{
    if (id >= spm->vocab)
        return nullptr;
    return spm->sp.IdToPiece((int)id).c_str();
}

extern "C" uint64_t ingot_spm_model_hash(const ingot_spm *spm)
{
    return spm->hash;
}

extern "C" uint32_t ingot_spm_model_type(const ingot_spm *spm)
{
    return spm->type;
}
