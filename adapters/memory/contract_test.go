package memory_test

import (
	"testing"

	"github.com/entgldb/entgldb-go/adapters/memory"
	"github.com/entgldb/entgldb-go/ports"
	"github.com/entgldb/entgldb-go/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.RunStoreSuite(t, func(t *testing.T) ports.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
