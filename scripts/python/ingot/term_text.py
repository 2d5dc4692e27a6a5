"""Text from files (paths, names, a manifest's strings) as it may be printed: every
character that could act on the terminal or disguise a name shown as '?', as
common/term_text.c does for the C tools."""


def hidden(c):
    """Whether code point c is shown as '?': common/term_text.h's set, which says why.
    C0, DEL and C1 controls (escape sequences); the bidirectional controls U+061C,
    U+200E, U+200F, U+202A..U+202E and U+2066..U+2069 (they reorder a name into
    another); the invisible U+200B..U+200D, U+2060..U+206F, U+FEFF and U+180E; the
    line and paragraph separators U+2028, U+2029; and the surrogates U+D800..U+DFFF,
    which is how a byte that is not UTF-8 reaches Python (a file name decoded with
    surrogateescape, a JSON \\udcXX escape): one '?' a byte, as in C."""
    return (c < 0x20 or 0x7f <= c <= 0x9f or c == 0x61c or c == 0x180e or
            0x200b <= c <= 0x200f or 0x2028 <= c <= 0x202e or 0x2060 <= c <= 0x206f or
            c == 0xfeff or 0xd800 <= c <= 0xdfff)


def term_text(s):
    """s with every character hidden() names as '?', as common/term_text.c shows text
    from files: a manifest's path or a file name may hold an escape sequence, or an
    override that makes it read as another name, for whoever prints the message.
    Other text ("café", "日本語", emoji) is kept as it is."""
    return "".join("?" if hidden(ord(c)) else c for c in str(s))
