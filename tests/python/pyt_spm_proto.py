"""The few pieces of the protobuf wire format the tests need to take a SentencePiece
model apart and put a changed one together (ModelProto: field 1 the pieces, 2 the
trainer spec, 3 the normalizer spec; every top-level field length-delimited)."""


def varint(b, i):
    """(value, index after it) of the varint at b[i]"""
    x = s = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << s
        s += 7
        if not c & 0x80:
            return x, i


def enc_varint(x):
    out = bytearray()
    while True:
        out.append((x & 0x7F) | (0x80 if x > 0x7F else 0))
        x >>= 7
        if not x:
            return bytes(out)


def fields(b):
    """(field number, wire type, the whole field's bytes, payload) of each field of a
    message whose fields are varints (payload None) or length-delimited."""
    i, out = 0, []
    while i < len(b):
        start = i
        key, i = varint(b, i)
        if key & 7 == 2:
            n, i = varint(b, i)
            payload, i = b[i:i + n], i + n
        else:
            payload, i = None, varint(b, i)[1]
        out.append((key >> 3, key & 7, b[start:i], payload))
    return out


def with_piece(model, piece, piece_type=None):
    """(model with one more piece of the bytes piece after its last piece, that piece's
    id, the old piece count); piece_type (SentencePiece.Type: 3 CONTROL, ...) is left
    out (NORMAL) when None."""
    at = last = n = 0
    for num, _, whole, _ in fields(model):
        at += len(whole)
        if num == 1:
            last, n = at, n + 1
    body = enc_varint(1 << 3 | 2) + enc_varint(len(piece)) + piece
    if piece_type is not None:
        body += enc_varint(3 << 3) + enc_varint(piece_type)
    return model[:last] + enc_varint(1 << 3 | 2) + enc_varint(len(body)) + body + model[last:], n
