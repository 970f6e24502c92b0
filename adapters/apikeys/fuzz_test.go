package apikeys

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/entgldb/entgldb-go/domain"
)

// FuzzReadKeys: a key file of any content loads or is refused with a
// CONFIG_ERROR, never a panic; what loads has valid ids and scopes.
func FuzzReadKeys(f *testing.F) {
	f.Add([]byte(`{"version":1,"keys":[]}`))
	f.Add([]byte(`{"version":1,"keys":[{"id":"0123456789abcdef","name":"app","hash":"sha256:` +
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" + `","scopes":["users:rw","orders:r"],"created_at":1}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"keys":[{"id":"x","hash":"md5:00"}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "api-keys.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		keys, err := readKeys(path)
		if err != nil {
			if c := domain.CodeOf(err); c != domain.CodeConfig {
				t.Fatalf("error %v has code %s, want CONFIG_ERROR", err, c)
			}
			return
		}
		for id, e := range keys {
			if !validID(id) || e.info.ID != id {
				t.Fatalf("loaded a key with id %q", id)
			}
		}
	})
}

// FuzzAuthenticate: any presented key is refused or names a stored id,
// never a panic.
func FuzzAuthenticate(f *testing.F) {
	f.Add("egk_0123456789abcdef_AAAA")
	f.Add("egk_admin_")
	f.Add("")
	f.Add("Bearer x")
	s, _, err := Open(filepath.Join(f.TempDir(), "api-keys.json"), filepath.Join(f.TempDir(), "admin.key"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if id, _, ok := s.Authenticate(key); ok && !s.Active(id) {
			t.Fatalf("%q authenticated as inactive %q", key, id)
		}
	})
}
