package domain

import (
	"encoding/json"
	"testing"

	testvectors "github.com/entgldb/entgldb-go/internal/vectors"
	"github.com/stretchr/testify/require"
)

// protocolVectors is the part of shared/protocol/vectors.json the domain
// checks: HLC order and the v5 hash chain.
type protocolVectors struct {
	HLCOrder []struct {
		A   [3]json.RawMessage `json:"a"`
		B   [3]json.RawMessage `json:"b"`
		Cmp int                `json:"cmp"`
	} `json:"hlc_order"`
	HashChain []struct {
		Collection   string `json:"collection"`
		Key          string `json:"key"`
		Operation    string `json:"operation"`
		Wall         int64  `json:"hlc_wall"`
		Logic        int32  `json:"hlc_logic"`
		Node         string `json:"hlc_node"`
		PreviousHash string `json:"previous_hash"`
		HashInput    string `json:"hash_input"`
		Hash         string `json:"hash"`
	} `json:"hash_chain"`
}

// loadVectors reads the shared vectors; a missing file fails the test.
func loadVectors(t *testing.T) protocolVectors {
	t.Helper()
	var v protocolVectors
	_, err := testvectors.Load(&v)
	require.NoError(t, err)
	return v
}

func vectorStamp(t *testing.T, parts [3]json.RawMessage) Timestamp {
	t.Helper()
	var ts Timestamp
	require.NoError(t, json.Unmarshal(parts[0], &ts.Wall))
	require.NoError(t, json.Unmarshal(parts[1], &ts.Logical))
	require.NoError(t, json.Unmarshal(parts[2], &ts.Node))
	return ts
}

func TestVectorsHLCOrder(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.HLCOrder)
	for i, c := range v.HLCOrder {
		a, b := vectorStamp(t, c.A), vectorStamp(t, c.B)
		require.Equal(t, c.Cmp, a.Compare(b), "vector %d: %v vs %v", i, a, b)
		require.Equal(t, -c.Cmp, b.Compare(a), "vector %d reversed", i)
	}
}

func TestVectorsHashChain(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.HashChain)
	var chain []Entry
	prev := ""
	for i, c := range v.HashChain {
		op, err := ParseOp(c.Operation)
		require.NoError(t, err)
		ts := Timestamp{Wall: c.Wall, Logical: c.Logic, Node: c.Node}
		require.Equal(t, prev, c.PreviousHash, "vector %d links to the one before", i)
		require.Equal(t, c.HashInput, string(HashInput(c.Collection, c.Key, op, ts, c.PreviousHash)), "vector %d hash input", i)
		require.Equal(t, c.Hash, ComputeHash(c.Collection, c.Key, op, ts, c.PreviousHash), "vector %d hash", i)

		e := Entry{Collection: c.Collection, Key: c.Key, Op: op, Stamp: ts, Data: []byte(`{"payload":"not hashed"}`)}
		e.Seal(prev)
		require.Equal(t, c.Hash, e.Hash)
		require.True(t, e.VerifyHash())
		chain = append(chain, e)
		prev = c.Hash
	}
	require.Equal(t, -1, VerifyChain("", chain))
}
