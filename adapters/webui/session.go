package webui

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/entgldb/entgldb-go/domain"
)

// CookieName is the session cookie's name.
const CookieName = "entgldb_session"

// Session lifetimes: a session ends SessionIdle after its last use or
// SessionMax after sign-in, whichever is first, and with its key.
const (
	SessionIdle = 2 * time.Hour
	SessionMax  = 24 * time.Hour
	// MaxSessions bounds the sessions held; past it the least recently
	// used one ends.
	MaxSessions = 1024
)

// session is one sign-in: the key it stands for (by id; the key itself is
// not kept) and its access.
type session struct {
	keyID    string
	access   domain.Access
	created  time.Time
	lastUsed time.Time
}

// sessions are the sign-ins, in memory: a restart signs everyone out.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*session // by cookie value
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]*session{}}
}

// create starts a session for a key and returns its cookie value.
func (s *sessions) create(keyID string, access domain.Access) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= MaxSessions {
		s.evictLocked(now)
	}
	s.m[id] = &session{keyID: keyID, access: access, created: now, lastUsed: now}
	return id, nil
}

// evictLocked drops the ended sessions, and the least recently used one
// when none has ended.
func (s *sessions) evictLocked(now time.Time) {
	var oldest string
	for id, se := range s.m {
		if s.ended(se, now) {
			delete(s.m, id)
			continue
		}
		if oldest == "" || se.lastUsed.Before(s.m[oldest].lastUsed) {
			oldest = id
		}
	}
	if len(s.m) >= MaxSessions && oldest != "" {
		delete(s.m, oldest)
	}
}

func (s *sessions) ended(se *session, now time.Time) bool {
	return now.Sub(se.lastUsed) > SessionIdle || now.Sub(se.created) > SessionMax
}

// lookup finds the request's session and marks it used.
func (s *sessions) lookup(r *http.Request) (*session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[c.Value]
	if !ok {
		return nil, false
	}
	if s.ended(se, now) {
		delete(s.m, c.Value)
		return nil, false
	}
	se.lastUsed = now
	cp := *se
	return &cp, true
}

// end ends the request's session, if any.
func (s *sessions) end(r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.mu.Lock()
		delete(s.m, c.Value)
		s.mu.Unlock()
	}
}
