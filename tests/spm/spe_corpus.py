#!/usr/bin/python3
"""Writes a varied, deterministic test corpus for the encoder checks:
    spe_corpus.py OUT_TRAIN OUT_TEXT [SCALE]
OUT_TRAIN is valid UTF-8 text to train models on (one sentence a line);
OUT_TEXT holds documents separated by a line of the byte 0x1E: prose,
code with indentation, CJK, emoji, math, logs, runs of one character,
whitespace oddities, controls and invalid UTF-8."""
import random
import sys

WORDS = ("the river runs quietly over old stones while children read books under "
         "a blue sky and birds sing songs near houses where light falls on green "
         "fields of summer wheat").split()
CJK = "日本語の文章を分割する東京都庁舎は新宿にあります中文字符测试你好世界한국어텍스트입니다"
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🎉", "🤖"]
MATH = ["∑_{i=1}^{n} x_i² ≤ ∞", "∀x∈ℝ: ∫₀¹ f(x) dx ≠ π", "α+β=γ ⇒ ½·√2 ≈ 0.7071",
        "ℕ ⊂ ℤ ⊂ ℚ ⊂ ℝ ⊂ ℂ", "e^{iπ} + 1 = 0", "ﬁ ﬂ ① ㍿ Ⅻ ｱｲｳ ＡＢＣ １２３"]
CODE = ["def f(x):\n    if x > 0:\n        return x * 2\n    return -x\n",
        "int main(void) {\n\tfor (int i = 0; i < 10; i++) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n}\n",
        "    // indented comment\n        x = y ==  z;   \n",
        "<html>\n  <body class=\"a b\">&amp; &lt;tag&gt;</body>\n</html>\n",
        "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;\n"]
LOGS = ["2024-01-15T10:23:45.123Z INFO  [worker-3] request id=7f3a9c done in 12.5ms",
        "ERROR 500 /api/v1/items?id=42&sort=desc -- timeout after 30000 ms",
        "[    0.000000] Linux version 6.1.0 (gcc 12.2.0) #1 SMP PREEMPT_DYNAMIC"]
ODD = ["a\u0301 e\u0301 n\u0303 ", "\u200b\u200bzero\u200bwidth", "\ufeffbom", "tab\there",
       "cr\r\nlf", "nul\x00byte", "ctl\x01\x02\x7f", "\u2581literal\u2581ws\u2581",
       "\ufffd replacement", "  leading and   inner   spaces  ", "\u3000ideographic\u3000space",
       "ÀÉÎÕÜ àéîõü ß Σσς İı", "x" * 300, "=" * 120, "-" * 77, " " * 40 + "deep",
       "9" * 50, "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "..!!??,,;;::", "\t\t\t\tx", "\n\n\n"]
INVALID = [b"bad \xff byte", b"\xc3\x28 wrong", b"trunc \xe2\x82", b"\xed\xa0\x80 surrogate",
           b"\xf4\x90\x80\x80 big", b"\xc0\xaf overlong", b"\x80\x80 cont", b"end \xe2"]


def sentence(r):
    return " ".join(r.choice(WORDS) for _ in range(r.randint(3, 14)))


def piece(r):
    k = r.randrange(9)
    if k == 0:
        return sentence(r).capitalize() + "."
    if k == 1:
        return "".join(r.choice(CJK) for _ in range(r.randint(2, 20)))
    if k == 2:
        return " ".join(r.choice(EMOJI) + r.choice(WORDS) for _ in range(r.randint(1, 5)))
    if k == 3:
        return r.choice(MATH)
    if k == 4:
        return r.choice(CODE)
    if k == 5:
        return r.choice(LOGS)
    if k == 6:
        return r.choice(ODD)
    if k == 7:
        return str(r.randint(0, 10**r.randint(1, 12))) + " " + sentence(r)
    return sentence(r)


def main():
    out_train, out_text = sys.argv[1], sys.argv[2]
    scale = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    r = random.Random(14)
    with open(out_train, "w", encoding="utf-8") as f:
        for _ in range(1500 * scale):
            f.write(piece(r).replace("\n", " ").replace("\x00", "") + "\n")
    docs = []
    for _ in range(60 * scale):
        parts = [piece(r).encode("utf-8", "surrogatepass") for _ in range(r.randint(1, 12))]
        if r.random() < 0.3:
            parts.insert(r.randrange(len(parts) + 1), r.choice(INVALID))
        sep = r.choice([b" ", b"\n", b"  ", b"\n\n", b"\t", b""])
        docs.append(sep.join(parts))
    docs += [b"", b" ", b"   ", b"\n", b"\x00", b"\xe2\x96\x81", b"\xff", b"a", b" a ", b"\u3000".decode("unicode_escape").encode()]
    with open(out_text, "wb") as f:
        f.write(b"\n\x1e\n".join(docs))


main()
