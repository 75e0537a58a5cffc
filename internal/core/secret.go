package core

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// NewToken returns a new opaque token: 256 random bits, base64url without padding
// (43 characters, within RFC 6750's b64token syntax). Client secrets, access tokens
// and refresh tokens are all made by it.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken returns the hash under which a token is stored (32 bytes; see TokenKey). A
// token carries 256 random bits, so a fast unkeyed hash is enough: the database never
// holds the token itself.
func HashToken(token string) []byte {
	h := TokenKey(token)
	return h[:]
}

// NewID returns a new random (version 4) GUID in lower case.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b)
}

// formatGUID returns b as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in lower case.
func formatGUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// ParseID returns the canonical lower-case form of a GUID written as
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in either case. EINVALID otherwise.
func ParseID(s string) (string, error) {
	if len(s) != 36 {
		return "", Errorf(EINVALID, "a client ID is a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11")
	}
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", Errorf(EINVALID, "a client ID is a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11")
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return "", Errorf(EINVALID, "a client ID is a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11")
			}
		}
	}
	return string(b), nil
}

// SecretHasher hashes client secrets with HMAC-SHA-256 under a server key that is kept
// outside the database, so a stolen database reveals nothing that authenticates.
type SecretHasher struct {
	key []byte
}

// MinSecretKeyLen is the shortest server key accepted, in bytes.
const MinSecretKeyLen = 32

// NewSecretHasher returns a hasher for the given key (at least MinSecretKeyLen bytes).
func NewSecretHasher(key []byte) (*SecretHasher, error) {
	if len(key) < MinSecretKeyLen {
		return nil, fmt.Errorf("core: secret key has %d bytes; want at least %d", len(key), MinSecretKeyLen)
	}
	return &SecretHasher{key: append([]byte(nil), key...)}, nil
}

// Hash returns the keyed hash of secret.
func (h *SecretHasher) Hash(secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Equal reports, in constant time, whether secret hashes to hash.
func (h *SecretHasher) Equal(secret string, hash []byte) bool {
	return hmac.Equal(h.Hash(secret), hash)
}

// PasswordHasher hashes passwords with argon2id. The zero value is not usable; use
// DefaultPasswordHasher or set every field.
type PasswordHasher struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultPasswordHasher follows the OWASP minimum for argon2id: 19 MiB, 2 passes,
// 1 lane.
var DefaultPasswordHasher = PasswordHasher{Time: 2, Memory: 19 * 1024, Threads: 1}

// Hash returns the PHC string of password ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
func (p PasswordHasher) Hash(password string) string {
	var salt [16]byte
	rand.Read(salt[:])
	key := argon2.IDKey([]byte(password), salt[:], p.Time, p.Memory, p.Threads, 32)
	return p.encode(salt[:], key)
}

// Dummy returns a well-formed hash with p's cost that no password matches, without
// computing one: its salt and digest are random. Checking a password against it costs
// as much as against a real hash, which is what a check for an unknown user needs,
// while making a real one would take p.Memory for nothing.
func (p PasswordHasher) Dummy() string {
	var salt [16]byte
	var key [32]byte
	rand.Read(salt[:])
	rand.Read(key[:])
	return p.encode(salt[:], key[:])
}

// encode returns the PHC string of a hash with p's parameters.
func (p PasswordHasher) encode(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var errBadPasswordHash = errors.New("core: malformed password hash")

// VerifyPassword reports whether password matches the PHC string encoded, in constant
// time; the parameters are read from encoded, so hashes made with other settings still
// verify.
func VerifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errBadPasswordHash
	}
	var p PasswordHasher
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadPasswordHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > 1<<21 {
		return false, errBadPasswordHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
