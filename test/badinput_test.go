package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entgldb/entgldb-go/adapters/protocol"
	"github.com/entgldb/entgldb-go/adapters/protocol/pb"
	"github.com/entgldb/entgldb-go/domain"
)

// errorBody is the API's error shape.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(body, &e), "error body: %s", body)
	return e
}

// Bad input of every kind gets the documented code and status, and nothing
// already stored is lost.
func TestBadInputOverHTTP(t *testing.T) {
	n := newNode(t, nodeSpec{NodeID: "strict"})
	n.start()
	status, _, _ := n.httpDo(http.MethodPut, "/v1/collections/users/docs/keep", []byte(`{"v":1}`))
	require.Equal(t, http.StatusOK, status)

	big := `{"x":"` + strings.Repeat("a", 1<<20+10) + `"}`
	deep := strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
		mentions                 string
	}{
		{"malformed JSON", http.MethodPut, "/v1/collections/users/docs/a", `{"a":`, 400, "INVALID_ARGUMENT", ""},
		{"non-object body", http.MethodPut, "/v1/collections/users/docs/a", `[1,2]`, 400, "INVALID_ARGUMENT", ""},
		{"oversized body", http.MethodPut, "/v1/collections/users/docs/a", big, 413, "TOO_LARGE", ""},
		// Accepted once, this stalled replication: protobuf cannot send it.
		{"invalid UTF-8 in a string", http.MethodPut, "/v1/collections/users/docs/a", "{\"a\":\"\xff\xfe\"}", 400, "INVALID_ARGUMENT", "UTF-8"},
		// Accepted once, this broke every filtered query of its collection.
		{"nested 2000 levels", http.MethodPut, "/v1/collections/users/docs/a", deep, 400, "INVALID_ARGUMENT", "nests"},
		{"bad collection characters", http.MethodPut, "/v1/collections/bad$name/docs/a", `{}`, 400, "INVALID_ARGUMENT", ""},
		{"reserved collection", http.MethodPut, "/v1/collections/_system/docs/a", `{}`, 400, "INVALID_ARGUMENT", ""},
		{"unknown filter operator", http.MethodGet, "/v1/collections/users/docs?where=" + urlq(`{"age":{"$where":"x"}}`), "", 400, "INVALID_ARGUMENT", "$where"},
		// Read differently by different readers (issue 18).
		{"duplicate key", http.MethodPut, "/v1/collections/users/docs/a", `{"a":1,"b":{"c":1,"c":2}}`, 400, "INVALID_ARGUMENT", "twice"},
		// Accepted once, this broke the in-memory evaluator.
		{"number beyond a double", http.MethodPut, "/v1/collections/users/docs/a", `{"a":1e400}`, 400, "INVALID_ARGUMENT", "double"},
		// Once a 500 leaking SQL ("Recursion limit").
		{"filter nested too deep", http.MethodPost, "/v1/collections/users/find",
			`{"filter":` + strings.Repeat(`{"$or":[{"a":1},`, 900) + `{}` + strings.Repeat(`]}`, 900) + `}`, 400, "INVALID_ARGUMENT", "100 levels"},
		{"filter not JSON", http.MethodGet, "/v1/collections/users/count?where=" + urlq(`{age`), "", 400, "INVALID_ARGUMENT", ""},
		{"missing document", http.MethodGet, "/v1/collections/users/docs/nope", "", 404, "NOT_FOUND", ""},
		{"delete missing", http.MethodDelete, "/v1/collections/users/docs/nope", "", 404, "NOT_FOUND", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			status, resp, _ := n.httpDo(tc.method, tc.path, body)
			require.Equal(t, tc.status, status, "%s", resp)
			e := decodeError(t, resp)
			require.Equal(t, tc.code, e.Error.Code)
			require.NotEmpty(t, e.Error.Message)
			if tc.mentions != "" {
				require.Contains(t, e.Error.Message, tc.mentions)
			}
		})
	}

	t.Run("conditional put with a stale version", func(t *testing.T) {
		status, _, hdr := n.httpDo(http.MethodGet, "/v1/collections/users/docs/keep", nil)
		require.Equal(t, http.StatusOK, status)
		etag := hdr.Get("ETag")
		require.NotEmpty(t, etag)
		status, _, _ = n.httpDo(http.MethodPut, "/v1/collections/users/docs/keep", []byte(`{"v":2}`), "If-Match", etag)
		require.Equal(t, http.StatusOK, status)
		status, resp, _ := n.httpDo(http.MethodPut, "/v1/collections/users/docs/keep", []byte(`{"v":3}`), "If-Match", etag)
		require.Equal(t, http.StatusPreconditionFailed, status)
		require.Equal(t, "CONFLICT", decodeError(t, resp).Error.Code)
	})

	status, body, _ := n.httpDo(http.MethodGet, "/v1/collections/users/docs/keep", nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"v":2}`, string(body), "nothing lost to bad input")
}

func urlq(s string) string {
	r := strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", "$", "%24", ":", "%3A", " ", "%20", ",", "%2C", "[", "%5B", "]", "%5D")
	return r.Replace(s)
}

func TestBadConfigurationExitsWithCode2(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"port out of range":     `{"EntglDb":{"Network":{"TcpPort":70000}}}`,
		"unknown resolution":    `{"EntglDb":{"Sync":{"ConflictResolution":"newest"}}}`,
		"malformed static peer": `{"EntglDb":{"Network":{"StaticPeers":["nohostport"]}}}`,
		"unknown key":           `{"EntglDb":{"Bogus":1}}`,
		"not JSON":              `{"EntglDb":`,
		"negative cache size":   `{"EntglDb":{"Persistence":{"CacheSizeMb":-1}}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
			_, errOut, code := runCLI(t, "serve", "--config", path)
			require.Equal(t, 2, code, errOut)
			require.Contains(t, errOut, "CONFIG_ERROR")
		})
	}
	_, errOut, code := runCLI(t, "serve", "--config", filepath.Join(dir, "missing.json"))
	require.Equal(t, 2, code, errOut)
}

