package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Keys that sort by time. A database index keyed by random values (a version 4 GUID,
// the SHA-256 of a random token) takes every insert at a random place, so each insert
// dirties a page of its own, and a durable commit writes (and fsyncs) every one of
// them; with a million rows those pages are rarely cached either. Keys that lead with
// the time of their creation all go in at the end of the index: a batch of inserts
// shares a few pages. Sessions are the rows created at the rate of logins, and client
// accounts may churn as fast, so their IDs and the keys of tokens are made this way.

// sessionTokenLen is the length of a NewSessionToken: 38 bytes in base64url.
const sessionTokenLen = 51

// NewOrderedID returns a new GUID for a session or a client account: a version 7 GUID
// (RFC 9562), whose first 48 bits are now in Unix milliseconds and whose other 74 free
// bits are random, in lower case. Unlike NewID's, it tells when it was made.
func NewOrderedID(now time.Time) string {
	var b [16]byte
	rand.Read(b[6:])
	putMillis(b[:6], now)
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

// NewSessionToken returns a new access or refresh token: now in Unix milliseconds (6
// bytes, big-endian) followed by 256 random bits, base64url without padding (51
// characters, within RFC 6750's b64token syntax). The time is not secret (a token's
// holder knows when it got it); it makes HashToken's keys of such tokens sort by issue
// time.
func NewSessionToken(now time.Time) string {
	var b [38]byte
	putMillis(b[:6], now)
	rand.Read(b[6:]) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TokenKey returns the key under which a token is stored; HashToken returns the same
// bytes as a slice. It reveals nothing of the token but, for a token made by
// NewSessionToken, its issue time: such a key is the token's 6 time bytes followed by
// the first 26 bytes of the SHA-256 of the whole token, so that keys sort by issue
// time (208 bits of digest keep keys of different tokens apart). Any other token's key
// is its SHA-256.
func TokenKey(token string) [32]byte {
	var buf [64]byte // tokens are short: hash them without a heap copy
	sum := sha256.Sum256(append(buf[:0], token...))
	if len(token) == sessionTokenLen {
		var t [6]byte
		if n, err := base64.RawURLEncoding.Decode(t[:], []byte(token[:8])); err == nil && n == 6 {
			copy(sum[6:], sum[:26])
			copy(sum[:6], t[:])
		}
	}
	return sum
}

// putMillis writes t in Unix milliseconds into b, 48 bits big-endian.
func putMillis(b []byte, t time.Time) {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(b, ms[2:])
}
