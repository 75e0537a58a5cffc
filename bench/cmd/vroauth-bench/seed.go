package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// seedChunk is how many clients (and as many sessions) are built in memory at a time.
const seedChunk = 50000

// clientsPerOwner is how many of the stored clients each seeded user owns.
const clientsPerOwner = 1000

// seed is a seeded database and the credentials in clear that the scripts use.
type seed struct {
	dbPath, keyPath string
	credentials     []string   // "<client_id> <client_secret>" of the working set
	accessTokens    []string   // one live access token per client of the working set
	refreshTokens   [][]string // unspent refresh tokens, one set per run (warm-up, measurement)
	userToken       string     // an access token of the user whose clients churn
}

// seedDatabase creates a database in dir with n clients and n live sessions (plus the
// refresh pools and the churning user's session), all bulk-inserted. The first
// baseCount clients form the working set whose secrets and tokens the scripts know;
// the others have random secret hashes and token hashes.
func seedDatabase(ctx context.Context, dir string, n, connections int) (*seed, error) {
	sd := &seed{dbPath: filepath.Join(dir, "vroauth.db")}
	sd.keyPath = sd.dbPath + ".key" // where vroauth serve looks for it
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(sd.keyPath, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	secrets, err := core.NewSecretHasher(key)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, sd.dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	now := time.Now()
	accessExp, refreshExp := now.Add(time.Hour), now.Add(2*time.Hour) // longer than any run
	passwordHash := core.PasswordHasher{Time: 1, Memory: 64, Threads: 1}.Hash(core.NewToken())
	newUser := func(name string, role core.Role) *core.User {
		return &core.User{ID: core.NewID(), Name: name, PasswordHash: passwordHash, Role: role}
	}
	// Each seeded session is issued a millisecond after the one before, so that the
	// time-ordered keys of a million sessions sort as their insertion does.
	issued := now.Add(-time.Duration(n+8*connections) * time.Millisecond)
	newSession := func(userID, clientID string) (*core.Session, string, string) {
		issued = issued.Add(time.Millisecond)
		access, refresh := core.NewSessionToken(issued), core.NewSessionToken(issued)
		id := core.NewOrderedID(issued)
		return &core.Session{ID: id, FamilyID: id, UserID: userID, ClientID: clientID,
			AccessHash: core.HashToken(access), RefreshHash: core.HashToken(refresh),
			AccessExpiresAt: accessExp, RefreshExpiresAt: refreshExp}, access, refresh
	}

	// The user whose clients churn, with one session.
	admin := newUser(`BENCH\admin`, core.RoleAdministrator)
	adminSession, access, _ := newSession(admin.ID, "")
	sd.userToken = access
	if err := db.Import(ctx, []*core.User{admin}, nil, []*core.Session{adminSession}); err != nil {
		return nil, err
	}

	// n clients, clientsPerOwner per user, with one live session each. Rows go in in the
	// order of every index they enter (time-ordered IDs, sorted), so that each index
	// grows at its end: inserting a million rows
	// at random places would take many times longer. The working set, whose secrets and
	// tokens the scripts know, is spread evenly over the stored clients.
	ids := make([]string, n)
	for i := range ids {
		ids[i] = core.NewOrderedID(now.Add(time.Duration(i-n) * time.Millisecond)) // as the server makes them
	}
	slices.Sort(ids)
	stride := n / baseCount
	working := []*core.Client{}
	var owner *core.User
	for start := 0; start < n; start += seedChunk {
		var users []*core.User
		var clients []*core.Client
		var sessions []*core.Session
		for i := start; i < min(n, start+seedChunk); i++ {
			if i%clientsPerOwner == 0 {
				owner = newUser(fmt.Sprintf(`BENCH\owner%07d`, i/clientsPerOwner), core.RolePlanAuthor)
				owner.ID = core.NewOrderedID(now.Add(time.Duration(i/clientsPerOwner) * time.Millisecond))
				users = append(users, owner)
			}
			c := &core.Client{ID: ids[i], UserID: owner.ID}
			s, access, _ := newSession(owner.ID, c.ID)
			if i%stride == 0 && len(working) < baseCount {
				secret := core.NewToken()
				c.SecretHash = secrets.Hash(secret)
				sd.credentials = append(sd.credentials, c.ID+" "+secret)
				sd.accessTokens = append(sd.accessTokens, access)
				working = append(working, c)
			} else {
				c.SecretHash = make([]byte, 32)
				rand.Read(c.SecretHash)
			}
			clients = append(clients, c)
			sessions = append(sessions, s)
		}
		if err := db.Import(ctx, users, clients, sessions); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	// Refresh pools: four tokens per connection for each run, on working-set clients.
	var sessions []*core.Session
	for run := range 2 {
		var pool []string
		for i := range 4 * connections {
			c := working[(run*4*connections+i)%len(working)]
			s, _, refresh := newSession(c.UserID, c.ID)
			sessions = append(sessions, s)
			pool = append(pool, refresh)
		}
		sd.refreshTokens = append(sd.refreshTokens, pool)
	}
	if err := db.Import(ctx, nil, nil, sessions); err != nil {
		return nil, err
	}
	return sd, nil
}