func TestUnusableDatabasePaths(t *testing.T) {
	t.Run("unreadable database path", func(t *testing.T) {
		n := newNode(t, nodeSpec{NodeID: "nopath"})
		// A regular file where the data directory should be.
		blocker := filepath.Join(n.Spec.Dir, "blocker")
		require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o644))
		_, errOut, code := runCLI(t, "serve", "--config", n.Config, "--db", filepath.Join(blocker, "db", "entgldb.db"))
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, "PERSISTENCE_ERROR")
	})

	t.Run("corrupt database file", func(t *testing.T) {
		n := newNode(t, nodeSpec{NodeID: "corrupt"})
		n.start()
		for i := 0; i < 200; i++ {
			status, _, _ := n.httpDo(http.MethodPut, fmt.Sprintf("/v1/collections/c/docs/k%d", i), []byte(fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("p", 400))))
			require.Equal(t, http.StatusOK, status)
		}
		require.Equal(t, 0, n.stop())
		db := n.DBPath
		corruptFile(t, db)

		out, errOut, code := runCLI(t, "check", "--db", db)
		require.Equal(t, 4, code, "check: %s %s", out, errOut)
		require.Contains(t, errOut, "error CORRUPTION:")

		_, errOut, code = runCLI(t, "serve", "--config", n.Config)
		require.Equal(t, 4, code, errOut)
		require.Contains(t, errOut, "CORRUPTION")
	})
}

// corruptFile overwrites pages in the middle of a database file.
func corruptFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(16384))
	junk := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for off := int64(4096); off+int64(len(junk)) < st.Size(); off += 3 * 4096 {
		_, err := f.WriteAt(junk, off)
		require.NoError(t, err)
	}
}

