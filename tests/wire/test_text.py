import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_dns import InvalidRdata, Name
from trio_dns._wire.text import (
    Line,
    TextSyntaxError,
    Token,
    TokenStream,
    escape_string,
    is_relative,
    tokenize,
    unescape,
)


def texts(line: Line) -> list[str]:
    return [token.text for token in line.tokens]


def test_lines_comments_quotes_and_blank_owner() -> None:
    lines = list(tokenize('a 1 IN TXT "x y;z" ; comment "not a token\n\n; only a comment\n  b c\n'))
    assert [texts(line) for line in lines] == [["a", "1", "IN", "TXT", "x y;z"], ["b", "c"]]
    assert [line.lineno for line in lines] == [1, 4]
    assert [line.leading_blank for line in lines] == [False, True]
    assert lines[0].tokens[4] == Token("x y;z", True)
    assert lines[0].tokens[0] == Token("a", False)


def test_parentheses_join_physical_lines() -> None:
    text = "@ SOA ns host. ( 1 ; serial\n  2\n\t3 ) \nnext A 192.0.2.1\n"
    first, second = tokenize(text)
    assert texts(first) == ["@", "SOA", "ns", "host.", "1", "2", "3"]
    assert first.lineno == 1
    assert second.lineno == 4
    assert not second.leading_blank


def test_escapes_stay_in_token_text() -> None:
    (line,) = tokenize('a\\ b c\\;d "q\\"uote" e\\(\\)')
    assert texts(line) == ["a\\ b", "c\\;d", 'q\\"uote', "e\\(\\)"]
    assert [token.quoted for token in line.tokens] == [False, False, True, False]


def test_empty_quoted_string_is_a_token() -> None:
    (line,) = tokenize('a TXT ""')
    assert line.tokens[-1] == Token("", True)


def test_escaped_newline_still_counts_lines() -> None:
    first, second = tokenize('a "x\\\ny"\nb\n')
    assert first.tokens[1].text == "x\\\ny"
    assert second.lineno == 3


@pytest.mark.parametrize(
    ("text", "lineno", "problem"),
    [
        ('a\nb "open\nc\n', 2, "unterminated quoted string"),
        ("a\nb )\n", 2, "')' without '('"),
        ("a\nb (\nc\nd\n", 2, "'(' without ')'"),
    ],
)
def test_syntax_errors_name_the_line(text: str, lineno: int, problem: str) -> None:
    with pytest.raises(TextSyntaxError) as info:
        list(tokenize(text))
    assert info.value.lineno == lineno
    assert info.value.problem == problem
    assert str(info.value) == f"line {lineno}: {problem}"
    assert isinstance(info.value, InvalidRdata)


@pytest.mark.parametrize(
    ("text", "relative"),
    [
        ("www", True),
        ("@", True),
        ("www.", False),
        (".", False),
        ("a\\.", True),
        ("a\\\\.", False),
        ("a\\\\\\.", True),
        ("a\\046", True),
    ],
)
def test_is_relative(text: str, relative: bool) -> None:
    assert is_relative(text) is relative


def test_stream_without_origin_refuses_relative_names() -> None:
    stream = TokenStream([Token("ns1"), Token("ns2.")], None)
    with pytest.raises(InvalidRdata, match="relative name 'ns1'"):
        stream.name("target")
    assert stream.name() == Name.from_text("ns2.")
    origin = Name.from_text("example.com")
    assert TokenStream([Token("ns1")], origin).name() == Name.from_text("ns1.example.com")


@given(st.binary(max_size=300))
def test_escape_string_round_trips(data: bytes) -> None:
    quoted = escape_string(data)
    (line,) = tokenize("x " + quoted)
    token = line.tokens[1]
    assert token.quoted
    assert unescape(token.text) == data


# -- generated text ---------------------------------------------------------

_ddd = st.integers(0, 255).map(lambda octet: f"\\{octet:03d}")
_unquoted_char = st.one_of(
    st.sampled_from("abcXYZ019-_.*@$/+=:"),
    st.sampled_from(["\\;", "\\(", "\\)", '\\"', "\\ ", "\\\\", "\\\t"]),
    _ddd,
)
_quoted_char = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"\\'),
    st.sampled_from(['\\"', "\\\\", "\t"]),
    _ddd,
)
_token = st.one_of(
    st.lists(_unquoted_char, min_size=1, max_size=6).map(lambda cs: Token("".join(cs), False)),
    st.lists(_quoted_char, max_size=8).map(lambda cs: Token("".join(cs), True)),
)
# One logical line: its tokens, whether it starts with a blank, where a '(' opens
# (the rest of the line then spans one physical line per token), and comments.
_logical_line = st.tuples(
    st.lists(_token, min_size=1, max_size=6),
    st.booleans(),
    st.none() | st.integers(0, 6),
    st.booleans(),
    st.integers(0, 2),
)


def _render(token: Token) -> str:
    return f'"{token.text}"' if token.quoted else token.text


@given(st.lists(_logical_line, max_size=6))
def test_tokenize_generated_text(
    spec: list[tuple[list[Token], bool, int | None, bool, int]],
) -> None:
    parts: list[str] = []
    expected: list[Line] = []
    lineno = 1
    for tokens, leading_blank, paren_at, comment, blank_lines in spec:
        parts.append("\n" * blank_lines)
        lineno += blank_lines
        start = lineno
        rendered = [_render(token) for token in tokens]
        if paren_at is None or paren_at > len(tokens):
            body = " ".join(rendered)
        else:
            inside = (";c(\n\t" if comment else "\n\t").join(rendered[paren_at:])
            lineno += max(len(rendered) - paren_at - 1, 0)
            body = " ".join([*rendered[:paren_at], "(", inside, ")"])
        parts.append(("\t" if leading_blank else "") + body)
        if comment:
            parts.append(' ; trailing "comment ( ')
        parts.append("\n")
        lineno += 1
        expected.append(Line(tuple(tokens), leading_blank, start))
    assert list(tokenize("".join(parts))) == expected
