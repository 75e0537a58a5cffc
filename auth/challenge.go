package auth

import "strings"

// lexer splits a WWW-Authenticate value into tokens, "=" signs and quoted strings,
// skipping whitespace and commas between them.
type lexer struct {
	s string
	i int
}

func (l *lexer) skip() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t' || l.s[l.i] == ',') {
		l.i++
	}
}

func (l *lexer) done() bool {
	l.skip()
	return l.i >= len(l.s)
}

// token returns the token at the current position, or "" if there is none.
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) && isTokenChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// consume skips whitespace and c, reporting whether c was there.
func (l *lexer) consume(c byte) bool {
	j := l.i
	for j < len(l.s) && (l.s[j] == ' ' || l.s[j] == '\t') {
		j++
	}
	if j < len(l.s) && l.s[j] == c {
		l.i = j + 1
		return true
	}
	return false
}

// value returns a parameter's value: a quoted string, unescaped, or a token.
func (l *lexer) value() string {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
	if l.i >= len(l.s) || l.s[l.i] != '"' {
		return l.token()
	}
	var b strings.Builder
	for l.i++; l.i < len(l.s); l.i++ {
		switch c := l.s[l.i]; {
		case c == '"':
			l.i++
			return b.String()
		case c == '\\' && l.i+1 < len(l.s):
			l.i++
			b.WriteByte(l.s[l.i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