// A backup taken through the API while writes continue restores into a new
// node directory, and the documents are there; a corrupt backup is refused.
func TestBackupDuringWritesAndRestore(t *testing.T) {
	n := newNode(t, nodeSpec{NodeID: "backed-up"})
	n.start()
	for i := 0; i < 100; i++ {
		status, _, _ := n.httpDo(http.MethodPut, fmt.Sprintf("/v1/collections/c/docs/before-%d", i), []byte(fmt.Sprintf(`{"i":%d}`, i)))
		require.Equal(t, http.StatusOK, status)
	}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; i < 10000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = n.Client().Put(context.Background(), "c", fmt.Sprintf("during-%d", i), []byte(`{"during":true}`))
		}
	}()
	backup := filepath.Join(t.TempDir(), "snap.db")
	out, errOut, code := n.cli("backup", "--out", backup)
	close(stop)
	<-writerDone
	require.Equal(t, 0, code, "backup: %s %s", out, errOut)
	out, errOut, code = runCLI(t, "check", "--db", backup)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "ok", out)
	requirePrivate(t, backup)
	requirePrivate(t, filepath.Dir(n.DBPath)) // the node made its data directory
	requirePrivate(t, filepath.Join(n.Spec.Dir, "backups"))

	fresh := newNode(t, nodeSpec{NodeID: "restored"})
	db := fresh.DBPath
	require.NoError(t, os.MkdirAll(filepath.Dir(db), 0o755))
	_, errOut, code = runCLI(t, "restore", "--db", db, "--from", backup)
	require.Equal(t, 0, code, errOut)
	requirePrivate(t, db)
	fresh.start()
	for i := 0; i < 100; i++ {
		status, _, _ := fresh.httpDo(http.MethodGet, fmt.Sprintf("/v1/collections/c/docs/before-%d", i), nil)
		require.Equal(t, http.StatusOK, status, "document before-%d after restore", i)
	}

	t.Run("restore from a corrupt backup is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.db")
		data, err := os.ReadFile(backup)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(bad, data, 0o644))
		corruptFile(t, bad)
		target := filepath.Join(t.TempDir(), "target.db")
		require.NoError(t, exec.Command("cp", backup, target).Run())
		before, err := os.ReadFile(target)
		require.NoError(t, err)
		_, errOut, code := runCLI(t, "restore", "--db", target, "--from", bad)
		require.Equal(t, 4, code, errOut)
		require.Contains(t, errOut, "CORRUPTION")
		after, err := os.ReadFile(target)
		require.NoError(t, err)
		require.Equal(t, before, after, "a refused restore leaves the database untouched")
	})
}

// A member (it holds the cluster secret) pushes, over a real session, every
// kind of entry no local write could be, among good ones: only the good
// ones are stored. Each unfit entry is in a collection of its own name, so
// the collection list shows whether any got in.
func TestUnfitEntriesFromAMemberAreRefused(t *testing.T) {
	secret := newToken(t)
	a := newSecNode(t, secSpec{NodeID: "strict-a", AuthToken: secret})
	a.start()
	ch, res, err := noiseClient(a.PeerAddr(), secret, freshIdentity(t, "member"))
	require.NoError(t, err)
	defer ch.Conn().Close()
	require.True(t, res.GetAccepted())
	require.NoError(t, ch.Conn().SetDeadline(time.Now().Add(time.Minute)))

	wall := time.Now().UnixMilli()
	entry := func(collection, key, author, data string) *pb.ProtoOplogEntry {
		e := domain.Entry{Collection: collection, Key: key, Op: domain.OpPut, Data: []byte(data),
			Stamp: domain.Timestamp{Wall: wall, Node: author}}
		e.Seal("")
		return protocol.EntryToProto(&e)
	}
	// The good ones come proven by their authors, as from a Go node.
	good := func(author, key, data string) *pb.ProtoOplogEntry {
		return wireEntries(newFakeAuthor(t, author, nil).batch(op{"good", key, data}))[0]
	}
	deep := strings.Repeat(`{"a":`, 2000) + `1` + strings.Repeat(`}`, 2000)
	pushes := [][]*pb.ProtoOplogEntry{
		{
			entry("_system", "k", "unfit-1", `{}`),
			good("good-1", "g1", `{"v":1}`),
			entry("../../etc/passwd", "k", "unfit-2", `{}`),
			entry(strings.Repeat("c", 100<<10), "k", "unfit-3", `{}`),
			entry("longkey", strings.Repeat("k", 1<<20), "unfit-4", `{}`),
			entry("longauthor", "k", strings.Repeat("n", 1<<20), `{}`),
			entry("deep", "k", "unfit-5", deep),
			good("good-2", "g2", `{"v":2}`),
		},
		{entry("huge", "k", "unfit-6", `{"a":"`+strings.Repeat("x", 12<<20)+`"}`), good("good-3", "g3", `{"v":3}`)},
	}
	for _, entries := range pushes {
		var ack pb.AckResponse
		require.NoError(t, ch.Call(protocol.PushChangesReq, &pb.PushChangesRequest{Entries: entries}, protocol.AckRes, &ack),
			"unfit entries never end the session")
	}
	for _, k := range []string{"g1", "g2", "g3"} {
		eventually(t, 5*time.Second, "good entry "+k+" stored", func() bool { return a.has("good", k) })
	}
	colls, err := a.Client().Collections(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"good"}, colls, "no unfit entry was stored")
}
