"""The `name` filter of server listings: a regular expression evaluated in linear time.

Nova treats `?name=` as a regular expression searched in each server name. Python's `re`
backtracks, so a short hostile pattern (`(a+)+$`, `(a|a)*b`, `a*a*a*a*a*b`) can pin a CPU on
a 255-character name. This module instead compiles the pattern to a Thompson NFA and runs it
over each name in O(len(name) * states), caching the state sets it reaches (a lazily built
DFA) across the names of one listing.

Supported: literals, `.`, classes `[a-z0-9_]` / `[^...]` (with `\\d \\w \\s` inside), escapes
`\\d \\D \\w \\W \\s \\S \\t \\n` and escaped punctuation, groups `( )` and `(?: )`,
alternation `|`, quantifiers `* + ? {n} {n,} {n,m}` (a trailing `?` for laziness is accepted:
it cannot change whether a name matches), anchors `^` and `$`. Anything else (back-references,
look-arounds, flags, possessive quantifiers) is rejected with a clear message, as is a pattern
longer than MAX_PATTERN or one whose automaton would exceed MAX_STATES.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MAX_PATTERN = 255
MAX_STATES = 1000
MAX_REPEAT = 32
MAX_CACHED_STEPS = 20000

CLASS_ESCAPES = {
    "d": lambda ch: ch.isdecimal(),
    "w": lambda ch: ch.isalnum() or ch == "_",
    "s": lambda ch: ch.isspace(),
}
CHAR_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}


class PatternError(ValueError):
    """The pattern is malformed, unsupported or too large (the message says which)."""


# ----- parsing: pattern text -> tree of tuples --------------------------------------------
# ("chars", predicate) | ("bol",) | ("eol",) | ("seq", [nodes]) | ("alt", [nodes])
# | ("repeat", node, min, max or None)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def take(self) -> str:
        if self.pos >= len(self.text):
            raise PatternError("pattern ends unexpectedly")
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def parse(self):
        node = self.alternation()
        if self.pos != len(self.text):
            raise PatternError(f"unbalanced parenthesis at position {self.pos}")
        return node

    def alternation(self):
        branches = [self.sequence()]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self):
        items = []
        while self.peek() not in (None, "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("seq", items)

    def quantified(self, node):
        while self.peek() in ("*", "+", "?", "{"):
            if node[0] in ("bol", "eol"):
                raise PatternError("nothing to repeat")
            ch = self.take()
            if ch == "{":
                low, high = self.counts()
            else:
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
            if self.peek() == "?":
                self.take()  # lazy: same set of matching names
            elif self.peek() == "+":
                raise PatternError("possessive quantifiers are not supported")
            node = ("repeat", node, low, high)
        return node

    def counts(self) -> tuple[int, int | None]:
        end = self.text.find("}", self.pos)
        if end < 0:
            raise PatternError("unterminated {m,n} repetition")
        body, self.pos = self.text[self.pos:end], end + 1
        low_text, comma, high_text = body.partition(",")
        try:
            low = int(low_text) if low_text else 0
            high = (int(high_text) if high_text else None) if comma else low
        except ValueError:
            raise PatternError(f"bad repetition {{{body}}}") from None
        if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
            raise PatternError(f"repetition counts must be ordered and at most {MAX_REPEAT}")
        return low, high

    def atom(self):
        ch = self.take()
        if ch == "(":
            if self.peek() == "?":
                self.take()
                if self.peek() != ":":
                    raise PatternError("only (?:...) groups are supported")
                self.take()
            node = self.alternation()
            if self.peek() != ")":
                raise PatternError("missing closing parenthesis")
            self.take()
            return node
        if ch in "*+?{":
            raise PatternError("nothing to repeat")
        if ch == ")":
            raise PatternError("unbalanced parenthesis")
        if ch == "^":
            return ("bol",)
        if ch == "$":
            return ("eol",)
        if ch == ".":
            return ("chars", lambda c: c != "\n")
        if ch == "[":
            return ("chars", self.char_class())
        if ch == "\\":
            return ("chars", self.escape())
        return ("chars", ch.__eq__)

    def escape(self):
        ch = self.take()
        if ch.lower() in CLASS_ESCAPES:
            test = CLASS_ESCAPES[ch.lower()]
            return test if ch.islower() else (lambda c: not test(c))
        if ch in CHAR_ESCAPES:
            return CHAR_ESCAPES[ch].__eq__
        if ch.isalnum():
            raise PatternError(f"unsupported escape \\{ch}")
        return ch.__eq__

    def char_class(self):
        negated = self.peek() == "^"
        if negated:
            self.take()
        tests = []
        first = True
        while True:
            ch = self.take()
            if ch == "]" and not first:
                break
            first = False
            if ch == "\\":
                escaped = self.take()
                if escaped.lower() in CLASS_ESCAPES:
                    base = CLASS_ESCAPES[escaped.lower()]
                    tests.append(base if escaped.islower() else (lambda c, b=base: not b(c)))
                    continue
                if escaped.isalnum() and escaped not in CHAR_ESCAPES:
                    raise PatternError(f"unsupported escape \\{escaped}")
                ch = CHAR_ESCAPES.get(escaped, escaped)
            if self.peek() == "-" and self.text[self.pos + 1:self.pos + 2] not in ("]", ""):
                self.take()
                high = self.take()
                if high == "\\":
                    high = self.take()
                    high = CHAR_ESCAPES.get(high, high)
                if high < ch:
                    raise PatternError(f"bad character range {ch}-{high}")
                tests.append(lambda c, lo=ch, hi=high: lo <= c <= hi)
            else:
                tests.append(ch.__eq__)
        if negated:
            return lambda c: not any(test(c) for test in tests)
        return lambda c: any(test(c) for test in tests)


# ----- compiling: tree -> NFA --------------------------------------------------------------


@dataclass
class _State:
    kind: str  # "char" (test, out), "split" (outs), "bol"/"eol" (out), "match"
    test: object = None
    outs: list = field(default_factory=list)


class _Builder:
    def __init__(self):
        self.states: list[_State] = []

    def new(self, kind: str, test=None) -> int:
        if len(self.states) >= MAX_STATES:
            raise PatternError("pattern is too complex")
        self.states.append(_State(kind, test))
        return len(self.states) - 1

    def fragment(self, node) -> tuple[int, list[int]]:
        """(start state, states whose outs still need the continuation)."""
        kind = node[0]
        if kind in ("chars", "bol", "eol"):
            state = self.new("char" if kind == "chars" else kind,
                             node[1] if kind == "chars" else None)
            return state, [state]
        if kind == "seq":
            if not node[1]:
                state = self.new("split")
                return state, [state]
            start, dangling = self.fragment(node[1][0])
            for item in node[1][1:]:
                next_start, next_dangling = self.fragment(item)
                self.patch(dangling, next_start)
                dangling = next_dangling
            return start, dangling
        if kind == "alt":
            split = self.new("split")
            dangling = []
            for branch in node[1]:
                start, ends = self.fragment(branch)
                self.states[split].outs.append(start)
                dangling += ends
            return split, dangling
        _, inner, low, high = node
        pieces = [self.fragment(inner) for _ in range(low)]
        if high is None:
            loop = self.new("split")
            start, ends = self.fragment(inner)
            self.states[loop].outs.append(start)
            self.patch(ends, loop)
            pieces.append((loop, [loop]))
        else:
            for _ in range(high - low):
                skip = self.new("split")
                start, ends = self.fragment(inner)
                self.states[skip].outs.append(start)
                pieces.append((skip, [skip, *ends]))
        if not pieces:
            state = self.new("split")
            return state, [state]
        for (_, ends), (next_start, _) in zip(pieces, pieces[1:], strict=False):
            self.patch(ends, next_start)
        return pieces[0][0], pieces[-1][1]

    def patch(self, dangling: list[int], target: int) -> None:
        for index in dangling:
            self.states[index].outs.append(target)


class NameFilter:
    """A compiled `name` filter; `matches(name)` is True when the pattern occurs in it."""

    def __init__(self, pattern: str):
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
            raise PatternError(f"the name filter is limited to {MAX_PATTERN} characters")
        builder = _Builder()
        start, dangling = builder.fragment(_Parser(pattern).parse())
        match = builder.new("match")
        builder.patch(dangling, match)
        self.states = builder.states
        self.start = start
        self._closures: dict = {}
        self._steps: dict = {}

    def _closure(self, seeds, at_start: bool, at_end: bool) -> frozenset[int]:
        key = (seeds, at_start, at_end)
        cached = self._closures.get(key)
        if cached is not None:
            return cached
        seen, stack = set(), list(seeds)
        while stack:
            index = stack.pop()
            if index in seen:
                continue
            seen.add(index)
            state = self.states[index]
            if state.kind == "split" or (state.kind == "bol" and at_start) or (
                    state.kind == "eol" and at_end):
                stack.extend(state.outs)
        result = frozenset(seen)
        if len(self._closures) < MAX_CACHED_STEPS:
            self._closures[key] = result
        return result

    def matches(self, name: str) -> bool:
        match_state = len(self.states) - 1
        last = len(name)
        current = self._closure(frozenset((self.start,)), True, last == 0)
        for position, ch in enumerate(name):
            if match_state in current:
                return True
            key = (current, ch)
            moved = self._steps.get(key)
            if moved is None:
                moved = frozenset(self.states[i].outs[0] for i in current
                                  if self.states[i].kind == "char" and self.states[i].test(ch))
                if len(self._steps) < MAX_CACHED_STEPS:
                    self._steps[key] = moved
            current = self._closure(moved | {self.start}, False, position + 1 == last)
        return match_state in current
