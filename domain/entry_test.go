package domain

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseOp(t *testing.T) {
	for s, want := range map[string]Op{"Put": OpPut, "put": OpPut, "PUT": OpPut, "Delete": OpDelete, "delete": OpDelete} {
		got, err := ParseOp(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	_, err := ParseOp("upsert")
	require.Equal(t, CodeSync, CodeOf(err))
	require.Equal(t, "Put", OpPut.String())
	require.Equal(t, "Delete", OpDelete.String())
}

func sealedChain(n int) []Entry {
	var chain []Entry
	prev := ""
	for i := range n {
		e := Entry{Collection: "c", Key: "k", Op: Op(i % 2), Stamp: Timestamp{Wall: int64(100 + i), Node: "a"}}
		e.Seal(prev)
		prev = e.Hash
		chain = append(chain, e)
	}
	return chain
}

func TestVerifyChain(t *testing.T) {
	chain := sealedChain(5)
	require.Equal(t, -1, VerifyChain("", chain))
	require.Equal(t, -1, VerifyChain("", nil))
	require.Equal(t, -1, VerifyChain(chain[1].Hash, chain[2:]), "a chain may start mid-way")
	require.Equal(t, 0, VerifyChain("wrong", chain))

	cases := map[string]func(c []Entry){
		"tampered key":   func(c []Entry) { c[2].Key = "other" },
		"tampered stamp": func(c []Entry) { c[2].Stamp.Logical++ },
		"tampered op":    func(c []Entry) { c[2].Op = 1 - c[2].Op },
		"tampered hash":  func(c []Entry) { c[2].Hash = c[1].Hash },
		"broken link": func(c []Entry) {
			c[2].PrevHash = c[0].Hash
			c[2].Hash = ComputeHash("c", "k", c[2].Op, c[2].Stamp, c[2].PrevHash)
		},
		"missing entry": func(c []Entry) { copy(c[2:], c[3:]) },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := sealedChain(5)
			mutate(c)
			require.Equal(t, 2, VerifyChain("", c))
		})
	}

	// The payload is not part of the hash (PROTOCOL.md v5).
	c := sealedChain(3)
	c[1].Data = []byte(`{"changed":true}`)
	require.Equal(t, -1, VerifyChain("", c))
}

func TestEntryHelpers(t *testing.T) {
	e := Entry{Collection: "col", Key: "key", Op: OpPut, Data: []byte(`{"a":1}`), Stamp: Timestamp{Wall: 1, Node: "node"}}
	require.Equal(t, "node", e.Author())
	require.Greater(t, e.Size(), len(e.Data)+len(e.Collection)+len(e.Key))
	d := DocumentFromEntry(&e)
	require.Equal(t, Document{Collection: "col", Key: "key", Data: e.Data, Stamp: e.Stamp}, d)
	e.Op = OpDelete
	d = DocumentFromEntry(&e)
	require.True(t, d.Deleted)
	require.Nil(t, d.Data)
}

func TestChunkByBytes(t *testing.T) {
	es := chainOf("a", 1, 10, "")
	sz := es[1].Size() // the first entry, with no previous hash, is smaller
	chunks := ChunkBySize(es, 3*sz)
	require.Len(t, chunks, 4)
	total := 0
	for _, c := range chunks {
		require.LessOrEqual(t, EntriesSize(c), int64(3*sz))
		total += len(c)
	}
	require.Equal(t, 10, total)
	require.Len(t, ChunkBySize(es[:1], 1), 1, "an entry larger than the cap still goes alone")
}
