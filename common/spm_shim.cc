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
#include "spm_shim.h"

struct ingot_spm {
    sentencepiece::SentencePieceProcessor sp;
    uint64_t hash;
    uint32_t type;
    uint32_t vocab;
    std::string path;
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

// Skip a field of wire type wt. False when malformed.
bool skip_field(const unsigned char *p, size_t n, size_t *i, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0: return read_varint(p, n, i, &v);
    case 1: if (n - *i < 8) return false; *i += 8; return true;
    case 5: if (n - *i < 4) return false; *i += 4; return true;
    case 2:
        if (!read_varint(p, n, i, &v) || v > n - *i)
            return false;
        *i += (size_t)v;
        return true;
    default: return false;
    }
}

// The model type lives in ModelProto.trainer_spec (field 2), TrainerSpec
// .model_type (field 3, enum UNIGRAM=1 BPE=2 WORD=3 CHAR=4, default
// UNIGRAM). Debian's headers do not ship sentencepiece_model.pb.h, so the
// two fields are read from the serialized proto directly.
uint32_t model_type_of(const std::string &bytes)
{
    const unsigned char *p = (const unsigned char *)bytes.data();
    size_t n = bytes.size(), i = 0;
    while (i < n) {
        uint64_t key;
        if (!read_varint(p, n, &i, &key))
            return INGOT_TOK_UNKNOWN;
        unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        if (field == 2 && wt == 2) {
            uint64_t len;
            if (!read_varint(p, n, &i, &len) || len > n - i)
                return INGOT_TOK_UNKNOWN;
            const unsigned char *q = p + i;
            size_t m = (size_t)len, j = 0;
            uint32_t type = INGOT_TOK_UNIGRAM;
            while (j < m) {
                uint64_t k2, v;
                if (!read_varint(q, m, &j, &k2))
                    return INGOT_TOK_UNKNOWN;
                if ((k2 >> 3) == 3 && (k2 & 7) == 0) {
                    if (!read_varint(q, m, &j, &v))
                        return INGOT_TOK_UNKNOWN;
                    type = v >= 1 && v <= 4 ? (uint32_t)v : (uint32_t)INGOT_TOK_UNKNOWN;
                } else if (!skip_field(q, m, &j, (unsigned)(k2 & 7))) {
                    return INGOT_TOK_UNKNOWN;
                }
            }
            return type;
        }
        if (!skip_field(p, n, &i, wt))
            return INGOT_TOK_UNKNOWN;
    }
    return INGOT_TOK_UNIGRAM;
}

} // namespace

extern "C" int ingot_spm_load(const char *model_path, ingot_spm **out)
{
    *out = nullptr;
    char *buf = nullptr;
    size_t len = 0;
    int ret = fs_read_all(model_path, &buf, &len);
    if (ret)
        return ret;
    ingot_spm *s = nullptr;
    try {
        std::string bytes(buf, len);
        free(buf);
        buf = nullptr;
        s = new ingot_spm();
        s->path = model_path;
        s->hash = ingot_xxh3(bytes.data(), bytes.size());
        auto st = s->sp.LoadFromSerializedProto(bytes);
        if (!st.ok()) {
            ret = ingot_fail(INGOT_E_TOKENIZER, "%s: not a SentencePiece model: %s", model_path,
                             st.ToString().c_str());
            delete s;
            return ret;
        }
        int n = s->sp.GetPieceSize();
        if (n <= 0) {
            delete s;
            return ingot_fail(INGOT_E_TOKENIZER, "%s: model has no pieces", model_path);
        }
        s->vocab = (uint32_t)n;
        s->type = model_type_of(bytes);
    } catch (const std::bad_alloc &) {
        free(buf);
        delete s;
        return ingot_fail(-ENOMEM, "%s: out of memory loading the model", model_path);
    } catch (const std::exception &e) {
        free(buf);
        delete s;
        return ingot_fail(INGOT_E_TOKENIZER, "%s: cannot load: %s", model_path, e.what());
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
                              st.ToString().c_str());
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
    } catch (const std::bad_alloc &) {
        return ingot_fail(-ENOMEM, "%s: out of memory encoding", spm->path.c_str());
    } catch (const std::exception &e) {
        return ingot_fail(INGOT_E_TOKENIZER, "%s: encode failed: %s", spm->path.c_str(), e.what());
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
                              st.ToString().c_str());
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
        return ingot_fail(INGOT_E_TOKENIZER, "%s: decode failed: %s", spm->path.c_str(), e.what());
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
